// Package ui renders Gatehouse's end-user pages: sign-in, consent, error,
// signed-out, sign-out confirmation and the connected-apps account page.
//
// The pages are html/template templates embedded in the binary, styled by
// one stylesheet and free of JavaScript, inline styles and third-party
// resources, so they work under a strict Content-Security-Policy such as
//
//	default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'
//
// The configured primary color reaches the stylesheet as CSS custom
// properties generated once by New. An operator may replace any template or
// the stylesheet with a file of the same name in an override directory;
// everything is parsed and trial-rendered by New, so a broken override stops
// the server at startup rather than at a user's sign-in.
//
// Every user-visible string lives in messages.go.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

//go:embed templates/*.html assets/gatehouse.css
var embedded embed.FS

// Names of the files an override directory may contain.
const (
	layoutFile    = "layout.html"
	partialsFile  = "partials.html"
	loginFile     = "login.html"
	consentFile   = "consent.html"
	errorFile     = "error.html"
	signedOutFile = "signed_out.html"
	logoutFile    = "logout.html"
	accountFile   = "account_apps.html"
	// CSSFile is the stylesheet's file name, embedded and in an override
	// directory.
	CSSFile = "gatehouse.css"
)

// pageFiles are the templates rendered as pages; each is parsed together
// with layoutFile and partialsFile.
var pageFiles = []string{loginFile, consentFile, errorFile, signedOutFile, logoutFile, accountFile}

// Branding is the operator's look of the pages.
type Branding struct {
	ProductName  string // default "Gatehouse"
	LogoURL      string // optional; https or a path
	PrimaryColor string // optional "#rrggbb"/"#rgb"; default a calm blue
}

const defaultProductName = "Gatehouse"

// normalize fills defaults and validates b.
func (b Branding) normalize() (Branding, rgb, error) {
	b.ProductName = strings.TrimSpace(b.ProductName)
	if b.ProductName == "" {
		b.ProductName = defaultProductName
	}
	b.LogoURL = strings.TrimSpace(b.LogoURL)
	if b.LogoURL != "" {
		if err := checkLogoURL(b.LogoURL); err != nil {
			return b, rgb{}, fmt.Errorf("ui: branding logo URL: %w", err)
		}
	}
	b.PrimaryColor = strings.TrimSpace(b.PrimaryColor)
	if b.PrimaryColor == "" {
		b.PrimaryColor = defaultPrimary
	}
	c, err := parseHexColor(b.PrimaryColor)
	if err != nil {
		return b, rgb{}, fmt.Errorf("ui: branding primary color: %w", err)
	}
	b.PrimaryColor = c.hex()
	return b, c, nil
}

// checkLogoURL accepts an absolute https URL or a path on this server.
func checkLogoURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "" && u.Host == "" && u.Path != "" && !strings.HasPrefix(s, "//"):
		return nil
	}
	return fmt.Errorf("%q must be an https URL or a path", s)
}

// Renderer renders the pages. It is safe for concurrent use.
type Renderer struct {
	branding Branding
	css      []byte
	cssHash  string
	// pages maps a language tag, then a page file name, to its template.
	pages map[string]map[string]*template.Template
}

// New parses the templates and builds the stylesheet. overrideDir, if not
// empty, is a directory whose files replace the embedded ones of the same
// name (layout.html, partials.html, login.html, consent.html, error.html,
// signed_out.html, logout.html, account_apps.html, gatehouse.css). An error
// names the file at fault.
func New(b Branding, overrideDir string) (*Renderer, error) {
	b, primary, err := b.normalize()
	if err != nil {
		return nil, err
	}
	src, err := loadSources(overrideDir)
	if err != nil {
		return nil, err
	}

	css := src[CSSFile]
	full := newPalette(primary).css() + "\n/* Stylesheet: " + css.origin + " */\n" + css.text
	sum := sha256.Sum256([]byte(full))
	r := &Renderer{
		branding: b,
		css:      []byte(full),
		cssHash:  hex.EncodeToString(sum[:6]),
		pages:    make(map[string]map[string]*template.Template, len(catalogs)),
	}

	langs := make([]string, 0, len(catalogs))
	for lang := range catalogs {
		langs = append(langs, lang)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		set, err := parsePages(src, catalogs[lang])
		if err != nil {
			return nil, err
		}
		r.pages[lang] = set
	}
	if err := r.selfCheck(src); err != nil {
		return nil, err
	}
	return r, nil
}

