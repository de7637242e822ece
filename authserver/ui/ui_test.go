package ui

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ---- HTML helpers ----

func parseHTML(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return doc
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if match(d) {
			out = append(out, d)
		}
	}
	return out
}

func elements(n *html.Node, a atom.Atom) []*html.Node {
	return findAll(n, func(d *html.Node) bool { return d.Type == html.ElementNode && d.DataAtom == a })
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attrOr(n *html.Node, key string) string { v, _ := attr(n, key); return v }

func hasClass(n *html.Node, class string) bool {
	return slices.Contains(strings.Fields(attrOr(n, "class")), class)
}

func byClass(n *html.Node, class string) []*html.Node {
	return findAll(n, func(d *html.Node) bool { return d.Type == html.ElementNode && hasClass(d, class) })
}

func byID(n *html.Node, id string) *html.Node {
	els := findAll(n, func(d *html.Node) bool { return d.Type == html.ElementNode && attrOr(d, "id") == id })
	if len(els) != 1 {
		return nil
	}
	return els[0]
}

// textOf returns the text content of n with runs of white space collapsed.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// inputNamed returns the <input> with the given name attribute.
func inputNamed(t *testing.T, doc *html.Node, name string) *html.Node {
	t.Helper()
	els := findAll(doc, func(d *html.Node) bool {
		return d.Type == html.ElementNode && d.DataAtom == atom.Input && attrOr(d, "name") == name
	})
	if len(els) != 1 {
		t.Fatalf("want one input named %q, got %d", name, len(els))
	}
	return els[0]
}

// ---- rendering helpers ----

func newTestRenderer(t *testing.T, b Branding, dir string) *Renderer {
	t.Helper()
	r, err := New(b, dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func render(t *testing.T, r *Renderer, status int, p Page) (*httptest.ResponseRecorder, *html.Node, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := r.Render(rec, status, p); err != nil {
		t.Fatalf("Render: %v", err)
	}
	body := rec.Body.String()
	return rec, parseHTML(t, body), body
}

// checkPageBasics asserts what every page must satisfy.
func checkPageBasics(t *testing.T, doc *html.Node, body string, wantLang string) {
	t.Helper()

	htmls := elements(doc, atom.Html)
	if len(htmls) != 1 || attrOr(htmls[0], "lang") != wantLang {
		t.Errorf("<html lang>: want %q", wantLang)
	}
	if !strings.HasPrefix(body, "<!DOCTYPE html>") {
		t.Errorf("body does not start with the doctype: %.40q", body)
	}

	// CSP: no scripts, no inline styles, nothing loaded from elsewhere
	// except images.
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Error("page contains <script")
	}
	if n := len(elements(doc, atom.Style)); n > 0 {
		t.Errorf("page contains %d <style> elements", n)
	}
	for _, el := range findAll(doc, func(d *html.Node) bool { return d.Type == html.ElementNode }) {
		for _, a := range el.Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has a %s attribute", el.Data, a.Key)
			}
			if (a.Key == "href" || a.Key == "src" || a.Key == "action") &&
				strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("<%s %s=%q>", el.Data, a.Key, a.Val)
			}
		}
	}
	links := elements(doc, atom.Link)
	if len(links) != 1 || attrOr(links[0], "rel") != "stylesheet" || attrOr(links[0], "href") != "/ui/gatehouse.css?v=test" {
		t.Errorf("want exactly one stylesheet link to the CSSURL")
	}

	// Landmarks and headings.
	if n := len(elements(doc, atom.Main)); n != 1 {
		t.Errorf("want one <main>, got %d", n)
	}
	if h1 := elements(doc, atom.H1); len(h1) != 1 || textOf(h1[0]) == "" {
		t.Errorf("want one non-empty <h1>, got %d", len(h1))
	}
	level := 0
	for _, h := range findAll(doc, func(d *html.Node) bool {
		return d.Type == html.ElementNode && len(d.Data) == 2 && d.Data[0] == 'h' && d.Data[1] >= '1' && d.Data[1] <= '6'
	}) {
		l := int(h.Data[1] - '0')
		if l > level+1 {
			t.Errorf("heading <%s> skips a level after h%d", h.Data, level)
		}
		level = l
	}
	if title := elements(doc, atom.Title); len(title) != 1 || textOf(title[0]) == "" {
		t.Error("want one non-empty <title>")
	}

	// Every visible form control is labelled, every image has alt text,
	// every new-tab link is cut off from the opener and the referrer.
	for _, in := range findAll(doc, func(d *html.Node) bool {
		return d.Type == html.ElementNode && (d.DataAtom == atom.Input || d.DataAtom == atom.Select || d.DataAtom == atom.Textarea)
	}) {
		if attrOr(in, "type") == "hidden" {
			continue
		}
		id := attrOr(in, "id")
		labels := findAll(doc, func(d *html.Node) bool {
			return d.Type == html.ElementNode && d.DataAtom == atom.Label && id != "" && attrOr(d, "for") == id
		})
		if len(labels) != 1 || textOf(labels[0]) == "" {
			t.Errorf("input %q (id %q) has no <label for>", attrOr(in, "name"), id)
		}
	}
	for _, img := range elements(doc, atom.Img) {
		if alt, ok := attr(img, "alt"); !ok || strings.TrimSpace(alt) == "" {
			t.Errorf("<img src=%q> has no alt text", attrOr(img, "src"))
		}
	}
	for _, a := range elements(doc, atom.A) {
		if attrOr(a, "target") == "" {
			continue
		}
		rel := strings.Fields(attrOr(a, "rel"))
		if !slices.Contains(rel, "noopener") || !slices.Contains(rel, "noreferrer") {
			t.Errorf("link to %q opens a new tab without rel=\"noopener noreferrer\"", attrOr(a, "href"))
		}
	}
	for _, b := range elements(doc, atom.Button) {
		if textOf(b) == "" {
			t.Error("button without text")
		}
	}

	// Template and formatting mistakes.
	for _, bad := range []string{"%!", "ZgotmplZ", "<no value>"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

const xss = `<script>alert(1)</script>`

var escapedXSS = `&lt;script&gt;alert(1)&lt;/script&gt;`

func TestRenderPages(t *testing.T) {
	r := newTestRenderer(t, Branding{ProductName: "Acme ID", PrimaryColor: "#0a7"}, "")
	base := Base{CSSURL: "/ui/gatehouse.css?v=test"}

	fullClient := ClientView{
		Name:      "Photo Printer",
		LogoURI:   "https://printer.example/logo.png",
		ClientURI: "https://www.printer.example/",
		PolicyURI: "https://printer.example/privacy",
		TOSURI:    "https://printer.example/terms",
	}
	scopes := []ScopeView{{Name: "openid"}, {Name: "email"}, {Name: "offline_access"}, {Name: "photos.read", Description: "See your photos"}}
	user := UserView{Name: "Ada Lovelace", Username: "ada", Email: "ada@example.com"}

	tests := []struct {
		name   string
		page   Page
		status int
		lang   string
		check  func(t *testing.T, doc *html.Node, body string)
	}{
		{
			name:   "login",
			status: http.StatusOK,
			page: LoginPage{
				Base: base, FormAction: "/authorize/login?x=1&y=2", AuthRequest: "ar-123", CSRFToken: "csrf-456",
				ClientName: "Photo Printer", ClientLogoURI: "https://printer.example/logo.png",
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				forms := elements(doc, atom.Form)
				if len(forms) != 1 || attrOr(forms[0], "method") != "post" || attrOr(forms[0], "action") != "/authorize/login?x=1&y=2" {
					t.Errorf("login form: want one POST form to the FormAction")
				}
				if v := attrOr(inputNamed(t, doc, "ar"), "value"); v != "ar-123" {
					t.Errorf("ar = %q", v)
				}
				if v := attrOr(inputNamed(t, doc, "csrf"), "value"); v != "csrf-456" {
					t.Errorf("csrf = %q", v)
				}
				u, p := inputNamed(t, doc, "username"), inputNamed(t, doc, "password")
				for _, c := range []struct {
					el                     *html.Node
					id, typ, autocomplete  string
					autofocus, hasDescribe bool
				}{
					{u, "username", "text", "username", true, false},
					{p, "password", "password", "current-password", false, false},
				} {
					if attrOr(c.el, "id") != c.id || attrOr(c.el, "type") != c.typ || attrOr(c.el, "autocomplete") != c.autocomplete {
						t.Errorf("input %s: id=%q type=%q autocomplete=%q", c.id, attrOr(c.el, "id"), attrOr(c.el, "type"), attrOr(c.el, "autocomplete"))
					}
					if _, ok := attr(c.el, "required"); !ok {
						t.Errorf("input %s not required", c.id)
					}
					if _, ok := attr(c.el, "autofocus"); ok != c.autofocus {
						t.Errorf("input %s autofocus = %v", c.id, ok)
					}
					if _, ok := attr(c.el, "aria-invalid"); ok {
						t.Errorf("input %s is aria-invalid without an error", c.id)
					}
				}
				if len(findAll(doc, func(d *html.Node) bool { return attrOr(d, "role") == "alert" })) != 0 {
					t.Error("alert shown without an error")
				}
				btn := elements(doc, atom.Button)
				if len(btn) != 1 || attrOr(btn[0], "type") != "submit" || !hasClass(btn[0], "gh-button-primary") || textOf(btn[0]) != "Sign in" {
					t.Error("want one primary submit button \"Sign in\"")
				}
				if got := textOf(byClass(doc, "gh-subtitle")[0]); got != "to continue to Photo Printer" {
					t.Errorf("subtitle = %q", got)
				}
				imgs := elements(doc, atom.Img)
				if len(imgs) != 1 || attrOr(imgs[0], "src") != "https://printer.example/logo.png" || attrOr(imgs[0], "alt") != "Photo Printer logo" {
					t.Errorf("want the client logo with alt text, got %d images", len(imgs))
				}
				if got := textOf(elements(doc, atom.Title)[0]); got != "Sign in · Acme ID" {
					t.Errorf("title = %q", got)
				}
			},
		},
		{
			name:   "login with error and prefilled username",
			status: http.StatusUnauthorized,
			page: &LoginPage{
				Base: base, FormAction: "/login", AuthRequest: "a", CSRFToken: "c",
				Username: "ada", Error: "Incorrect username or password.",
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				alerts := findAll(doc, func(d *html.Node) bool { return attrOr(d, "role") == "alert" })
				if len(alerts) != 1 || textOf(alerts[0]) != "Incorrect username or password." {
					t.Fatalf("want one role=alert with the error, got %d", len(alerts))
				}
				alertID := attrOr(alerts[0], "id")
				if alertID == "" || byID(doc, alertID) != alerts[0] {
					t.Errorf("the alert needs a unique id for aria-describedby, got %q", alertID)
				}
				u, p := inputNamed(t, doc, "username"), inputNamed(t, doc, "password")
				if attrOr(u, "value") != "ada" {
					t.Errorf("username prefill = %q", attrOr(u, "value"))
				}
				if _, ok := attr(p, "autofocus"); !ok {
					t.Error("password should get the focus when the username is known")
				}
				if _, ok := attr(u, "autofocus"); ok {
					t.Error("username has autofocus although prefilled")
				}
				for _, in := range []*html.Node{u, p} {
					if attrOr(in, "aria-invalid") != "true" || attrOr(in, "aria-describedby") != alertID {
						t.Errorf("input %s not marked invalid and described by the alert", attrOr(in, "name"))
					}
				}
				if n := len(elements(doc, atom.Img)); n != 0 {
					t.Errorf("no logo configured, got %d <img>", n)
				}
				if got := textOf(byClass(doc, "gh-subtitle")[0]); got != "Use your Acme ID account" {
					t.Errorf("subtitle = %q", got)
				}
			},
		},
		{
			name:   "login escapes user input",
			status: http.StatusOK,
			page: LoginPage{
				Base: base, AuthRequest: `"><img src=x>`, Username: `"onfocus="x`, Error: xss, ClientName: xss,
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				if !strings.Contains(body, escapedXSS) {
					t.Error("client name / error not HTML-escaped")
				}
				if attrOr(inputNamed(t, doc, "ar"), "value") != `"><img src=x>` {
					t.Error("ar value not preserved through escaping")
				}
				if attrOr(inputNamed(t, doc, "username"), "value") != `"onfocus="x` {
					t.Error("username value not preserved through escaping")
				}
			},
		},
		{
			name:   "consent third party with links",
			status: http.StatusOK,
			page: ConsentPage{
				Base: base, FormAction: "/consent", AuthRequest: "ar-1", CSRFToken: "csrf-1",
				Client: fullClient, Scopes: scopes, User: user, SwitchAccountURL: "/login?prompt=login&ar=ar-1",
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				if v := attrOr(inputNamed(t, doc, "ar"), "value"); v != "ar-1" {
					t.Errorf("ar = %q", v)
				}
				if v := attrOr(inputNamed(t, doc, "csrf"), "value"); v != "csrf-1" {
					t.Errorf("csrf = %q", v)
				}
				btns := elements(doc, atom.Button)
				if len(btns) != 2 {
					t.Fatalf("want 2 buttons, got %d", len(btns))
				}
				want := []struct{ value, text, class string }{
					{"deny", "Deny", "gh-button-secondary"},
					{"allow", "Allow", "gh-button-primary"},
				}
				for i, w := range want {
					b := btns[i]
					if attrOr(b, "type") != "submit" || attrOr(b, "name") != "decision" || attrOr(b, "value") != w.value ||
						textOf(b) != w.text || !hasClass(b, w.class) {
						t.Errorf("button %d: want %s submit decision=%s with %s", i, w.text, w.value, w.class)
					}
				}
				if got := textOf(elements(doc, atom.H1)[0]); got != "Allow Photo Printer to access your account?" {
					t.Errorf("h1 = %q", got)
				}
				if got := textOf(elements(doc, atom.H2)[0]); got != "Photo Printer wants to:" {
					t.Errorf("h2 = %q", got)
				}
				var items []string
				for _, li := range elements(byClass(doc, "gh-scopes")[0], atom.Li) {
					items = append(items, textOf(li))
				}
				wantItems := []string{ScopeDescription("openid"), ScopeDescription("email"), ScopeDescription("offline_access"), "See your photos"}
				if !slices.Equal(items, wantItems) {
					t.Errorf("scopes = %q, want %q", items, wantItems)
				}
				badge := byClass(doc, "gh-badge")
				if len(badge) != 1 || !hasClass(badge[0], "gh-badge-third-party") || textOf(badge[0]) != "Third-party app" {
					t.Error("want the third-party badge")
				}
				if len(byClass(doc, "gh-note")) != 1 {
					t.Error("want the trust note for a third-party app")
				}
				acct := byClass(doc, "gh-account")
				if len(acct) != 1 || !strings.Contains(textOf(acct[0]), "Signed in as Ada Lovelace ada@example.com") {
					t.Errorf("account box = %q", textOf(acct[0]))
				}
				sw := byClass(doc, "gh-account-switch")
				if len(sw) != 1 || attrOr(sw[0], "href") != "/login?prompt=login&ar=ar-1" || textOf(sw[0]) != "Not you?" {
					t.Error("want the \"Not you?\" link")
				}
				hrefs := map[string]string{}
				for _, a := range elements(doc, atom.A) {
					hrefs[textOf(a)] = attrOr(a, "href")
				}
				for text, href := range map[string]string{
					"Photo Printer privacy policy":   "https://printer.example/privacy",
					"Photo Printer terms of service": "https://printer.example/terms",
					"printer.example":                "https://www.printer.example/",
				} {
					if hrefs[text] != href {
						t.Errorf("link %q: href %q, want %q", text, hrefs[text], href)
					}
				}
				imgs := elements(doc, atom.Img)
				if len(imgs) != 1 || attrOr(imgs[0], "src") != fullClient.LogoURI || attrOr(imgs[0], "alt") != "Photo Printer logo" {
					t.Error("want the client logo")
				}
			},
		},
		{
			name:   "consent first party without links",
			status: http.StatusOK,
			page: ConsentPage{
				Base: base, FormAction: "/consent", AuthRequest: "a", CSRFToken: "c",
				Client: ClientView{Name: "Acme Notes", FirstParty: true},
				Scopes: []ScopeView{{Name: "openid"}, {Name: "profile"}},
				User:   UserView{Username: "ada"},
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				badge := byClass(doc, "gh-badge")
				if len(badge) != 1 || !hasClass(badge[0], "gh-badge-first-party") || textOf(badge[0]) != "Made by Acme ID" {
					t.Error("want the first-party badge")
				}
				if len(byClass(doc, "gh-note")) != 0 {
					t.Error("trust note shown for a first-party app")
				}
				if n := len(elements(doc, atom.A)); n != 0 {
					t.Errorf("no policy, terms, client URI or switch URL: want no links, got %d", n)
				}
				if n := len(byClass(doc, "gh-legal")); n != 0 {
					t.Error("legal links block shown without links")
				}
				if n := len(elements(doc, atom.Img)); n != 0 {
					t.Errorf("no logos configured, got %d <img>", n)
				}
				if got := textOf(byClass(doc, "gh-app-mark")[0]); got != "A" {
					t.Errorf("app monogram = %q", got)
				}
				if got := textOf(byClass(doc, "gh-account")[0]); got != "AD Signed in as ada" && got != "A Signed in as ada" {
					t.Errorf("account box = %q", got)
				}
			},
		},
		{
			name:   "consent only terms link",
			status: http.StatusOK,
			page: ConsentPage{
				Base: base, Client: ClientView{Name: "X", TOSURI: "https://x.example/tos"}, User: user,
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				legal := byClass(doc, "gh-legal")
				if len(legal) != 1 {
					t.Fatal("want the legal links block")
				}
				links := elements(legal[0], atom.A)
				if len(links) != 1 || attrOr(links[0], "href") != "https://x.example/tos" {
					t.Error("want only the terms link")
				}
			},
		},
		{
			name:   "consent escapes and sanitises client data",
			status: http.StatusOK,
			page: ConsentPage{
				Base: base,
				Client: ClientView{
					Name: xss, LogoURI: "javascript:alert(1)", ClientURI: "javascript:alert(1)",
					PolicyURI: "javascript:alert(1)", TOSURI: "https://ok.example/?q=<b>",
				},
				Scopes: []ScopeView{{Name: xss}},
				User:   UserView{Name: xss, Email: xss + "@x"},
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				if !strings.Contains(body, escapedXSS) {
					t.Error("client name not HTML-escaped")
				}
				if !strings.Contains(body, "<strong>"+escapedXSS+"</strong>") {
					t.Error("client name in bold messages not escaped")
				}
				li := elements(byClass(doc, "gh-scopes")[0], atom.Li)
				if len(li) != 1 || textOf(li[0]) != "Use the “"+xss+"” permission" {
					t.Errorf("unknown scope fallback = %q", textOf(li[0]))
				}
				// javascript: URLs are dropped, not rendered neutralised.
				if n := len(elements(doc, atom.Img)); n != 0 {
					t.Errorf("javascript: logo rendered as %d <img>", n)
				}
				links := elements(doc, atom.A)
				if len(links) != 1 || attrOr(links[0], "href") != "https://ok.example/?q=%3cb%3e" {
					for _, a := range links {
						t.Logf("link %q", attrOr(a, "href"))
					}
					t.Error("want only the terms link, with its URL escaped")
				}
			},
		},
		{
			name:   "error",
			status: http.StatusBadRequest,
			lang:   "en-GB",
			page: ErrorPage{
				Base:    Base{Lang: "en-GB", CSSURL: base.CSSURL},
				Heading: "This sign-in link is not valid", Message: "The app sent you here with a broken link.",
				Hint: "Go back to the app and try again.", Code: "invalid_request",
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				if got := textOf(elements(doc, atom.H1)[0]); got != "This sign-in link is not valid" {
					t.Errorf("h1 = %q", got)
				}
				if got := textOf(elements(doc, atom.Title)[0]); got != "This sign-in link is not valid · Acme ID" {
					t.Errorf("title = %q", got)
				}
				texts := byClass(doc, "gh-text")
				if len(texts) != 2 || textOf(texts[0]) != "The app sent you here with a broken link." || textOf(texts[1]) != "Go back to the app and try again." {
					t.Error("want message then hint")
				}
				code := elements(doc, atom.Code)
				if len(code) != 1 || textOf(code[0]) != "invalid_request" {
					t.Error("want the error code in <code>")
				}
			},
		},
		{
			name:   "error defaults",
			status: http.StatusInternalServerError,
			page:   ErrorPage{Base: base},
			check: func(t *testing.T, doc *html.Node, body string) {
				if got := textOf(elements(doc, atom.H1)[0]); got != english.text["error.heading"] {
					t.Errorf("h1 = %q", got)
				}
				if len(byClass(doc, "gh-text")) != 2 {
					t.Error("want default message and hint")
				}
				if n := len(elements(doc, atom.Code)); n != 0 {
					t.Error("code shown although empty")
				}
			},
		},
		{
			name:   "error with detail and action",
			status: http.StatusForbidden,
			page: ErrorPage{
				Base: base, Heading: "No access", Message: "Not allowed.", Hint: "Sign out.", Code: "access_denied",
				Detail: "the app (client_id) is not registered " + xss, Action: Link{URL: "/.gatehouse/logout", Label: "Sign out"},
			},
			check: func(t *testing.T, doc *html.Node, body string) {
				links := byClass(doc, "gh-button")
				if len(links) != 1 || links[0].DataAtom != atom.A || attrOr(links[0], "href") != "/.gatehouse/logout" || textOf(links[0]) != "Sign out" {
					t.Error("want the action as one link styled as a button")
				}
				detail := byClass(doc, "gh-code-detail")
				if len(detail) != 1 || textOf(detail[0]) != "Details: the app (client_id) is not registered "+xss {
					t.Error("want the detail below the code")
				}
				if strings.Contains(body, xss) || !strings.Contains(body, escapedXSS) {
					t.Error("detail not escaped")
				}
			},
		},
		{
			name:   "error action with an unsafe URL is left out",
			status: http.StatusBadRequest,
			page:   ErrorPage{Base: base, Heading: "H", Action: Link{URL: "javascript:alert(1)", Label: "Go"}},
			check: func(t *testing.T, doc *html.Node, body string) {
				if n := len(byClass(doc, "gh-button")); n != 0 || strings.Contains(body, "javascript") {
					t.Error("unsafe action rendered")
				}
				if n := len(byClass(doc, "gh-code")); n != 0 {
					t.Error("empty technical footer rendered")
				}
			},
		},
		{
			name:   "signed out with a way back",
			status: http.StatusOK,
			page:   SignedOutPage{Base: base, Continue: Link{URL: "/", Label: "Sign in again"}},
			check: func(t *testing.T, doc *html.Node, body string) {
				links := byClass(doc, "gh-button")
				if len(links) != 1 || attrOr(links[0], "href") != "/" || textOf(links[0]) != "Sign in again" {
					t.Error("want the Sign in again link")
				}
			},
		},
		{
			name:   "signed out with the app's address offered as a labelled link",
			status: http.StatusOK,
			page:   SignedOutPage{Base: base, AppReturn: "https://evil.example/phish?a=1&state=s+1"},
			check: func(t *testing.T, doc *html.Node, body string) {
				links := byClass(doc, "gh-button")
				if len(links) != 1 || attrOr(links[0], "href") != "https://evil.example/phish?a=1&state=s+1" ||
					textOf(links[0]) != "Continue to evil.example" {
					t.Errorf("want one link labelled with the host, got %d:\n%s", len(links), body)
				}
				if !strings.Contains(textOf(doc), "asked to send you to another site") {
					t.Error("no note saying the link leaves this site")
				}
			},
		},
		{
			name:   "signed out: the way back and the app's address together",
			status: http.StatusOK,
			page:   SignedOutPage{Base: base, Continue: Link{URL: "/", Label: "Sign in again"}, AppReturn: "http://127.0.0.1:8080/bye"},
			check: func(t *testing.T, doc *html.Node, body string) {
				links := byClass(doc, "gh-button")
				if len(links) != 2 || textOf(links[0]) != "Continue to 127.0.0.1:8080" || textOf(links[1]) != "Sign in again" {
					t.Errorf("want both links, got %d:\n%s", len(links), body)
				}
			},
		},
		{
			name:   "signed out without an app address: no note, no link",
			status: http.StatusOK,
			page:   SignedOutPage{Base: base},
			check: func(t *testing.T, doc *html.Node, body string) {
				if n := len(byClass(doc, "gh-button")); n != 0 || strings.Contains(body, "another site") {
					t.Errorf("%d links, or the note, on a plain signed-out page", n)
				}
			},
		},
		{
			name:   "signed out with title override",
			status: http.StatusOK,
			page:   SignedOutPage{Base: Base{CSSURL: base.CSSURL, Title: "Goodbye"}},
			check: func(t *testing.T, doc *html.Node, body string) {
				if got := textOf(elements(doc, atom.Title)[0]); got != "Goodbye · Acme ID" {
					t.Errorf("title = %q", got)
				}
				if got := textOf(elements(doc, atom.H1)[0]); got != "You're signed out" {
					t.Errorf("h1 = %q", got)
				}
				if !strings.Contains(textOf(doc), "You have signed out of your Acme ID account.") {
					t.Error("want the signed-out message with the product name")
				}
			},
		},
		{
			name:   "unknown language falls back to English",
			status: http.StatusOK,
			lang:   "en",
			page:   SignedOutPage{Base: Base{Lang: "de-CH", CSSURL: base.CSSURL}},
		},
		{
			name:   "malformed language",
			status: http.StatusOK,
			lang:   "en",
			page:   SignedOutPage{Base: Base{Lang: `en" onload="x`, CSSURL: base.CSSURL}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, doc, body := render(t, r, tc.status, tc.page)
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cl := rec.Header().Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length = %s, body %d", cl, len(body))
			}
			for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Cache-Control"} {
				if rec.Header().Get(h) != "" {
					t.Errorf("Render set %s; security headers are the caller's", h)
				}
			}
			lang := tc.lang
			if lang == "" {
				lang = "en"
			}
			checkPageBasics(t, doc, body, lang)
			if tc.check != nil {
				tc.check(t, doc, body)
			}
		})
	}
}

