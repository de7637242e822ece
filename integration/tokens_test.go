package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// Introspection (RFC 7662) and revocation (RFC 7009) end to end.

// TestIntrospection: what each client may learn about access and refresh
// tokens, and the RFC 7662 §2.2 response members.
func TestIntrospection(t *testing.T) {
	in := startExample(t)
	b := in.newBrowser()
	web := in.tokensFor(t, b, demoWeb, "openid", "profile", "email", "offline_access")
	at := jwtClaims(t, web.AccessToken)

	t.Run("access token", func(t *testing.T) {
		for _, hint := range []string{"", "access_token", "refresh_token", "made_up"} {
			r := in.introspect(t, demoWeb, web.AccessToken, hint)
			want := map[string]any{
				"active": true, "scope": "openid profile email offline_access", "client_id": "demo-web",
				"username": "alice", "token_type": "Bearer", "sub": "alice", "aud": in.issuer, "iss": in.issuer,
				"jti": at["jti"], "exp": at["exp"], "iat": at["iat"],
				// How alice signed in (RFC 9470 §6.1): a password alone.
				"auth_time": at["auth_time"], "acr": "urn:gatehouse:acr:pwd",
			}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("hint %q: %s = %v, want %v", hint, k, r[k], v)
				}
			}
			if amr, _ := r["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
				t.Errorf("hint %q: amr = %v, want [pwd]", hint, r["amr"])
			}
			if len(r) != len(want)+1 {
				t.Errorf("hint %q: unexpected members in %v", hint, r)
			}
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		r := in.introspect(t, demoWeb, web.RefreshToken, "refresh_token")
		if r["active"] != true || r["client_id"] != "demo-web" || r["sub"] != "alice" || r["username"] != "alice" ||
			r["scope"] != "openid profile email offline_access" || r["iss"] != in.issuer {
			t.Errorf("introspection = %v", r)
		}
		exp, _ := r["exp"].(float64)
		iat, _ := r["iat"].(float64)
		if iat == 0 || exp <= iat || exp > float64(time.Now().Add(91*24*time.Hour).Unix()) {
			t.Errorf("iat %v, exp %v", r["iat"], r["exp"])
		}
		for _, k := range []string{"token_type", "jti", "aud"} {
			if _, ok := r[k]; ok {
				t.Errorf("a refresh token's introspection has %s: %v", k, r)
			}
		}
	})
	t.Run("whose tokens a client may see", func(t *testing.T) {
		spa := in.tokensFor(t, in.newBrowser(), demoSPA, "openid", "offline_access")
		tests := []struct {
			name   string
			caller demoApp
			tok    string
			active bool
		}{
			{"public client, its own access token", demoSPA, spa.AccessToken, true},
			{"public client, its own refresh token", demoSPA, spa.RefreshToken, true},
			{"third party, another client's access token", demoSPA, web.AccessToken, false},
			{"third party, another client's refresh token", demoSPA, web.RefreshToken, false},
			{"first-party public, another client's token", demoCLI, web.AccessToken, false},
			{"confidential third party, a public client's token", demoWeb, spa.AccessToken, false},
			// An operator's own (first_party, confidential) service is a
			// resource server: it may check any token.
			{"first-party confidential, another client's access token", demoInternal, web.AccessToken, true},
			{"first-party confidential, another client's refresh token", demoInternal, spa.RefreshToken, true},
		}
		for _, tc := range tests {
			r := in.introspect(t, tc.caller, tc.tok)
			if tc.active {
				if r["active"] != true {
					t.Errorf("%s: %v, want active", tc.name, r)
				}
				continue
			}
			wantInactive(t, tc.name, r)
		}
	})
	t.Run("tokens that are not active", func(t *testing.T) {
		km := in.minter(t)
		expired := token.AccessTokenClaims{Issuer: in.issuer, Subject: "alice", Audience: token.Audience{in.issuer},
			ClientID: "demo-web", Scope: "openid", JWTID: "expired-jti",
			IssuedAt: token.NewNumericDate(time.Now().Add(-2 * time.Hour)), Expiry: token.NewNumericDate(time.Now().Add(-time.Hour))}
		expiredAT, err := km.Sign("ES256", "at+jwt", expired)
		if err != nil {
			t.Fatal(err)
		}
		otherIss := expired
		otherIss.Issuer, otherIss.Expiry = "https://evil.example", token.NewNumericDate(time.Now().Add(time.Hour))
		otherIssAT, _ := km.Sign("ES256", "at+jwt", otherIss)
		noGrant := otherIss
		noGrant.Issuer, noGrant.GrantID = in.issuer, "no-such-grant"
		noGrantAT, _ := km.Sign("ES256", "at+jwt", noGrant)
		asIDToken := otherIss
		asIDToken.Issuer = in.issuer
		idTyped, _ := km.Sign("RS256", "JWT", asIDToken)
		unknownUser := otherIss
		unknownUser.Issuer, unknownUser.Subject = in.issuer, "mallory"
		unknownUserAT, _ := km.Sign("ES256", "at+jwt", unknownUser)

		for name, tok := range map[string]string{
			"unknown refresh token":            "gh_rt_" + base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
			"garbage":                          "not-a-token",
			"tampered access token":            web.AccessToken[:len(web.AccessToken)-4] + "AAAA",
			"expired access token":             expiredAT,
			"another issuer":                   otherIssAT,
			"unknown grant":                    noGrantAT,
			"ID token, not an access token":    web.IDToken,
			"signed with the wrong typ":        idTyped,
			"user no longer exists":            unknownUserAT,
			"alg none":                         unsignedJWT(map[string]any{"iss": in.issuer, "sub": "alice", "client_id": "demo-web", "jti": "x", "exp": time.Now().Add(time.Hour).Unix()}),
			"HS256 with the public key as key": hmacWithPublicKey(t, in, map[string]any{"iss": in.issuer, "sub": "alice", "client_id": "demo-web", "jti": "x", "exp": time.Now().Add(time.Hour).Unix()}),
			"authorization code":               "gh_ac_" + strings.Repeat("A", 43),
			"a 60 KiB token":                   strings.Repeat("a", 60<<10),
		} {
			wantInactive(t, name, in.introspect(t, demoInternal, tok))
		}
	})
}

