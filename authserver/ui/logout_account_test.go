package ui

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// formFields returns the named inputs and buttons of a form.
func formFields(f *html.Node) map[string]string {
	out := map[string]string{}
	for _, el := range findAll(f, func(d *html.Node) bool {
		return d.Type == html.ElementNode && (d.DataAtom == atom.Input || d.DataAtom == atom.Button)
	}) {
		if name := attrOr(el, "name"); name != "" {
			out[name] = attrOr(el, "value")
		}
	}
	return out
}

func TestRenderLogoutPage(t *testing.T) {
	r := newTestRenderer(t, Branding{ProductName: "Acme ID"}, "")
	base := Base{CSSURL: "/ui/gatehouse.css?v=test"}
	tests := []struct {
		name  string
		page  LogoutPage
		check func(t *testing.T, doc *html.Node, body string)
	}{
		{
			name: "asked by an app",
			page: LogoutPage{Base: base, FormAction: "/logout", LogoutRequest: "sealed", CSRFToken: "tok",
				User: UserView{Name: "Alice", Username: "alice", Email: "alice@example.com"}, ClientName: "Photos",
				ClientLogoURI: "https://photos.example/logo.png"},
			check: func(t *testing.T, doc *html.Node, body string) {
				if got := textOf(elements(doc, atom.H1)[0]); got != "Sign out of Acme ID?" {
					t.Errorf("h1 = %q", got)
				}
				if !strings.Contains(body, "<strong>Photos</strong> asked to sign you out") {
					t.Error("the asking app is not named")
				}
				if !strings.Contains(textOf(doc), "alice@example.com") {
					t.Error("the account is not shown")
				}
				forms := elements(doc, atom.Form)
				if len(forms) != 1 || attrOr(forms[0], "method") != "post" || attrOr(forms[0], "action") != "/logout" {
					t.Fatalf("want one POST form to /logout")
				}
				f := formFields(forms[0])
				if f["lr"] != "sealed" || f["csrf"] != "tok" || len(f) != 2 {
					t.Errorf("form fields = %v", f)
				}
			},
		},
		{
			name: "hostile values are escaped",
			page: LogoutPage{Base: base, FormAction: "/logout", LogoutRequest: `"><x`, CSRFToken: "tok",
				User: UserView{Name: xss}, ClientName: xss, ClientLogoURI: "javascript:alert(1)"},
			check: func(t *testing.T, doc *html.Node, body string) {
				if strings.Contains(body, "<script>alert") || !strings.Contains(body, escapedXSS) {
					t.Error("names are not escaped")
				}
				if n := len(elements(doc, atom.Img)); n != 0 {
					t.Errorf("a javascript: logo was rendered as %d <img>", n)
				}
				if f := formFields(elements(doc, atom.Form)[0]); f["lr"] != `"><x` {
					t.Errorf("lr = %q", f["lr"])
				}
			},
		},
		{
			name: "nobody and no app",
			page: LogoutPage{Base: base, FormAction: "/logout"},
			check: func(t *testing.T, doc *html.Node, body string) {
				if n := len(byClass(doc, "gh-account")); n != 0 {
					t.Error("an empty account box was shown")
				}
				if n := len(byClass(doc, "gh-subtitle")); n != 0 {
					t.Error("an app was named although none asked")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, doc, body := render(t, r, http.StatusOK, tc.page)
			checkPageBasics(t, doc, body, "en")
			tc.check(t, doc, body)
		})
	}
}

func TestRenderAccountAppsPage(t *testing.T) {
	r := newTestRenderer(t, Branding{ProductName: "Acme ID"}, "")
	base := Base{CSSURL: "/ui/gatehouse.css?v=test"}
	day := time.Date(2031, time.March, 14, 23, 30, 0, 0, time.FixedZone("x", 3*3600))
	apps := []AppView{
		{ClientID: "photos", Name: "Photos", LogoURI: "https://photos.example/logo.png", ClientURI: "https://www.photos.example/",
			Scopes: []ScopeView{{Name: "openid"}, {Name: "email"}}, GrantedAt: day, LastUsedAt: day.Add(48 * time.Hour)},
		{ClientID: "cli", Scopes: []ScopeView{{Name: "offline_access"}}, GrantedAt: day},
	}
	tests := []struct {
		name  string
		page  AccountAppsPage
		check func(t *testing.T, doc *html.Node, body string)
	}{
		{
			name: "two apps",
			page: AccountAppsPage{Base: base, FormAction: "/account/apps", CSRFToken: "tok", Apps: apps,
				User: UserView{Username: "alice"}, SignOutAction: "/logout", SignOutRequest: "sealed"},
			check: func(t *testing.T, doc *html.Node, body string) {
				items := byClass(doc, "gh-app")
				if len(items) != 2 {
					t.Fatalf("want 2 apps, got %d", len(items))
				}
				first := textOf(items[0])
				for _, want := range []string{"Photos", "photos.example", "Allowed on 14 March 2031", "Last used on 16 March 2031",
					ScopeDescription("openid"), ScopeDescription("email")} {
					if !strings.Contains(first, want) {
						t.Errorf("first app lacks %q: %q", want, first)
					}
				}
				// A nameless app shows its id; a never-used one says so.
				second := textOf(items[1])
				for _, want := range []string{"cli", "Not used yet", ScopeDescription("offline_access")} {
					if !strings.Contains(second, want) {
						t.Errorf("second app lacks %q: %q", want, second)
					}
				}
				forms := elements(doc, atom.Form)
				if len(forms) != 3 {
					t.Fatalf("want a revoke form per app and a sign-out form, got %d forms", len(forms))
				}
				for i, id := range []string{"photos", "cli"} {
					f := formFields(forms[i])
					if attrOr(forms[i], "method") != "post" || attrOr(forms[i], "action") != "/account/apps" ||
						f["client_id"] != id || f["csrf"] != "tok" || f["action"] != "revoke" {
						t.Errorf("revoke form %d: %v", i, f)
					}
				}
				if f := formFields(forms[2]); attrOr(forms[2], "action") != "/logout" || f["lr"] != "sealed" || f["csrf"] != "tok" {
					t.Errorf("sign-out form: %v", f)
				}
				if n := len(elements(doc, atom.H2)); n != 2 {
					t.Errorf("want an h2 per app, got %d", n)
				}
			},
		},
		{
			name: "no apps",
			page: AccountAppsPage{Base: base, FormAction: "/account/apps", CSRFToken: "tok", SignOutAction: "/logout"},
			check: func(t *testing.T, doc *html.Node, body string) {
				if !strings.Contains(textOf(doc), english.text["account.empty"]) {
					t.Error("no empty-state message")
				}
				if n := len(elements(doc, atom.Form)); n != 1 {
					t.Errorf("want only the sign-out form, got %d forms", n)
				}
			},
		},
		{
			name: "hostile values are escaped",
			page: AccountAppsPage{Base: base, FormAction: "/account/apps", CSRFToken: "tok",
				Apps: []AppView{{ClientID: `"><x`, Name: xss, LogoURI: "javascript:alert(1)", ClientURI: "javascript:alert(1)",
					Scopes: []ScopeView{{Name: xss}}}}},
			check: func(t *testing.T, doc *html.Node, body string) {
				if strings.Contains(body, "<script>alert") || !strings.Contains(body, escapedXSS) {
					t.Error("values are not escaped")
				}
				if n := len(elements(doc, atom.Img)) + len(elements(doc, atom.A)); n != 0 {
					t.Errorf("javascript: URLs rendered as %d elements", n)
				}
				if f := formFields(elements(doc, atom.Form)[0]); f["client_id"] != `"><x` {
					t.Errorf("client_id = %q", f["client_id"])
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, doc, body := render(t, r, http.StatusOK, tc.page)
			checkPageBasics(t, doc, body, "en")
			tc.check(t, doc, body)
		})
	}
}