// source is the text of one template or stylesheet and where it came from.
type source struct {
	text   string
	origin string // "embedded login.html" or the override file's path
}

// loadSources reads the embedded files, then the overrides.
func loadSources(overrideDir string) (map[string]source, error) {
	src := make(map[string]source)
	for _, name := range append([]string{layoutFile, partialsFile, CSSFile}, pageFiles...) {
		p := path.Join("templates", name)
		if name == CSSFile {
			p = path.Join("assets", name)
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("ui: embedded %s: %w", name, err)
		}
		src[name] = source{text: string(b), origin: "embedded " + name}
	}
	if overrideDir == "" {
		return src, nil
	}

	entries, err := os.ReadDir(overrideDir)
	if err != nil {
		return nil, fmt.Errorf("ui: override directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(overrideDir, name)
		if _, known := src[name]; !known {
			if strings.HasSuffix(name, ".html") {
				return nil, fmt.Errorf("ui: override %s: unknown template file name (want one of %s)",
					p, strings.Join(append([]string{layoutFile, partialsFile}, pageFiles...), ", "))
			}
			continue // logos and other files may live beside the overrides
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("ui: override %s: %w", p, err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("ui: override %s: not valid UTF-8", p)
		}
		src[name] = source{text: string(b), origin: p}
	}
	return src, nil
}

// parsePages parses the layout, the partials and every page with the
// functions of c.
func parsePages(src map[string]source, c *catalog) (map[string]*template.Template, error) {
	layout := src[layoutFile]
	base, err := template.New(layoutFile).Funcs(c.funcs()).Parse(layout.text)
	if err != nil {
		return nil, fmt.Errorf("ui: parsing %s: %w", layout.origin, err)
	}
	partials := src[partialsFile]
	if _, err := base.New(partialsFile).Parse(partials.text); err != nil {
		return nil, fmt.Errorf("ui: parsing %s: %w", partials.origin, err)
	}
	set := make(map[string]*template.Template, len(pageFiles))
	for _, name := range pageFiles {
		page := src[name]
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("ui: parsing %s: %w", page.origin, err)
		}
		if t, err = t.New(name).Parse(page.text); err != nil {
			return nil, fmt.Errorf("ui: parsing %s: %w", page.origin, err)
		}
		set[name] = t
	}
	return set, nil
}

// selfCheck renders every page with full and with empty sample data, so that
// template errors which only show at execution (a misspelt field, a missing
// "content" block) stop New instead of a user's request.
func (r *Renderer) selfCheck(src map[string]source) error {
	for _, p := range samplePages() {
		name := p.templateName()
		for lang := range r.pages {
			p := withBase(p, func(b *Base) { b.Lang = lang })
			if _, err := r.render(p); err != nil {
				return fmt.Errorf("ui: checking %s (with %s and %s): %w",
					src[name].origin, src[layoutFile].origin, src[partialsFile].origin, err)
			}
		}
	}
	return nil
}

// samplePages returns every page type twice: with all fields set, and empty.
func samplePages() []Page {
	b := Base{Title: "Title", CSSURL: "/gatehouse.css"}
	return []Page{
		LoginPage{
			Base: b, FormAction: "/login", AuthRequest: "ar", CSRFToken: "csrf",
			Username: "alice", Error: "Error", ClientName: "App", ClientLogoURI: "https://app.example/logo.png",
		},
		LoginPage{},
		ConsentPage{
			Base: b, FormAction: "/consent", AuthRequest: "ar", CSRFToken: "csrf",
			Client: ClientView{
				Name: "App", LogoURI: "https://app.example/logo.png", ClientURI: "https://app.example/",
				PolicyURI: "https://app.example/privacy", TOSURI: "https://app.example/terms", FirstParty: true,
			},
			Scopes:           []ScopeView{{Name: "openid"}, {Name: "custom", Description: "Custom"}},
			User:             UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"},
			SwitchAccountURL: "/switch",
		},
		ConsentPage{},
		ErrorPage{Base: b, Heading: "Heading", Message: "Message", Hint: "Hint", Code: "invalid_request",
			Detail: "Detail", Action: Link{URL: "/logout", Label: "Sign out"}},
		ErrorPage{},
		SignedOutPage{Base: b, Continue: Link{URL: "/", Label: "Sign in again"}, AppReturn: "https://app.example/bye?state=s"},
		SignedOutPage{},
		LogoutPage{
			Base: b, FormAction: "/logout", LogoutRequest: "lr", CSRFToken: "csrf",
			User:       UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"},
			ClientName: "App", ClientLogoURI: "https://app.example/logo.png",
		},
		LogoutPage{},
		AccountAppsPage{
			Base: b, FormAction: "/account/apps", CSRFToken: "csrf",
			User: UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"},
			Apps: []AppView{
				{ClientID: "app", Name: "App", LogoURI: "https://app.example/logo.png", ClientURI: "https://app.example/",
					Scopes:    []ScopeView{{Name: "openid"}, {Name: "custom", Description: "Custom"}},
					GrantedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), LastUsedAt: time.Date(2030, 1, 3, 3, 4, 5, 0, time.UTC)},
				{ClientID: "other"},
			},
			SignOutAction: "/logout", SignOutRequest: "lr",
		},
		AccountAppsPage{},
	}
}