func TestRenderDoesNotModifyCallerPage(t *testing.T) {
	r := newTestRenderer(t, Branding{}, "")
	p := &LoginPage{Base: Base{Lang: "xx"}}
	if err := r.Render(httptest.NewRecorder(), 0, p); err != nil {
		t.Fatal(err)
	}
	if p.Branding != (Branding{}) || p.Lang != "xx" {
		t.Errorf("Render modified the caller's page: %+v", p.Base)
	}
}

func TestRenderStatusZeroMeansOK(t *testing.T) {
	r := newTestRenderer(t, Branding{}, "")
	rec := httptest.NewRecorder()
	if err := r.Render(rec, 0, SignedOutPage{}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d", rec.Code)
	}
}

func TestRenderRejectsNilPage(t *testing.T) {
	r := newTestRenderer(t, Branding{}, "")
	for _, p := range []Page{nil, (*LoginPage)(nil), (*ConsentPage)(nil), (*ErrorPage)(nil), (*SignedOutPage)(nil)} {
		w := &spyWriter{}
		if err := r.Render(w, http.StatusOK, p); err == nil {
			t.Errorf("Render(%T) succeeded", p)
		}
		if w.touched() {
			t.Errorf("Render(%T) wrote to the response", p)
		}
	}
}

func TestBrandingLogo(t *testing.T) {
	r := newTestRenderer(t, Branding{ProductName: "Acme ID", LogoURL: "/assets/acme.svg"}, "")
	_, doc, _ := render(t, r, http.StatusOK, SignedOutPage{})
	imgs := elements(doc, atom.Img)
	if len(imgs) != 1 || attrOr(imgs[0], "src") != "/assets/acme.svg" || attrOr(imgs[0], "alt") != "Acme ID" {
		t.Fatalf("want the product logo with the product name as alt text")
	}
	if n := len(byClass(doc, "gh-brand-mark")); n != 0 {
		t.Error("monogram shown although a logo is set")
	}

	r = newTestRenderer(t, Branding{}, "")
	_, doc, _ = render(t, r, http.StatusOK, SignedOutPage{})
	if n := len(elements(doc, atom.Img)); n != 0 {
		t.Errorf("no logo configured, got %d <img>", n)
	}
	if got := textOf(byClass(doc, "gh-brand")[0]); got != "G Gatehouse" {
		t.Errorf("brand = %q, want the default product name", got)
	}
}

