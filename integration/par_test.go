package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

const (
	parClientID     = "par-web"
	parClientSecret = "par-web-secret-0123456789"
)

// pushRequest posts an authorization request to /par as id/secret and
// returns the status and the decoded answer.
func pushRequest(t *testing.T, in *instance, id, secret string, params url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.issuer+"/par", strings.NewReader(params.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("/par answered %d, not JSON: %s", resp.StatusCode, body)
	}
	return resp.StatusCode, out
}

// TestPARThroughCaddy (issue 17 item 3): a confidential app pushes its
// authorization request (RFC 9126), sends the browser to /authorize with
// only client_id and request_uri, and redeems the code with
// golang.org/x/oauth2; the request_uri cannot be used again, and an app
// registered with require_pushed_authorization_requests cannot skip /par.
func TestPARThroughCaddy(t *testing.T) {
	parApp := "client " + parClientID + " {\n\t\t\ttype first_party\n\t\t\tsecret_hash " + sha256Secret(parClientSecret) +
		"\n\t\t\tredirect_uris http://127.0.0.1/callback\n\t\t\trequire_pushed_authorization_requests\n\t\t}"
	in := startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), extraGatehouse: []string{"pushed_authorization_requests", parApp}})
	var meta map[string]any
	if err := json.Unmarshal([]byte(in.fetch(t, in.issuer+"/.well-known/openid-configuration")), &meta); err != nil ||
		meta["pushed_authorization_request_endpoint"] != in.issuer+"/par" || meta["require_pushed_authorization_requests"] != false {
		t.Fatalf("discovery: %v %v (%v)", meta["pushed_authorization_request_endpoint"], meta["require_pushed_authorization_requests"], err)
	}

	for _, app := range []demoApp{demoInternal, {parClientID, parClientSecret}} {
		t.Run(app.id, func(t *testing.T) {
			cfg := in.oauthConfig(app, "openid", "email")
			verifier := oauth2.GenerateVerifier()
			params := url.Values{
				"response_type": {"code"}, "redirect_uri": {cfg.RedirectURL}, "scope": {"openid email"}, "state": {"par-state"},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
			}
			status, pushed := pushRequest(t, in, app.id, app.secret, params)
			uri, _ := pushed["request_uri"].(string)
			if status != http.StatusCreated || !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || pushed["expires_in"] != float64(60) {
				t.Fatalf("/par: %d %v", status, pushed)
			}
			authURL := in.issuer + "/authorize?" + url.Values{"client_id": {app.id}, "request_uri": {uri}}.Encode()
			b := in.newBrowser()
			res := b.authorize(authURL, "allow")
			code := mustCode(t, res, "par-state")
			tok, err := cfg.Exchange(in.ctx(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if tok.Extra("id_token") == nil {
				t.Error("no ID token")
			}
			// Used once: the same link now gets an error page, no redirect.
			again := b.get(authURL)
			if again.status != http.StatusBadRequest || again.location != "" || !strings.Contains(again.body, "invalid_request_uri") {
				t.Errorf("a replayed request_uri: %d %q", again.status, again.location)
			}
		})
	}

	t.Run("must push", func(t *testing.T) {
		cfg := in.oauthConfig(demoApp{parClientID, parClientSecret}, "openid")
		p := in.newBrowser().get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if p.status != http.StatusBadRequest || p.location != "" {
			t.Errorf("a plain authorization request of an app that must push: %d %q", p.status, p.location)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		if status, out := pushRequest(t, in, demoInternal.id, "wrong-secret", url.Values{"response_type": {"code"}}); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
			t.Errorf("wrong secret: %d %v", status, out)
		}
		bad := url.Values{"response_type": {"code"}, "redirect_uri": {"https://evil.example/cb"}, "scope": {"openid"}}
		if status, out := pushRequest(t, in, demoInternal.id, demoInternal.secret, bad); status != http.StatusBadRequest || out["error"] != "invalid_request" {
			t.Errorf("unregistered redirect_uri: %d %v", status, out)
		}
	})
}