// CSS returns the stylesheet bytes (static + branding vars), and a short
// content hash for cache busting. The bytes are shared: do not modify them.
func (r *Renderer) CSS() (css []byte, hash string) { return r.css, r.cssHash }

// Branding returns the normalised branding: defaults filled in and the
// primary color as lower-case "#rrggbb".
func (r *Renderer) Branding() Branding { return r.branding }

// Render executes page into a buffer first (so a template error never yields a
// half-written page), then writes Content-Type text/html; charset=utf-8, the
// status, and the body. It does not set security headers (the caller does).
//
// On error nothing has been written to w, so the caller can still send a
// plain error response. A status of 0 means 200.
func (r *Renderer) Render(w http.ResponseWriter, status int, page Page) error {
	body, err := r.render(page)
	if err != nil {
		return err
	}
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// render returns the HTML of page.
func (r *Renderer) render(page Page) ([]byte, error) {
	if page == nil || !isPage(page) {
		return nil, fmt.Errorf("ui: cannot render %T", page)
	}
	lang := "en"
	data := withBase(page, func(b *Base) {
		b.Branding = r.branding
		lang, b.Lang = resolveLang(b.Lang)
	})
	set := r.pages[lang]
	t := set[page.templateName()]
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("ui: rendering %s: %w", page.templateName(), err)
	}
	return buf.Bytes(), nil
}

// Page is implemented by the page data types below.
type Page interface{ templateName() string }

// Base is what every page carries.
type Base struct {
	Lang     string   // default "en"
	Title    string   // optional override of the page's default title
	CSSURL   string   // where the stylesheet is served, set by the caller
	Branding Branding // filled by Render from the Renderer
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
}

// ConsentPage asks the signed-in user to allow an app the requested scopes.
// The form posts "ar", "csrf" and "decision" ("allow" or "deny").
type ConsentPage struct {
	Base
	FormAction       string
	AuthRequest      string
	CSRFToken        string
	Client           ClientView
	Scopes           []ScopeView
	User             UserView
	SwitchAccountURL string // "Not you?" link
}

// ClientView is what the consent page shows about the app. The URIs come from
// client registration; the templates drop unsafe schemes such as javascript:.
type ClientView struct {
	Name, LogoURI, ClientURI, PolicyURI, TOSURI string
	FirstParty                                  bool
}

// ScopeView is one requested scope. An empty Description is filled from the
// message catalog (see ScopeDescription).
type ScopeView struct{ Name, Description string }

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
}

// AppView is one connected app. A zero LastUsedAt means it has not
// received tokens since the user allowed it.
type AppView struct {
	ClientID, Name, LogoURI, ClientURI string
	Scopes                             []ScopeView
	GrantedAt, LastUsedAt              time.Time
}

func (LoginPage) templateName() string       { return loginFile }
func (ConsentPage) templateName() string     { return consentFile }
func (ErrorPage) templateName() string       { return errorFile }
func (SignedOutPage) templateName() string   { return signedOutFile }
func (LogoutPage) templateName() string      { return logoutFile }
func (AccountAppsPage) templateName() string { return accountFile }