func TestNewValidatesBranding(t *testing.T) {
	tests := []struct {
		name      string
		b         Branding
		wantErr   string // substring; "" means success
		wantColor string
	}{
		{"defaults", Branding{}, "", defaultPrimary},
		{"rrggbb", Branding{PrimaryColor: "#0055AA"}, "", "#0055aa"},
		{"rgb", Branding{PrimaryColor: "#f0A"}, "", "#ff00aa"},
		{"spaces trimmed", Branding{PrimaryColor: " #123456 "}, "", "#123456"},
		{"named color", Branding{PrimaryColor: "blue"}, "primary color", ""},
		{"no hash", Branding{PrimaryColor: "123456"}, "primary color", ""},
		{"too short", Branding{PrimaryColor: "#12"}, "primary color", ""},
		{"alpha", Branding{PrimaryColor: "#11223344"}, "primary color", ""},
		{"bad digits", Branding{PrimaryColor: "#ggg"}, "primary color", ""},
		{"sign", Branding{PrimaryColor: "#+12345"}, "primary color", ""},
		{"css injection", Branding{PrimaryColor: "#fff;}body{display:none"}, "primary color", ""},
		{"https logo", Branding{LogoURL: "https://cdn.example/logo.svg"}, "", defaultPrimary},
		{"path logo", Branding{LogoURL: "/static/logo.png"}, "", defaultPrimary},
		{"http logo", Branding{LogoURL: "http://cdn.example/logo.svg"}, "logo URL", ""},
		{"javascript logo", Branding{LogoURL: "javascript:alert(1)"}, "logo URL", ""},
		{"protocol-relative logo", Branding{LogoURL: "//cdn.example/logo.svg"}, "logo URL", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.b, "")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := r.Branding().PrimaryColor; got != tc.wantColor {
				t.Errorf("PrimaryColor = %q, want %q", got, tc.wantColor)
			}
			if r.Branding().ProductName != "Gatehouse" {
				t.Errorf("ProductName = %q", r.Branding().ProductName)
			}
		})
	}
}