// TestIntrospectExpiredRefreshToken: a refresh token past its idle
// lifetime is inactive.
func TestIntrospectExpiredRefreshToken(t *testing.T) {
	in := startExample(t, "refresh_token_lifetime 1s")
	web := in.tokensFor(t, in.newBrowser(), demoWeb, "openid", "offline_access")
	if r := in.introspect(t, demoWeb, web.RefreshToken); r["active"] != true {
		t.Fatalf("fresh refresh token: %v", r)
	}
	time.Sleep(1100 * time.Millisecond)
	wantInactive(t, "expired refresh token", in.introspect(t, demoWeb, web.RefreshToken))
}

// TestRevocation: revoking an access token denylists only it; revoking a
// refresh token kills its family and every access token issued from it;
// other clients' tokens are left alone.
func TestRevocation(t *testing.T) {
	in := startExample(t)
	db := in.openStore(t)
	b := in.newBrowser()
	web := in.tokensFor(t, b, demoWeb, "openid", "email", "offline_access")
	started := time.Now().Add(-time.Second)

	// Another client cannot revoke demo-web's tokens: 200, and nothing
	// happens (RFC 7009 §2.1).
	for _, caller := range []demoApp{demoSPA, demoInternal, demoCLI} {
		for _, tok := range []string{web.AccessToken, web.RefreshToken} {
			if code := in.revoke(t, caller, tok); code != http.StatusOK {
				t.Fatalf("%s revoking another client's token: %d, want 200", caller.id, code)
			}
		}
	}
	if r := in.introspect(t, demoWeb, web.AccessToken); r["active"] != true {
		t.Fatalf("another client's revocation took effect: %v", r)
	}
	if r := in.introspect(t, demoWeb, web.RefreshToken); r["active"] != true {
		t.Fatalf("another client's revocation took effect: %v", r)
	}

	// The access token alone, with a misleading hint.
	if code := in.revoke(t, demoWeb, web.AccessToken, "refresh_token"); code != http.StatusOK {
		t.Fatalf("revoking the access token: %d", code)
	}
	wantInactive(t, "revoked access token", in.introspect(t, demoWeb, web.AccessToken))
	if st := in.userinfoStatus(web.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked access token: %d, want 401", st)
	}
	// The caches' revocation feed carries it (the gate polls this).
	feed, err := db.RevokedSince(t.Context(), started, time.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	jti, _ := jwtClaims(t, web.AccessToken)["jti"].(string)
	if !slices.ContainsFunc(feed, func(r store.Revocation) bool { return r.Kind == store.RevokedToken && r.ID == jti }) {
		t.Errorf("the revocation feed lacks the access token: %+v", feed)
	}
	// The grant lives on: its refresh token still works.
	fresh, code := in.refresh(demoWeb, web.RefreshToken)
	if code != http.StatusOK {
		t.Fatalf("refresh after revoking only the access token: %d %+v", code, fresh)
	}
	if st := in.userinfoStatus(fresh.AccessToken); st != http.StatusOK {
		t.Fatalf("userinfo with the new access token: %d", st)
	}
	// Revoking twice is fine.
	if code := in.revoke(t, demoWeb, web.AccessToken); code != http.StatusOK {
		t.Fatalf("revoking again: %d", code)
	}

	// The refresh token takes its whole family, and the access tokens
	// issued from it, with it.
	if code := in.revoke(t, demoWeb, web.RefreshToken, "access_token"); code != http.StatusOK {
		t.Fatalf("revoking the refresh token: %d", code)
	}
	wantInactive(t, "revoked refresh token", in.introspect(t, demoWeb, web.RefreshToken))
	wantInactive(t, "access token of a revoked family", in.introspect(t, demoWeb, fresh.AccessToken))
	if st := in.userinfoStatus(fresh.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo with an access token of a revoked family: %d, want 401", st)
	}
	if tj, code := in.refresh(demoWeb, web.RefreshToken); code != http.StatusBadRequest || tj.Error != "invalid_grant" {
		t.Errorf("refresh with a revoked token: %d %+v", code, tj)
	}

	// A public client revokes its own rotated family with its client_id.
	spa := in.tokensFor(t, in.newBrowser(), demoSPA, "openid", "offline_access")
	rotated, code := in.refresh(demoSPA, spa.RefreshToken)
	if code != http.StatusOK {
		t.Fatal(code)
	}
	if code := in.revoke(t, demoSPA, rotated.RefreshToken); code != http.StatusOK {
		t.Fatalf("public client revoking its token: %d", code)
	}
	wantInactive(t, "revoked public refresh token", in.introspect(t, demoSPA, rotated.RefreshToken))
	wantInactive(t, "earlier access token of the family", in.introspect(t, demoSPA, spa.AccessToken))

	// Unknown, malformed and foreign tokens: 200, nothing to do.
	for _, tok := range []string{"gh_rt_unknown", "garbage", web.IDToken, unsignedJWT(map[string]any{"jti": "x"})} {
		if code := in.revoke(t, demoWeb, tok); code != http.StatusOK {
			t.Errorf("revoking %.20q: %d, want 200", tok, code)
		}
	}
}

// TestIntrospectAndRevokeReject: malformed and hostile requests get the
// right status and error code and change nothing.
func TestIntrospectAndRevokeReject(t *testing.T) {
	in := startExample(t)
	web := in.tokensFor(t, in.newBrowser(), demoWeb, "openid", "offline_access")
	good := basicAuth("demo-web", "demo-web-secret")
	form := "token=" + url.QueryEscape(web.RefreshToken)
	tests := []struct {
		name        string
		method      string
		contentType string
		auth        string
		body        string
		wantStatus  int
		wantError   string
	}{
		{"GET", http.MethodGet, "", good, "", http.StatusMethodNotAllowed, ""},
		{"PUT", http.MethodPut, "application/x-www-form-urlencoded", good, form, http.StatusMethodNotAllowed, ""},
		{"JSON body", http.MethodPost, "application/json", good, `{"token":"x"}`, 400, "invalid_request"},
		{"oversized body", http.MethodPost, "application/x-www-form-urlencoded", good, form + "&pad=" + strings.Repeat("a", 100<<10), 413, "invalid_request"},
		{"malformed body", http.MethodPost, "application/x-www-form-urlencoded", good, "token=%zz", 400, "invalid_request"},
		{"duplicated token", http.MethodPost, "application/x-www-form-urlencoded", good, form + "&token=x", 400, "invalid_request"},
		{"duplicated hint", http.MethodPost, "application/x-www-form-urlencoded", good, form + "&token_type_hint=a&token_type_hint=b", 400, "invalid_request"},
		{"missing token", http.MethodPost, "application/x-www-form-urlencoded", good, "token_type_hint=refresh_token", 400, "invalid_request"},
		{"no client authentication", http.MethodPost, "application/x-www-form-urlencoded", "", form, 401, "invalid_client"},
		{"wrong secret", http.MethodPost, "application/x-www-form-urlencoded", basicAuth("demo-web", "wrong"), form, 401, "invalid_client"},
		{"unknown client", http.MethodPost, "application/x-www-form-urlencoded", basicAuth("nobody", "x"), form, 401, "invalid_client"},
		{"malformed Basic header", http.MethodPost, "application/x-www-form-urlencoded", "Basic !!!", form, 401, "invalid_client"},
		{"Bearer instead of client auth", http.MethodPost, "application/x-www-form-urlencoded", "Bearer " + web.AccessToken, form, 401, "invalid_client"},
		{"confidential client without secret", http.MethodPost, "application/x-www-form-urlencoded", "", form + "&client_id=demo-web", 401, "invalid_client"},
		{"public client with a secret", http.MethodPost, "application/x-www-form-urlencoded", basicAuth("demo-spa", "x"), form, 401, "invalid_client"},
		{"two authentication methods", http.MethodPost, "application/x-www-form-urlencoded", good, form + "&client_secret=demo-web-secret", 400, "invalid_request"},
	}
	for _, endpoint := range []string{"/introspect", "/revoke"} {
		for _, tc := range tests {
			t.Run(endpoint+" "+tc.name, func(t *testing.T) {
				resp, raw := in.send(t, tc.method, endpoint, tc.contentType, tc.auth, tc.body)
				var e struct {
					Error string `json:"error"`
				}
				_ = json.Unmarshal(raw, &e)
				if resp.StatusCode != tc.wantStatus || e.Error != tc.wantError {
					t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, e.Error, raw, tc.wantStatus, tc.wantError)
				}
				if tc.wantError != "" && resp.Header.Get("Cache-Control") != "no-store" {
					t.Error("error response without Cache-Control: no-store")
				}
				if tc.wantError == "invalid_client" && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	// None of the failed revocations did anything.
	if r := in.introspect(t, demoWeb, web.RefreshToken); r["active"] != true {
		t.Fatalf("the refresh token was revoked by a failed request: %v", r)
	}
	if _, code := in.refresh(demoWeb, web.RefreshToken); code != http.StatusOK {
		t.Fatalf("refresh after the failed requests: %d", code)
	}
	// Browsers may call both endpoints (single-page apps): CORS preflight.
	for _, endpoint := range []string{"/introspect", "/revoke"} {
		req, _ := http.NewRequest(http.MethodOptions, in.issuer+endpoint, nil)
		req.Header.Set("Origin", "https://spa.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := in.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("preflight %s: %d %v", endpoint, resp.StatusCode, resp.Header)
		}
	}
}

// TestDiscoveryAdvertisesConnectedAppsEndpoints: discovery lists the new
// endpoints and what they support.
func TestDiscoveryAdvertisesConnectedAppsEndpoints(t *testing.T) {
	in := startExample(t)
	var d map[string]any
	if err := json.Unmarshal([]byte(in.getBody("/.well-known/openid-configuration")), &d); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"introspection_endpoint":               in.issuer + "/introspect",
		"revocation_endpoint":                  in.issuer + "/revoke",
		"end_session_endpoint":                 in.issuer + "/logout",
		"backchannel_logout_supported":         true,
		"backchannel_logout_session_supported": true,
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %v", k, d[k], want)
		}
	}
	for _, k := range []string{"introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
		methods, _ := d[k].([]any)
		if len(methods) != 3 || methods[0] != "client_secret_basic" || methods[1] != "client_secret_post" || methods[2] != "none" {
			t.Errorf("%s = %v", k, d[k])
		}
	}
	if claims, _ := d["claims_supported"].([]any); !slices.Contains(claims, any("sid")) {
		t.Errorf("claims_supported lacks sid: %v", d["claims_supported"])
	}
}
