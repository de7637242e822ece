package authserver_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// TestIDTokenSigningAlgorithms: with keys of every algorithm, each client
// gets ID tokens signed with its id_token_signed_response_alg (RS256 when
// it names none), with the at_hash of that algorithm; discovery lists the
// algorithms, RS256 first; such a token is a valid id_token_hint; and a
// registered client may choose one.
func TestIDTokenSigningAlgorithms(t *testing.T) {
	app := func(id, alg string) *clients.Client {
		return &clients.Client{ID: id, Metadata: clients.Metadata{Type: clients.FirstPartyPublic,
			RedirectURIs: []string{"https://" + id + ".example/cb"}, PostLogoutRedirectURIs: []string{"https://" + id + ".example/bye"},
			IDTokenSigningAlg: alg}}
	}
	f := ast.New(t, ast.Options{SigningAlgorithms: []string{"EdDSA", "PS256"}, Registration: authserver.RegistrationOpen,
		Clients: []*clients.Client{app("es", "ES256"), app("ps", "PS256"), app("ed", "EdDSA"), app("rs", "")}})

	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	f.Serve(t, f.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)).JSON(&disc)
	if want := []string{"RS256", "ES256", "PS256", "EdDSA"}; !slices.Equal(disc.Algs, want) {
		t.Errorf("id_token_signing_alg_values_supported = %v, want %v", disc.Algs, want)
	}

	reg := register(t, f, `{"redirect_uris":["https://reg.example/cb"],"id_token_signed_response_alg":"EdDSA"}`, "")
	if c := f.Client(reg.ClientID); c == nil || c.IDTokenSigningAlg != "EdDSA" {
		t.Fatalf("registered client %+v, want EdDSA ID tokens", c)
	}

	for _, tc := range []struct{ client, alg string }{
		{"rs", "RS256"}, {"es", "ES256"}, {"ps", "PS256"}, {"ed", "EdDSA"},
	} {
		t.Run(tc.client, func(t *testing.T) {
			b, tok := signedInWithTokens(t, f, tc.client, "openid")
			if h := ast.Header(t, tok.IDToken); h["alg"] != tc.alg {
				t.Fatalf("ID token alg %v, want %s", h["alg"], tc.alg)
			}
			v := &token.Verifier{Keys: f.Keys, Issuer: ast.Issuer, Algorithms: []string{tc.alg}, Type: "JWT", Now: f.Clock.Now}
			var claims struct {
				Audience token.Audience `json:"aud"`
				AtHash   string         `json:"at_hash"`
			}
			if err := v.Verify(t.Context(), tok.IDToken, &claims); err != nil {
				t.Fatalf("verifying the %s ID token with the published keys: %v", tc.alg, err)
			}
			if !claims.Audience.Contains(tc.client) || claims.AtHash == "" || claims.AtHash != token.AtHash(tc.alg, tok.AccessToken) {
				t.Errorf("claims %+v, want aud %s and the %s at_hash", claims, tc.alg, tc.client)
			}
			bye := "https://" + tc.client + ".example/bye"
			if res := b.Get(logoutPath("id_token_hint", tok.IDToken, "post_logout_redirect_uri", bye)); res.Header.Get("Location") != bye {
				t.Errorf("logout with the %s ID token as hint: %s, want a redirect to %s", tc.alg, res, bye)
			}
		})
	}
	t.Run("registered", func(t *testing.T) {
		b := f.NewBrowser(t)
		res := b.Login(b.Authorize(f.AuthorizeQuery(reg.ClientID, "openid")))
		tok := f.Exchange(t, reg.ClientID, b.Consent(res, "allow").RedirectQuery().Get("code"))
		if h := ast.Header(t, tok.IDToken); h["alg"] != "EdDSA" {
			t.Errorf("registered client's ID token alg %v, want EdDSA", h["alg"])
		}
	})
}