func TestCSS(t *testing.T) {
	r := newTestRenderer(t, Branding{PrimaryColor: "#0A7"}, "")
	css, hash := r.CSS()
	s := string(css)
	for _, want := range []string{
		"--gh-primary: #00aa77;",
		"--gh-on-primary:",
		"--gh-primary-text:",
		"@media (prefers-color-scheme: dark)",
		".gh-card", // the static part
	} {
		if !strings.Contains(s, want) {
			t.Errorf("CSS lacks %q", want)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(hash) {
		t.Errorf("hash = %q", hash)
	}
	for _, bad := range []string{"@import", "url(http", "//fonts.", "expression("} {
		if strings.Contains(s, bad) {
			t.Errorf("CSS contains %q", bad)
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		t.Error("unbalanced braces in CSS")
	}

	_, hash2 := newTestRenderer(t, Branding{PrimaryColor: "#0A7"}, "").CSS()
	_, hash3 := newTestRenderer(t, Branding{PrimaryColor: "#123456"}, "").CSS()
	if hash2 != hash {
		t.Error("hash not stable")
	}
	if hash3 == hash {
		t.Error("hash does not change with the branding")
	}
}

func TestPaletteContrast(t *testing.T) {
	for _, c := range []string{"#2563eb", "#00aa77", "#ffcc00", "#ffffff", "#000000", "#1e3a8a", "#e11d48", "#7c3aed", "#808080", "#f97316", "#0ea5e9"} {
		t.Run(c, func(t *testing.T) {
			primary, err := parseHexColor(c)
			if err != nil {
				t.Fatal(err)
			}
			p := newPalette(primary)
			for _, th := range []struct {
				name string
				tc   themeColors
				bgs  []rgb
			}{{"light", p.light, lightBackgrounds}, {"dark", p.dark, darkBackgrounds}} {
				if got := contrast(th.tc.onPrimary, th.tc.primary); got < 4.5 {
					t.Errorf("%s: button text contrast %.2f", th.name, got)
				}
				if got := contrast(th.tc.onPrimary, th.tc.hover); got < 4.5 {
					t.Errorf("%s: hovered button text contrast %.2f", th.name, got)
				}
				if got := minContrast(th.tc.text, th.bgs...); got < 4.5 {
					t.Errorf("%s: link text contrast %.2f", th.name, got)
				}
			}
			if got := minContrast(p.dark.primary, darkBackgrounds...); got < 3 {
				t.Errorf("dark: button fill contrast against the page %.2f", got)
			}
			if c == defaultPrimary && (p.light.text != primary || p.dark.primary != primary || p.light.onPrimary != white) {
				t.Errorf("default blue should be used as is: %+v", p)
			}
		})
	}
}

// The static stylesheet's surfaces must be the ones color.go checks the
// branding colors against.
func TestCSSBackgroundsMatchPalette(t *testing.T) {
	css, err := embedded.ReadFile("assets/gatehouse.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	darkAt := strings.Index(s, "@media (prefers-color-scheme: dark)")
	if darkAt < 0 {
		t.Fatal("no dark theme in the stylesheet")
	}
	light, dark := s[:darkAt], s[darkAt:]
	for i, name := range []string{"--gh-bg", "--gh-surface", "--gh-surface-2"} {
		if want := name + ": " + lightBackgrounds[i].hex() + ";"; !strings.Contains(light, want) {
			t.Errorf("light theme lacks %q", want)
		}
		if want := name + ": " + darkBackgrounds[i].hex() + ";"; !strings.Contains(dark, want) {
			t.Errorf("dark theme lacks %q", want)
		}
	}
}

func TestScopeDescription(t *testing.T) {
	tests := []struct{ scope, want string }{
		{"openid", "Confirm your identity"},
		{"profile", "See your name and username"},
		{"email", "See your email address"},
		{"phone", "See your phone number"},
		{"groups", "See the groups you belong to"},
		{"offline_access", "Stay connected when you're not using the app (keeps access until you revoke it)"},
		{"photos:read", "Use the “photos:read” permission"},
		{"", "Use the “” permission"},
		{"100%", "Use the “100%” permission"},
	}
	for _, tc := range tests {
		if got := ScopeDescription(tc.scope); got != tc.want {
			t.Errorf("ScopeDescription(%q) = %q, want %q", tc.scope, got, tc.want)
		}
	}
}

// Every message the embedded templates and the server's Go code use
// exists, and every message exists because something uses it. Go code names
// messages as string literals: ui.Message("id"), ui.ProblemText("id") (which
// uses id.heading, id.message and id.hint), or an id held in a variable
// first, always spelt with one of the prefixes below.
func TestMessagesAreUsed(t *testing.T) {
	tmplRef := regexp.MustCompile(`\{\{-?\s*(?:[^}]*[\s(])?tb?\s+"([^"]+)"`)
	goRef := regexp.MustCompile(`"((?:problem|login\.error|logout\.problem|gate|password\.error|settings\.error|settings\.notice|device\.error|factor\.error|factor\.notice)\.[a-z_]+)"`)
	used := map[string]bool{}
	use := func(where, id string) {
		if _, ok := english.text[id]; ok {
			used[id] = true
			return
		}
		parts := []string{id + ".heading", id + ".message", id + ".hint"}
		for _, p := range parts {
			if _, ok := english.text[p]; !ok {
				t.Errorf("%s uses unknown message %q", where, id)
				return
			}
		}
		for _, p := range parts {
			used[p] = true
		}
	}
	entries, err := embedded.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := embedded.ReadFile("templates/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tmplRef.FindAllStringSubmatch(string(b), -1) {
			use(e.Name(), m[1])
		}
	}
	goFiles, err := filepath.Glob("../*.go")
	if err != nil {
		t.Fatal(err)
	}
	gateFiles, _ := filepath.Glob("../gate/*.go")
	n := 0
	for _, f := range append(goFiles, gateFiles...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goRef.FindAllStringSubmatch(string(b), -1) {
			use(f, m[1])
			n++
		}
	}
	if n < 20 {
		t.Fatalf("found only %d message ids in the server's Go code; is the pattern still right?", n)
	}
	for id := range english.text {
		if !used[id] {
			t.Errorf("message %q is used neither by a template nor by the server", id)
		}
	}
	if got := Message("no.such.message"); got != "no.such.message" {
		t.Errorf("Message of an unknown id = %q", got)
	}
	if got := Message("problem.gate_forbidden.message", "ada@example.com"); got != "You are signed in as ada@example.com, but this account is not allowed here." {
		t.Errorf("Message with an argument = %q", got)
	}
	if p := ProblemText("problem.unknown_client", "Acme ID"); p.Heading == "" || !strings.Contains(p.Message, "Acme ID") || p.Hint == "" {
		t.Errorf("ProblemText = %+v", p)
	}
}

func TestResolveLang(t *testing.T) {
	tests := []struct{ in, key, attr string }{
		{"", "en", "en"},
		{"en", "en", "en"},
		{"EN-us", "en", "EN-us"},
		{"fr", "en", "en"},
		{"x", "en", "en"},
		{"en-", "en", "en"},
		{`en"`, "en", "en"},
		{"1a", "en", "en"},
	}
	for _, tc := range tests {
		if key, attr := resolveLang(tc.in); key != tc.key || attr != tc.attr {
			t.Errorf("resolveLang(%q) = %q, %q; want %q, %q", tc.in, key, attr, tc.key, tc.attr)
		}
	}
}

func TestInitials(t *testing.T) {
	for in, want := range map[string]string{
		"Ada Lovelace": "AL", "ada": "A", "ada.lovelace@example.com": "AL",
		"  émile zola ": "ÉZ", "": "?", "Ada King Lovelace": "AK",
	} {
		if got := initials(in); got != want {
			t.Errorf("initials(%q) = %q, want %q", in, got, want)
		}
	}
}

// ---- overrides ----

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const customLogin = `{{template "layout" .}}
{{define "title"}}Custom sign in{{end}}
{{define "content"}}<h1>Welcome to {{.Branding.ProductName}}</h1>
<form method="post" action="{{.FormAction}}"><input type="hidden" name="ar" value="{{.AuthRequest}}"></form>{{end}}`

func TestOverride(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"login.html":    customLogin,
		CSSFile:         ".custom { color: red; }",
		"logo.png":      "not a template, ignored",
		"notes.txt":     "ignored",
		"README.md":     "ignored",
		"partial.htmlx": "ignored",
	})
	r := newTestRenderer(t, Branding{ProductName: "Acme"}, dir)

	_, doc, body := render(t, r, http.StatusOK, LoginPage{Base: Base{CSSURL: "/ui/gatehouse.css?v=test"}, AuthRequest: "x"})
	if !strings.Contains(body, "<h1>Welcome to Acme</h1>") || !strings.Contains(body, "<title>Custom sign in · Acme</title>") {
		t.Errorf("override login.html not used:\n%s", body)
	}
	checkPageBasics(t, doc, body, "en")

	// Pages without an override keep the embedded template.
	_, doc, _ = render(t, r, http.StatusOK, SignedOutPage{})
	if !strings.Contains(textOf(doc), "You're signed out") {
		t.Error("embedded signed_out.html not used")
	}

	css, _ := r.CSS()
	if !strings.Contains(string(css), ".custom { color: red; }") || strings.Contains(string(css), ".gh-card") {
		t.Error("override CSS does not replace the embedded one")
	}
	if !strings.Contains(string(css), "--gh-primary:") {
		t.Error("branding variables missing from the override CSS")
	}
}

// The account card is one shared block (partials.html): an override of it
// changes the consent, sign-out and connected-apps pages alike.
func TestOverridePartials(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"partials.html": `{{define "account"}}<p class="custom-account">{{.User.Email}}|{{.SwitchURL}}</p>{{end}}`,
	})
	r := newTestRenderer(t, Branding{}, dir)
	user := UserView{Name: "Ada", Email: "ada@example.com"}
	for _, tc := range []struct {
		page Page
		want string
	}{
		{ConsentPage{User: user, SwitchAccountURL: "/login?ar=x"}, "ada@example.com|/login?ar=x"},
		{LogoutPage{User: user}, "ada@example.com|"},
		{AccountAppsPage{User: user}, "ada@example.com|"},
	} {
		_, doc, _ := render(t, r, http.StatusOK, tc.page)
		cards := byClass(doc, "custom-account")
		if len(cards) != 1 || textOf(cards[0]) != tc.want {
			t.Errorf("%T: account card not from the override (want %q)", tc.page, tc.want)
		}
		if n := len(byClass(doc, "gh-account")); n != 0 {
			t.Errorf("%T: embedded account card still rendered", tc.page)
		}
	}
	// A partials override must still define "account".
	_, err := New(Branding{}, writeFiles(t, map[string]string{"partials.html": `{{define "other"}}{{end}}`}))
	if err == nil || !strings.Contains(err.Error(), "partials.html") {
		t.Errorf("partials.html without the account block: err = %v, want one naming the file", err)
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr []string
	}{
		{
			name:    "parse error in a page",
			files:   map[string]string{"consent.html": `{{template "layout" .}}{{define "content"}}{{if .Client}}{{end}`},
			wantErr: []string{"consent.html"},
		},
		{
			name:    "parse error in the layout",
			files:   map[string]string{"layout.html": `{{define "layout"}}<html>{{.Lang}`},
			wantErr: []string{"layout.html"},
		},
		{
			name:    "unknown function",
			files:   map[string]string{"error.html": `{{template "layout" .}}{{define "content"}}{{nosuchfunc .Code}}{{end}}`},
			wantErr: []string{"error.html", "nosuchfunc"},
		},
		{
			name:    "misspelt field",
			files:   map[string]string{"login.html": `{{template "layout" .}}{{define "content"}}{{.UserName}}{{end}}`},
			wantErr: []string{"login.html", "UserName"},
		},
		{
			name:    "unknown message",
			files:   map[string]string{"signed_out.html": `{{template "layout" .}}{{define "content"}}{{t "no.such.message"}}{{end}}`},
			wantErr: []string{"signed_out.html", "no.such.message"},
		},
		{
			name:    "missing layout definition",
			files:   map[string]string{"layout.html": `<html></html>`},
			wantErr: []string{"layout.html"},
		},
		{
			name:    "unknown template file",
			files:   map[string]string{"loginn.html": customLogin},
			wantErr: []string{"loginn.html", "unknown template"},
		},
		{
			name:    "invalid UTF-8",
			files:   map[string]string{"login.html": "\xff\xfe"},
			wantErr: []string{"login.html", "UTF-8"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := New(Branding{}, dir)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the override file's path", err)
			}
		})
	}

	if _, err := New(Branding{}, filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing override directory: err = %v", err)
	}
}

