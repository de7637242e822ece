package caddymodule

import (
	"strings"
	"testing"
)

func TestPrivateKeyJWTKeySets(t *testing.T) {
	if ks, err := (&PrivateKeyJWTConfig{OutboundFetch: OutboundFetch{AllowNetworks: []string{"127.0.0.0/8"}}}).keySets(); err != nil || ks == nil {
		t.Fatalf("keySets: %v, %v", ks, err)
	}
}

// TestParseClientKeys: a client block takes private_key_jwt with jwks (a
// JSON argument) or jwks_uri, and dpop_bound_access_tokens.
func TestParseClientKeys(t *testing.T) {
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	app, err := parseApp(t, "client svc {\ntype third_party\nredirect_uri https://svc.example/cb\ntoken_endpoint_auth_method private_key_jwt\njwks `"+jwks+"`\ndpop_bound_access_tokens\ngrant_types authorization_code urn:ietf:params:oauth:grant-type:token-exchange\n}")
	if err != nil {
		t.Fatal(err)
	}
	c := app.Clients[0]
	if c.JWKS != jwks || !c.DPoPBoundAccessTokens || c.TokenEndpointAuthMethod != "private_key_jwt" || len(c.GrantTypes) != 2 {
		t.Fatalf("client parsed as %+v", c.Metadata)
	}
	for input, wantErr := range map[string]string{
		"client svc {\njwks not-json\n}":                  "jwks",
		"client svc {\njwks `[1]`\n}":                     "must be a JSON object",
		"client svc {\njwks a b\n}":                       "",
		"client svc {\ndpop_bound_access_tokens maybe\n}": "",
	} {
		if _, err := parseApp(t, input); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: got %v, want an error about %q", input, err, wantErr)
		}
	}
}

func TestParseDPoPAndTokenExchange(t *testing.T) {
	app, err := parseApp(t, "dpop {\nrequire_nonce\n}\ntoken_exchange")
	if err != nil || app.DPoP == nil || !app.DPoP.RequireNonce || !app.TokenExchange {
		t.Fatalf("parsed %+v, %v", app, err)
	}
	if app, err := parseApp(t, "dpop"); err != nil || app.DPoP == nil || app.DPoP.RequireNonce {
		t.Fatalf("bare dpop: %+v, %v", app, err)
	}
	for input, wantErr := range map[string]string{
		"dpop on":                      `unexpected argument "on"`,
		"dpop {\nrequire_nonce yes\n}": "takes no value",
		"dpop {\nmax_age 1m\n}":        `unknown option "max_age"`,
		"token_exchange on":            "takes no value",
	} {
		if _, err := parseApp(t, input); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: got %v, want %q", input, err, wantErr)
		}
	}
}
