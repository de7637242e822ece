package authserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

const (
	mcpResource   = "https://localhost:9445/mcp"
	otherResource = "https://localhost:9443"
)

// withResources is an authorization request for resources.
func withResources(q url.Values, resources ...string) url.Values {
	return ast.Edit(q, url.Values{"resource": resources})
}

// TestConsentBoundToResource: a third-party app allowed to reach one
// resource asks again, on a page naming the new resource, before it gets
// a code for another (RFC 8707); what was allowed is remembered.
func TestConsentBoundToResource(t *testing.T) {
	f := ast.New(t, ast.Options{})
	f.Server.NameResource(mcpResource, "Demo MCP server")
	b := f.NewBrowser(t)
	b.SignIn()

	page := b.Authorize(withResources(f.AuthorizeQuery(ast.ThirdParty, "openid profile"), mcpResource))
	if !b.OnPage(page, "/consent") {
		t.Fatalf("want the consent page: %s", page)
	}
	if text := pageText(page); !strings.Contains(text, "Demo MCP server at "+mcpResource) {
		t.Errorf("the consent page does not name the resource by its name and URI: %s", text)
	}
	if res := b.Consent(page, "allow"); res.RedirectQuery().Get("code") == "" {
		t.Fatalf("allow: %s", res)
	}

	tests := []struct {
		name        string
		resources   []string
		wantConsent bool
	}{
		{"the same resource", []string{mcpResource}, false},
		{"the same resource spelt otherwise (RFC 3986 §6.2)", []string{"HTTPS://LocalHost:9445/./mcp"}, false},
		{"another path", []string{mcpResource + "/"}, true},
		{"no resource (the issuer)", nil, false},
		{"another resource", []string{otherResource}, true},
		{"the allowed one and another", []string{mcpResource, otherResource}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := b.Authorize(withResources(f.AuthorizeQuery(ast.ThirdParty, "openid profile"), tc.resources...))
			if got := b.OnPage(res, "/consent"); got != tc.wantConsent {
				t.Fatalf("consent page shown: %v, want %v: %s", got, tc.wantConsent, res)
			}
			if !tc.wantConsent && res.RedirectQuery().Get("code") == "" {
				t.Fatalf("want a code: %s", res)
			}
		})
	}

	t.Run("prompt=none", func(t *testing.T) {
		q := withResources(f.AuthorizeQuery(ast.ThirdParty, "openid profile"), otherResource)
		q.Set("prompt", "none")
		wantRedirectError(t, b.Authorize(q), ast.ThirdPartyRedirect, "consent_required", ast.State)
	})

	// A resource without a display name is named by its URI; allowing it
	// adds it to what was allowed before.
	page = b.Authorize(withResources(f.AuthorizeQuery(ast.ThirdParty, "openid"), otherResource))
	text := pageText(page)
	if !strings.Contains(text, otherResource) || strings.Contains(text, "Demo MCP server") {
		t.Errorf("the consent page for %s: %s", otherResource, text)
	}
	if res := b.Consent(page, "allow"); res.RedirectQuery().Get("code") == "" {
		t.Fatalf("allow: %s", res)
	}
	q := withResources(f.AuthorizeQuery(ast.ThirdParty, "openid profile"), mcpResource, otherResource)
	if res := b.Authorize(q); res.RedirectQuery().Get("code") == "" {
		t.Errorf("both resources allowed one after the other do not cover both: %s", res)
	}

	// The connected-apps page says which services the app may reach.
	apps := pageText(b.Get("/account/apps"))
	for _, want := range []string{"On these services:", "Demo MCP server at " + mcpResource, otherResource} {
		if !strings.Contains(apps, want) {
			t.Errorf("the connected-apps page does not say %q", want)
		}
	}

	t.Run("first-party apps", func(t *testing.T) {
		q := withResources(f.AuthorizeQuery(ast.FirstParty, "openid"), "https://anything.example/")
		if res := b.Authorize(q); res.RedirectQuery().Get("code") == "" {
			t.Errorf("a first-party app was asked for consent: %s", res)
		}
	})
	t.Run("another user", func(t *testing.T) {
		b := f.NewBrowser(t)
		b.Username = ast.Bob
		b.SignIn()
		res := b.Authorize(withResources(f.AuthorizeQuery(ast.ThirdParty, "openid"), mcpResource))
		if !b.OnPage(res, "/consent") {
			t.Errorf("Alice's consent served Bob: %s", res)
		}
	})
}