// spyWriter records whether anything reached the response.
type spyWriter struct {
	header      http.Header
	status      int
	body        bytes.Buffer
	wroteHeader bool
}

func (w *spyWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}
func (w *spyWriter) WriteHeader(status int) { w.wroteHeader, w.status = true, status }
func (w *spyWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}
func (w *spyWriter) touched() bool { return w.wroteHeader || w.body.Len() > 0 || len(w.header) > 0 }

// A template that fails half-way through must not leave half a page (with a
// 200) on the wire: Render buffers, and on error writes nothing at all.
func TestRenderErrorWritesNothing(t *testing.T) {
	// This override passes New's trial renders but fails late in the page
	// when the username is "boom", after the layout has been executed.
	dir := writeFiles(t, map[string]string{
		"login.html": `{{template "layout" .}}{{define "content"}}<p>lots of output first</p>` +
			`{{if eq .Username "boom"}}{{.NoSuchField}}{{end}}{{end}}`,
	})
	r := newTestRenderer(t, Branding{}, dir)

	w := &spyWriter{}
	err := r.Render(w, http.StatusOK, LoginPage{Username: "boom"})
	if err == nil {
		t.Fatal("Render succeeded")
	}
	if !strings.Contains(err.Error(), "login.html") {
		t.Errorf("error %q does not name the template", err)
	}
	if w.touched() {
		t.Errorf("Render wrote to the response on error: status %d, %d bytes, headers %v", w.status, w.body.Len(), w.header)
	}

	// The same renderer still renders good requests.
	w = &spyWriter{}
	if err := r.Render(w, http.StatusOK, LoginPage{Username: "ada"}); err != nil {
		t.Fatal(err)
	}
	if w.status != http.StatusOK || !strings.Contains(w.body.String(), "lots of output first") {
		t.Error("good render failed after a bad one")
	}
}

