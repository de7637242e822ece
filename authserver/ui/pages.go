package ui

import (
	"html/template"
	"reflect"
	"time"
)

// Page is implemented by the page data types below: each embeds Base and
// names its template file in templates/.
//
// A new page is a template, a data type declaring it with templateName,
// and an entry in registered: nothing else in the package lists pages.
type Page interface{ templateName() string }

// Base is what every page carries.
type Base struct {
	Lang     string   // default "en"
	Title    string   // optional override of the page's default title
	CSSURL   string   // where the stylesheet is served, set by the caller
	Branding Branding // filled by Render from the Renderer
	// Refresh, when set, is a same-site path the page moves on to at once
	// (a meta refresh: no script).
	Refresh string
}

// LoginPage asks for a username and password. The form posts "ar", "csrf",
// "username" and "password".
type LoginPage struct {
	Base
	FormAction    string // POST target URL
	AuthRequest   string // opaque hidden field "ar"
	CSRFToken     string // hidden field "csrf"
	Username      string // prefill (login_hint or last attempt)
	Error         string // already-localised message, e.g. wrong credentials
	ClientName    string // "to continue to <ClientName>" (optional)
	ClientLogoURI string
	// ForgotURL links to the "forgot password" page (optional: only when
	// the server can send email).
	ForgotURL string
	// Providers are the "Sign in with ..." buttons, one per upstream
	// identity provider; PasswordOff hides the password form.
	Providers   []LoginProvider
	PasswordOff bool
}

// LoginProvider is one upstream identity provider's button.
type LoginProvider struct {
	Name    string // display name
	URL     string // where the button leads (a GET that starts the sign-in)
	IconURL string // optional https image
}

func (LoginPage) templateName() string { return "login.html" }

// SecondFactorPage asks a user who gave their password for a code from
// their authenticator app or a recovery code. The form posts "ar",
// "pending", "csrf" and "code".
type SecondFactorPage struct {
	Base
	FormAction  string
	AuthRequest string
	Pending     string // opaque hidden field "pending": the sign-in so far
	CSRFToken   string
	ClientName  string
	Error       string // already-localised
}

func (SecondFactorPage) templateName() string { return "second_factor.html" }

// EnrolFactorPage sets up an authenticator app: a QR code and the key to
// type by hand, then a first code to confirm it ("action" confirm, with
// "factor" and "code"). With RecoveryCodes set it shows them, once, and a
// button to go on ("action" continue). Every form posts "ar", "pending"
// and "csrf" too (empty on the account page).
type EnrolFactorPage struct {
	Base
	FormAction  string
	AuthRequest string
	Pending     string
	CSRFToken   string
	// Required: the app being signed in to demands a second factor.
	Required  bool
	FactorID  string
	QRImage   template.URL // a data: URL of the PNG rendered by the server
	ManualKey string
	Error     string
	// RecoveryCodes are shown once, after a confirmed enrolment or when
	// the user asks for new ones.
	RecoveryCodes []string
	// DoneURL is where the account page's "done" goes; empty in a sign-in,
	// which continues with a form instead.
	DoneURL string
}

func (EnrolFactorPage) templateName() string { return "enrol_factor.html" }

// TwoStepView is the account page's two-step verification section.
type TwoStepView struct {
	On           bool // a confirmed factor exists
	RecoveryLeft int
	FormAction   string // POST target: "action" start, remove or recovery
}

// ForgotPasswordPage asks for the email address of an account whose
// password is forgotten; the form posts "csrf" and "email". With Sent set
// it says a link is on its way if the address belongs to an account,
// whether or not it does.
type ForgotPasswordPage struct {
	Base
	FormAction string
	CSRFToken  string
	Email      string
	Error      string // already-localised
	Sent       bool
	SignInURL  string
}

func (ForgotPasswordPage) templateName() string { return "forgot_password.html" }

