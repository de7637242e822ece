package integration

import (
	"net/http"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestIDTokenSigningAlgorithms: with signing_algorithms EdDSA, clients from
// the Caddyfile, dynamic registration and the admin API choose their ID
// token algorithm (id_token_signed_response_alg); go-oidc, told to accept
// only that algorithm, verifies the ID token and its at_hash against the
// published JWKS, and refuses it when told to accept RS256 alone.
func TestIDTokenSigningAlgorithms(t *testing.T) {
	ai := startAdmin(t, "registration open", "signing_algorithms EdDSA",
		"client es-static {\n\t\t\ttype first_party_public\n\t\t\tredirect_uris http://127.0.0.1/callback\n\t\t\tid_token_signed_response_alg ES256\n\t\t}")
	ctx := ai.ctx()
	provider, err := oidc.NewProvider(ctx, ai.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil || !slices.Equal(meta.Algs, []string{"RS256", "ES256", "EdDSA"}) {
		t.Fatalf("id_token_signing_alg_values_supported = %v (%v), want RS256 ES256 EdDSA", meta.Algs, err)
	}

	registered := func(alg string) string {
		app := nativeApp()
		app["id_token_signed_response_alg"] = alg
		res := ai.register(t, app, nil)
		if res.status != http.StatusCreated {
			t.Fatalf("register with %s: HTTP %d %s", alg, res.status, res.body)
		}
		return res.registration(t).ClientID
	}
	admin := ai.api(t, http.MethodPost, "/gatehouse/clients", map[string]any{"client_name": "Admin-made", "type": "first_party_public",
		"redirect_uris": []string{"http://127.0.0.1/callback"}, "id_token_signed_response_alg": "EdDSA"})
	if admin.status != http.StatusCreated {
		t.Fatalf("admin create with EdDSA: HTTP %d %s", admin.status, admin.body)
	}

	for _, tc := range []struct{ name, clientID, alg string }{
		{"Caddyfile client, ES256", "es-static", oidc.ES256},
		{"registered, ES256", registered("ES256"), oidc.ES256},
		{"registered, EdDSA", registered("EdDSA"), oidc.EdDSA},
		{"admin API, EdDSA", admin.client(t).ClientID, oidc.EdDSA},
		{"registered, default", registered(""), oidc.RS256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &oauth2.Config{ClientID: tc.clientID, Endpoint: provider.Endpoint(), RedirectURL: "http://127.0.0.1:51234/callback",
				Scopes: []string{oidc.ScopeOpenID}}
			cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			v := oauth2.GenerateVerifier()
			flow := ai.newBrowser().authorize(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oidc.Nonce("n-"+tc.alg)), "allow")
			tok, err := cfg.Exchange(ctx, mustCode(t, flow, "st"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := provider.Verifier(&oidc.Config{ClientID: tc.clientID, SupportedSigningAlgs: []string{tc.alg}}).Verify(ctx, raw)
			if err != nil || idt.Subject != "alice" || idt.Nonce != "n-"+tc.alg {
				t.Fatalf("go-oidc accepting only %s: %v %+v", tc.alg, err, idt)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash of the %s ID token: %v", tc.alg, err)
			}
			other := oidc.RS256
			if tc.alg == oidc.RS256 {
				other = oidc.ES256
			}
			if _, err := provider.Verifier(&oidc.Config{ClientID: tc.clientID, SupportedSigningAlgs: []string{other}}).Verify(ctx, raw); err == nil {
				t.Errorf("go-oidc accepting only %s verified the %s ID token", other, tc.alg)
			}
		})
	}
}