type failingWriter struct{ spyWriter }

func (w *failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestRenderReportsWriteError(t *testing.T) {
	r := newTestRenderer(t, Branding{}, "")
	if err := r.Render(&failingWriter{}, http.StatusOK, SignedOutPage{}); err == nil {
		t.Error("write error not reported")
	}
}

func TestRenderConcurrent(t *testing.T) {
	r := newTestRenderer(t, Branding{}, "")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for _, p := range samplePages() {
				if err := r.Render(httptest.NewRecorder(), http.StatusOK+i%2, p); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// TestWritePreview writes every page and the stylesheet into the directory
// named by GATEHOUSE_UI_PREVIEW_DIR, to open in a browser:
//
//	GATEHOUSE_UI_PREVIEW_DIR=/tmp/ui go test ./authserver/ui -run TestWritePreview
//
// A second set, with an orange primary color and a logo, goes into the
// "branded" subdirectory.
func TestWritePreview(t *testing.T) {
	dir := os.Getenv("GATEHOUSE_UI_PREVIEW_DIR")
	if dir == "" {
		t.Skip("set GATEHOUSE_UI_PREVIEW_DIR to write a preview")
	}
	const appLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 56 56"><rect width="56" height="56" rx="14" fill="#0f766e"/>` +
		`<path d="M16 38V18h13a8 8 0 0 1 0 16h-8" fill="none" stroke="#fff" stroke-width="4.5" stroke-linecap="round" stroke-linejoin="round"/></svg>`
	const productLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 150 36"><rect width="36" height="36" rx="9" fill="#ea580c"/>` +
		`<path d="M11 26 18 10l7 16m-11.5-5h9" fill="none" stroke="#fff" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round"/>` +
		`<text x="46" y="25" font-family="system-ui,sans-serif" font-size="20" font-weight="700" fill="#ea580c">Acme ID</text></svg>`

	scopes := []ScopeView{{Name: "openid"}, {Name: "profile"}, {Name: "email"}, {Name: "offline_access"}, {Name: "calendar.read"}}
	pages := func(css string) map[string]Page {
		b := Base{CSSURL: css}
		return map[string]Page{
			"login.html": LoginPage{Base: b, FormAction: "#", AuthRequest: "ar", CSRFToken: "csrf",
				ClientName: "Photo Printer", ClientLogoURI: "app-logo.svg"},
			"login-plain.html": LoginPage{Base: b, FormAction: "#"},
			"login-error.html": LoginPage{Base: b, FormAction: "#", Username: "ada.lovelace",
				Error: "Incorrect username or password. Check them and try again.", ClientName: "Photo Printer"},
			"consent.html": ConsentPage{Base: b, FormAction: "#",
				Client: ClientView{Name: "Photo Printer", LogoURI: "app-logo.svg", ClientURI: "https://www.printer.example/",
					PolicyURI: "https://printer.example/privacy", TOSURI: "https://printer.example/terms"},
				Scopes: scopes, User: UserView{Name: "Ada Lovelace", Username: "ada", Email: "ada.lovelace@example.com"},
				SwitchAccountURL: "login-plain.html"},
			"consent-first-party.html": ConsentPage{Base: b, FormAction: "#",
				Client: ClientView{Name: "Acme Notes", FirstParty: true},
				Scopes: scopes[:3], User: UserView{Username: "ada", Email: "ada@example.com"}, SwitchAccountURL: "login-plain.html"},
			"error.html": ErrorPage{Base: b, Heading: "This sign-in link is not valid",
				Message: "The app that sent you here made a mistake in the sign-in link, so we can't continue.",
				Hint:    "Go back to the app and try signing in again. If it keeps happening, contact the app's support.",
				Code:    "invalid_request"},
			"signed-out.html": SignedOutPage{Base: b},
			"home.html":       HomePage{Base: b, AccountURL: "/account/apps", DiscoveryURL: "/.well-known/openid-configuration"},
			"not-found.html": ErrorPage{Base: b, Heading: ProblemText("problem.not_found").Heading,
				Message: ProblemText("problem.not_found").Message, Hint: ProblemText("problem.not_found").Hint},
		}
	}
	for _, set := range []struct {
		sub      string
		branding Branding
	}{
		{"", Branding{}},
		{"branded", Branding{ProductName: "Acme ID", PrimaryColor: "#ea580c", LogoURL: "product-logo.svg"}},
	} {
		out := filepath.Join(dir, set.sub)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		r := newTestRenderer(t, set.branding, "")
		css, _ := r.CSS()
		files := map[string][]byte{CSSFile: css, "app-logo.svg": []byte(appLogo), "product-logo.svg": []byte(productLogo)}
		for name, p := range pages(CSSFile) {
			rec := httptest.NewRecorder()
			if err := r.Render(rec, http.StatusOK, p); err != nil {
				t.Fatal(err)
			}
			files[name] = rec.Body.Bytes()
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d files to %s", len(files), out)
	}
}

// The fixed colors of both themes meet WCAG AA: 4.5:1 for text, 3:1 for the
// borders that show where an input or a secondary button is.
func TestStaticColorContrast(t *testing.T) {
	css, err := embedded.ReadFile("assets/gatehouse.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	darkAt := strings.Index(s, "@media (prefers-color-scheme: dark)")
	varRE := regexp.MustCompile(`(--gh-[a-z0-9-]+):\s*(#[0-9a-fA-F]{3,6});`)
	themes := map[string]string{"light": s[:darkAt], "dark": s[darkAt:]}
	pairs := []struct {
		fg, bg string
		min    float64
	}{
		{"--gh-text", "--gh-bg", 4.5},
		{"--gh-text", "--gh-surface", 4.5},
		{"--gh-text", "--gh-surface-2", 4.5},
		{"--gh-text-muted", "--gh-bg", 4.5},
		{"--gh-text-muted", "--gh-surface", 4.5},
		{"--gh-text-muted", "--gh-surface-2", 4.5},
		{"--gh-danger", "--gh-danger-bg", 4.5},
		{"--gh-danger", "--gh-surface", 4.5},
		{"--gh-success", "--gh-success-bg", 4.5},
		{"--gh-border-strong", "--gh-surface", 3},
		{"--gh-border-strong", "--gh-surface-2", 3},
	}
	for name, block := range themes {
		vars := map[string]rgb{}
		for _, m := range varRE.FindAllStringSubmatch(block, -1) {
			c, err := parseHexColor(m[2])
			if err != nil {
				t.Fatal(err)
			}
			vars[m[1]] = c
		}
		for _, p := range pairs {
			fg, ok1 := vars[p.fg]
			bg, ok2 := vars[p.bg]
			if !ok1 || !ok2 {
				t.Errorf("%s theme: %s or %s missing", name, p.fg, p.bg)
				continue
			}
			if c := contrast(fg, bg); c < p.min {
				t.Errorf("%s theme: %s on %s: %.2f:1, want %.1f:1", name, p.fg, p.bg, c, p.min)
			}
		}
	}
}

func TestWebURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://app.example/logo.png": true,
		"http://app.example/":          true,
		"/static/logo.png":             true,
		"logo.png":                     true,
		"":                             false,
		"#":                            false,
		"https://":                     false,
		"//evil.example/x":             false,
		"javascript:alert(1)":          false,
		"JavaScript:alert(1)":          false,
		"data:image/png;base64,AAAA":   false,
		"mailto:a@example.com":         false,
		"ftp://app.example/":           false,
	} {
		if got := webURL(s); got != want {
			t.Errorf("webURL(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestAppLink: what the signed-out page may offer as the app's
// post-logout address, and how the destination is named.
func TestAppLink(t *testing.T) {
	tests := []struct {
		in       string
		wantHost string // "" means no link
	}{
		{"https://evil.example/phish?state=s1", "evil.example"},
		{"https://www.app.example/", "www.app.example"}, // shown as the browser will go, "www." kept
		{"https://APP.Example:8443/bye", "app.example:8443"},
		{"http://127.0.0.1:7/bye?from=gatehouse", "127.0.0.1:7"},
		{"http://[::1]/bye", "[::1]"},
		// A look-alike (Cyrillic "е") is named in its ASCII form.
		{"https://\u0435vil.example/", "xn--vil-qdd.example"},
		{"com.example.app:/signed-out?state=x", "com.example.app"},
		{"javascript:alert(1)", ""},
		{"data:text/html,<script>alert(1)</script>", ""},
		{"vbscript:msgbox", ""},
		{"//evil.example/", ""},
		{"/relative", ""},
		{"https:///nohost", ""},
		{"https://user@evil.example/", ""},
		{"https://evil.example/#frag", ""},
		{"ht tp://x", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			l := appLink(tc.in)
			switch {
			case tc.wantHost == "" && l != nil:
				t.Fatalf("appLink(%q) = %+v, want no link", tc.in, l)
			case tc.wantHost != "" && (l == nil || l.Host != tc.wantHost):
				t.Fatalf("appLink(%q) = %+v, want host %q", tc.in, l, tc.wantHost)
			case l != nil && strings.HasPrefix(tc.in, "http") && mustHost(t, string(l.URL)) != tc.wantHost:
				t.Fatalf("appLink(%q) links to %s, not to the host it names (%s)", tc.in, l.URL, tc.wantHost)
			}
		})
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