// ConsentPage asks the signed-in user to allow an app the requested scopes.
// The form posts "ar", "csrf" and "decision" ("allow" or "deny").
type ConsentPage struct {
	Base
	FormAction       string
	AuthRequest      string
	CSRFToken        string
	Client           ClientView
	Scopes           []ScopeView
	Resources        []ResourceView // the services the app will reach (RFC 8707)
	User             UserView
	SwitchAccountURL string // "Not you?" link
}

func (ConsentPage) templateName() string { return "consent.html" }

// DevicePage is the user's side of the device authorization grant (RFC
// 8628 §3.3) at /device. Step "enter" (or empty) asks for the code shown on
// the device (the form posts "csrf", "user_code" and decision=lookup);
// "confirm" shows the code, the app and what it asks for, and posts
// "csrf", "user_code" and "decision" ("allow" or "deny"); "approved" and
// "denied" tell the user to go back to the device.
type DevicePage struct {
	Base
	FormAction string
	CSRFToken  string
	Step       string
	UserCode   string // as typed (enter) or XXXX-XXXX (confirm)
	Error      string // already-localised
	Client     ClientView
	Scopes     []ScopeView
	Resources  []ResourceView
	User       UserView
}

func (DevicePage) templateName() string { return "device.html" }

// ClientView is what the consent page shows about the app. The URIs come from
// client registration; the templates drop unsafe schemes such as javascript:.
type ClientView struct {
	Name, LogoURI, ClientURI, PolicyURI, TOSURI string
	FirstParty                                  bool
	// SoftwareID and SoftwareVersion are what the app says it is (RFC
	// 7591 §2), shown as its claim.
	SoftwareID, SoftwareVersion string
	// MetadataHost is the host an app's client metadata document came
	// from, when its client id is that document's URL.
	MetadataHost string
}

// ScopeView is one requested scope. An empty Description is filled from the
// message catalog (see ScopeDescription).
type ScopeView struct{ Name, Description string }

// ResourceView is a service (protected resource) the app asks to reach
// on the user's behalf: its URI, and its display name when the operator
// gave one.
type ResourceView struct{ Name, URI string }

// UserView is the account the user is signed in with.
type UserView struct{ Name, Username, Email string }

// ErrorPage explains, in plain words, why a request cannot go on, and what
// to do next. ProblemText fills Heading, Message and Hint from the catalog.
type ErrorPage struct {
	Base
	Heading string // e.g. "This sign-in link is not valid"
	Message string // plain words, what happened
	Hint    string // what to do next
	Code    string // optional technical code, e.g. "invalid_request", shown small
	Detail  string // optional technical detail for the app's developer, shown small
	Action  Link   // optional next step, shown as a button (e.g. "Sign out")
}

func (ErrorPage) templateName() string { return "error.html" }

// Link is a link to show as a button. It is left out when URL is empty or
// not a web URL.
type Link struct{ URL, Label string }

// SignedOutPage confirms that the user has signed out.
type SignedOutPage struct {
	Base
	Continue Link // optional, e.g. "Sign in again" back to the site
	// AppReturn is where the app that asked for the sign-out wants the
	// user to go next (its post_logout_redirect_uri, state included), when
	// the server would not send them there unasked. It is offered as a
	// link labelled with the destination's host, so the user sees where it
	// leads. Left out unless it is an absolute http(s) URL or a native
	// app's reverse-domain scheme (see appLink).
	AppReturn string
}

func (SignedOutPage) templateName() string { return "signed_out.html" }

// LogoutPage asks the signed-in user to confirm signing out, when a
// sign-out request cannot be tied to their session (OIDC RP-Initiated
// Logout §2). The form posts "lr" and "csrf".
type LogoutPage struct {
	Base
	FormAction    string
	LogoutRequest string // opaque hidden field "lr"
	CSRFToken     string // hidden field "csrf"
	User          UserView
	ClientName    string // the app that asked to sign out, when known
	ClientLogoURI string
}