// isPage reports whether p is a page value or a non-nil pointer to one.
func isPage(p Page) bool {
	switch p := p.(type) {
	case LoginPage, ConsentPage, ErrorPage, SignedOutPage, LogoutPage, AccountAppsPage:
		return true
	case *LoginPage:
		return p != nil
	case *ConsentPage:
		return p != nil
	case *ErrorPage:
		return p != nil
	case *SignedOutPage:
		return p != nil
	case *LogoutPage:
		return p != nil
	case *AccountAppsPage:
		return p != nil
	}
	return false
}

// withBase returns a copy of p (dereferenced if a pointer, so the caller's
// value is never modified) after applying fn to its Base.
func withBase(p Page, fn func(*Base)) Page {
	switch p := p.(type) {
	case LoginPage:
		fn(&p.Base)
		return p
	case *LoginPage:
		c := *p
		fn(&c.Base)
		return c
	case ConsentPage:
		fn(&p.Base)
		return p
	case *ConsentPage:
		c := *p
		fn(&c.Base)
		return c
	case ErrorPage:
		fn(&p.Base)
		return p
	case *ErrorPage:
		c := *p
		fn(&c.Base)
		return c
	case SignedOutPage:
		fn(&p.Base)
		return p
	case *SignedOutPage:
		c := *p
		fn(&c.Base)
		return c
	case LogoutPage:
		fn(&p.Base)
		return p
	case *LogoutPage:
		c := *p
		fn(&c.Base)
		return c
	case AccountAppsPage:
		fn(&p.Base)
		return p
	case *AccountAppsPage:
		c := *p
		fn(&c.Base)
		return c
	}
	panic(errors.New("ui: unknown page type"))
}

// initial returns the first letter of s, upper-cased, for a monogram.
func initial(s string) string {
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return ""
}

// initials returns up to two initials of a person's name ("Ada Lovelace" →
// "AL"), or of the part of an email address before the "@".
func initials(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "@")
	words := strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '.' || r == '_' || r == '-'
	})
	var out string
	for _, w := range words {
		if i := initial(w); i != "" {
			out += i
		}
		if utf8.RuneCountInString(out) == 2 {
			break
		}
	}
	if out == "" {
		return "?"
	}
	return out
}

// webURL reports whether s is worth rendering as a link or image source: an
// absolute http(s) URL or a path. Anything else (javascript:, data:, mailto:)
// would be neutralised by html/template anyway; this keeps the element off
// the page instead of showing a dead link or a broken image.
func webURL(s string) bool {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || s == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "":
		return u.Host == "" && u.Path != "" && !strings.HasPrefix(s, "//")
	}
	return false
}

// returnLink is a link to a destination outside this server, with the
// destination as the user should read it.
type returnLink struct {
	URL  template.URL
	Host string
}

// appLink vets an app's post-logout address for the signed-out page: an
// absolute http(s) URL, labelled with its host (and port) exactly as the
// browser will contact it (internationalised names in their ASCII form,
// so a look-alike name cannot pass for another), or a native app's
// private-use scheme (RFC 8252 §7.1: reverse-domain, so it contains a
// dot), labelled with the scheme. Anything else gives nil: no link.
func appLink(s string) *returnLink {
	u, err := url.Parse(s)
	if err != nil || s == "" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") || !utf8.ValidString(s) {
		return nil
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "http" || scheme == "https":
		name := u.Hostname()
		if name == "" {
			return nil
		}
		if net.ParseIP(name) == nil {
			ascii, err := idna.Lookup.ToASCII(name)
			if err != nil || ascii == "" {
				return nil
			}
			name = ascii
		} else if strings.Contains(name, ":") {
			name = "[" + name + "]"
		}
		if p := u.Port(); p != "" {
			name += ":" + p
		}
		u.Host = name // the link goes exactly where its label says
		return &returnLink{URL: template.URL(u.String()), Host: name}
	case strings.Contains(scheme, ".") && u.Host == "":
		// The scheme has passed url.Parse (letters, digits, "+-."), and
		// no dangerous scheme (javascript:, data:, vbscript:) has a dot.
		return &returnLink{URL: template.URL(u.String()), Host: scheme}
	}
	return nil
}

// host returns the host name of an absolute URL, without "www.", or "".
func host(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	return strings.TrimPrefix(u.Hostname(), "www.")
}