// TestRefreshNeverWidensAudience: a refresh request may narrow the
// audience to some of the granted resources, never add one (RFC 8707
// §2.2), whatever it was narrowed to before; and a grant without
// resources cannot gain one.
func TestRefreshNeverWidensAudience(t *testing.T) {
	f := ast.New(t, ast.Options{})
	// b is asked for with a trailing slash and carried in its normal form.
	const a, b, bNormal = "https://a.example/mcp", "https://b.example/", "https://b.example"
	q := withResources(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid offline_access"), a, b)
	tok := f.Exchange(t, ast.ThirdPartyPublic, f.NewBrowser(t).Code(q))

	aud := func(tok ast.Tokens) string { return fmt.Sprint(ast.Claims(t, tok.AccessToken)["aud"]) }
	narrowed := tokensOf(t, f.RefreshRequest(t, ast.ThirdPartyPublic, tok.RefreshToken, query("resource", a)))
	if got := aud(narrowed); got != "["+a+" "+ast.Issuer+"]" {
		t.Errorf("narrowed aud %s, want %s and the issuer", got, a)
	}
	if narrowed.RefreshToken == "" || narrowed.RefreshToken == tok.RefreshToken {
		t.Errorf("a public client's refresh token was not rotated")
	}
	// Narrowing once does not shrink the grant: the next refresh may
	// name the other granted resource.
	next := tokensOf(t, f.RefreshRequest(t, ast.ThirdPartyPublic, narrowed.RefreshToken, query("resource", b)))
	if got := aud(next); got != "["+bNormal+" "+ast.Issuer+"]" {
		t.Errorf("aud %s, want %s and the issuer", got, b)
	}
	for _, wider := range [][]string{{"https://c.example/"}, {"https://b.example:8443/"}, {a, "https://c.example/"}} {
		wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, next.RefreshToken, url.Values{"resource": wider}), http.StatusBadRequest, "invalid_target")
	}
	// The refused requests did not use the token up; an equivalent
	// spelling of a granted resource is that resource.
	same := tokensOf(t, f.RefreshRequest(t, ast.ThirdPartyPublic, next.RefreshToken, query("resource", "HTTPS://B.EXAMPLE:443")))
	if got := aud(same); got != "["+bNormal+" "+ast.Issuer+"]" {
		t.Errorf("aud %s for an equivalent spelling of %s", got, b)
	}
	all := tokensOf(t, f.RefreshRequest(t, ast.ThirdPartyPublic, same.RefreshToken, nil))
	if got := aud(all); got != "["+a+" "+bNormal+" "+ast.Issuer+"]" {
		t.Errorf("aud without a resource parameter %s, want every granted resource and the issuer", got)
	}

	t.Run("grant without resources", func(t *testing.T) {
		tok := f.Exchange(t, ast.ThirdPartyPublic, f.NewBrowser(t).Code(f.AuthorizeQuery(ast.ThirdPartyPublic, "openid offline_access")))
		wantJSONError(t, f.RefreshRequest(t, ast.ThirdPartyPublic, tok.RefreshToken, query("resource", a)), http.StatusBadRequest, "invalid_target")
		if got := aud(f.Refresh(t, ast.ThirdPartyPublic, tok.RefreshToken)); got != ast.Issuer { // a single audience is a string (RFC 7519 §4.1.3)
			t.Errorf("aud %s, want only the issuer", got)
		}
	})
}