func (LogoutPage) templateName() string { return "logout.html" }

// AccountAppsPage lists the apps the signed-in user has allowed to access
// their account. Each app has a form posting "csrf", "client_id" and
// "action" ("revoke") to FormAction; the sign-out form posts "lr" and
// "csrf" to SignOutAction.
type AccountAppsPage struct {
	Base
	FormAction     string
	CSRFToken      string
	User           UserView
	Apps           []AppView
	SignOutAction  string
	SignOutRequest string // opaque hidden field "lr" of the sign-out form
	// SettingsURL links to the account settings page (optional).
	SettingsURL string
}

func (AccountAppsPage) templateName() string { return "account_apps.html" }

// AccountSettingsPage is the signed-in user's own account: their profile,
// their password and their sessions. Every form posts "csrf" and "action"
// to FormAction: "profile" with "name"; "password" with "current",
// "password" and "confirm"; "end_session" with "session"; "end_others".
type AccountSettingsPage struct {
	Base
	FormAction string
	CSRFToken  string
	User       UserView
	// Editable: the account is kept in the store, so its name and
	// password can be changed here (configured accounts cannot).
	Editable bool
	// EmailEditable: the email can be changed here too, confirmed by a
	// link sent to the new address (the server can send email). The
	// profile form then also posts "email".
	EmailEditable bool
	MinLength     int
	Sessions      []SessionView
	Notice        string // already-localised confirmation of the last change
	Error         string // already-localised problem with the last change
	// ErrorIn is the form the error is about: "profile" or "password".
	ErrorIn string
	// Identities are the upstream accounts (providers) linked to this one.
	Identities     []IdentityView
	AppsURL        string
	SignOutAction  string
	SignOutRequest string
	// TwoStep is the two-step verification section; nil when the server
	// offers none.
	TwoStep *TwoStepView
}

func (AccountSettingsPage) templateName() string { return "account_settings.html" }

// ContinuePage is shown after a sign-in at an upstream provider: it moves
// on (Base.Refresh) and offers the same step as a link.
type ContinuePage struct {
	Base
	ContinueURL string
}

func (ContinuePage) templateName() string { return "continue.html" }

// IdentityView is a linked upstream account on the account page.
type IdentityView struct {
	Provider   string // the provider's display name
	Email      string // what the provider last said, may be empty
	LinkedAt   time.Time
	LastUsedAt time.Time // zero until used after linking
}

// VerifyEmailPage confirms a new email address from the link sent to it.
// The form posts "token" and "csrf"; with Done set it says the address
// is confirmed.
type VerifyEmailPage struct {
	Base
	FormAction string
	Token      string
	CSRFToken  string
	Email      string // the address being confirmed
	Username   string
	Done       bool
	AccountURL string
}

func (VerifyEmailPage) templateName() string { return "verify_email.html" }

// SessionView is one of the user's live sessions.
type SessionView struct {
	ID              string // opaque, posted back as "session"
	Browser, System string // from its User-Agent; "" when unknown
	SignedInAt      time.Time
	Current         bool // the session showing the page
}

// HomePage is the issuer's root: it names the service, for a person who
// typed its address, and points to the connected-apps page and, for app
// developers, the OpenID Connect discovery document.
type HomePage struct {
	Base
	AccountURL   string // the connected-apps page
	DiscoveryURL string // /.well-known/openid-configuration
}

func (HomePage) templateName() string { return "home.html" }

// ChoosePasswordPage lets the holder of an invitation or password reset
// link choose a password. The form posts "token", "csrf", "password" and
// "confirm". With Done set it confirms the change instead and links to
// SignInURL.
type ChoosePasswordPage struct {
	Base
	FormAction string
	Token      string // hidden field "token": the link's single-use token
	CSRFToken  string
	Username   string
	Invite     bool // an invitation (a new account) rather than a reset
	MinLength  int
	Error      string // already-localised message
	Done       bool
	SignInURL  string // where to sign in once Done
}

func (ChoosePasswordPage) templateName() string { return "choose_password.html" }

// AppView is one connected app. A zero LastUsedAt means it has not
// received tokens since the user allowed it.
type AppView struct {
	ClientID, Name, LogoURI, ClientURI string
	Scopes                             []ScopeView
	Resources                          []ResourceView // the services it may reach
	GrantedAt, LastUsedAt              time.Time
}

// registered lists every page type, with sample data that sets every
// field. New parses the template of each, and trial-renders it with this
// sample and with the zero value (selfCheck); an override directory may
// replace exactly these templates (and the layout, partials and
// stylesheet).
var registered = []Page{
	LoginPage{
		Base: sampleBase, FormAction: "/login", AuthRequest: "ar", CSRFToken: "csrf",
		Username: "alice", Error: "Error", ClientName: "App", ClientLogoURI: "https://app.example/logo.png",
		ForgotURL: "/account/forgot-password",
		Providers: []LoginProvider{{Name: "Corp SSO", URL: "/federation/corp/start?ar=ar", IconURL: "https://corp.example/icon.svg"}},
	},
	ContinuePage{Base: Base{Title: "Title", CSSURL: "/gatehouse.css", Refresh: "/federation/continue?ar=ar"}, ContinueURL: "/federation/continue?ar=ar"},
	ForgotPasswordPage{Base: sampleBase, FormAction: "/account/forgot-password", CSRFToken: "csrf", Email: "a@example.com",
		Error: "Error", Sent: true, SignInURL: "/account/apps"},
	ConsentPage{
		Base: sampleBase, FormAction: "/consent", AuthRequest: "ar", CSRFToken: "csrf",
		Client: ClientView{
			Name: "App", LogoURI: "https://app.example/logo.png", ClientURI: "https://app.example/",
			PolicyURI: "https://app.example/privacy", TOSURI: "https://app.example/terms", FirstParty: true,
			SoftwareID: "app-sdk", SoftwareVersion: "1.0", MetadataHost: "app.example",
		},
		Scopes:           []ScopeView{{Name: "openid"}, {Name: "custom", Description: "Custom"}},
		Resources:        []ResourceView{{Name: "API", URI: "https://api.example/mcp"}, {URI: "https://other.example/"}},
		User:             UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"},
		SwitchAccountURL: "/switch",
	},
	ErrorPage{Base: sampleBase, Heading: "Heading", Message: "Message", Hint: "Hint", Code: "invalid_request",
		Detail: "Detail", Action: Link{URL: "/logout", Label: "Sign out"}},
	SignedOutPage{Base: sampleBase, Continue: Link{URL: "/", Label: "Sign in again"}, AppReturn: "https://app.example/bye?state=s"},
	LogoutPage{
		Base: sampleBase, FormAction: "/logout", LogoutRequest: "lr", CSRFToken: "csrf",
		User:       UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"},
		ClientName: "App", ClientLogoURI: "https://app.example/logo.png",
	},
	AccountAppsPage{
		Base: sampleBase, FormAction: "/account/apps", CSRFToken: "csrf",
		User: UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"},
		Apps: []AppView{
			{ClientID: "app", Name: "App", LogoURI: "https://app.example/logo.png", ClientURI: "https://app.example/",
				Scopes:    []ScopeView{{Name: "openid"}, {Name: "custom", Description: "Custom"}},
				Resources: []ResourceView{{Name: "API", URI: "https://api.example/mcp"}},
				GrantedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), LastUsedAt: time.Date(2030, 1, 3, 3, 4, 5, 0, time.UTC)},
			{ClientID: "other"},
		},
		SignOutAction: "/logout", SignOutRequest: "lr", SettingsURL: "/account",
	},
	AccountSettingsPage{
		Base: sampleBase, FormAction: "/account", CSRFToken: "csrf",
		User:     UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"},
		Editable: true, EmailEditable: true, MinLength: 12,
		Sessions: []SessionView{
			{ID: "s1", Browser: "Firefox", System: "Linux", SignedInAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Current: true},
			{ID: "s2", Browser: "Safari", SignedInAt: time.Date(2030, 1, 1, 3, 4, 5, 0, time.UTC)},
			{ID: "s3"},
		},
		Identities: []IdentityView{{Provider: "Corp SSO", Email: "alice@corp.example", LinkedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
			LastUsedAt: time.Date(2030, 1, 3, 3, 4, 5, 0, time.UTC)}},
		Notice: "Notice", Error: "Error", ErrorIn: "password", AppsURL: "/account/apps",
		SignOutAction: "/logout", SignOutRequest: "lr",
		TwoStep: &TwoStepView{On: true, RecoveryLeft: 9, FormAction: "/account/two-step"},
	},
	SecondFactorPage{Base: sampleBase, FormAction: "/login/factor", AuthRequest: "ar", Pending: "p", CSRFToken: "csrf",
		ClientName: "App", Error: "Error"},
	EnrolFactorPage{Base: sampleBase, FormAction: "/login/factor", AuthRequest: "ar", Pending: "p", CSRFToken: "csrf",
		Required: true, FactorID: "fac_1", QRImage: "data:image/png;base64,iVBORw0KGgo=", ManualKey: "ABCD EFGH",
		Error: "Error", RecoveryCodes: []string{"abcd-efgh-jkmn-pqrs"}, DoneURL: "/account"},
	HomePage{Base: sampleBase, AccountURL: "/account/apps", DiscoveryURL: "/.well-known/openid-configuration"},
	VerifyEmailPage{Base: sampleBase, FormAction: "/account/verify-email", Token: "gh_vem_x", CSRFToken: "csrf",
		Email: "alice@example.com", Username: "alice", Done: true, AccountURL: "/account"},
	ChoosePasswordPage{Base: sampleBase, FormAction: "/account/choose-password", Token: "gh_inv_x", CSRFToken: "csrf",
		Username: "alice", Invite: true, MinLength: 12, Error: "Error", Done: true, SignInURL: "/account/apps"},
	DevicePage{Base: sampleBase, FormAction: "/device", CSRFToken: "csrf", Step: "confirm", UserCode: "BCDF-GHJK", Error: "Error",
		Client:    ClientView{Name: "TV App", FirstParty: false},
		Scopes:    []ScopeView{{Name: "openid"}, {Name: "custom", Description: "Custom"}},
		Resources: []ResourceView{{Name: "API", URI: "https://api.example/mcp"}, {URI: "https://other.example/"}},
		User:      UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"}},
}

// sampleBase is the Base of the registered samples.
var sampleBase = Base{Title: "Title", CSSURL: "/gatehouse.css"}

// samplePages returns every registered page twice: with all fields set,
// and empty.
func samplePages() []Page {
	out := make([]Page, 0, 2*len(registered))
	for _, p := range registered {
		out = append(out, p, reflect.Zero(reflect.TypeOf(p)).Interface().(Page))
	}
	return out
}

// withBase returns a copy of p (dereferenced if a pointer, so the caller's
// value is never modified) after applying fn to its Base. It returns nil
// when p is a nil pointer or not a struct embedding Base.
func withBase(p Page, fn func(*Base)) Page {
	v := reflect.ValueOf(p)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	if f, ok := v.Type().FieldByName("Base"); !ok || !f.Anonymous || f.Type != reflect.TypeFor[Base]() {
		return nil
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	fn(c.FieldByName("Base").Addr().Interface().(*Base))
	out, _ := c.Interface().(Page) // nil if only *T has templateName
	return out
}

// PNGDataURL is a data: URL of a PNG image given in base64, for an image
// the server renders (the QR code of an enrolment); the pages' CSP allows
// data: images.
func PNGDataURL(b64 string) template.URL { return template.URL("data:image/png;base64," + b64) }
