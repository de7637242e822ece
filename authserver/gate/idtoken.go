package gate

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// verifyIDToken checks an ID token (OIDC Core §3.1.3.7): signature with an
// allowed algorithm, iss, aud containing our client id, expiry, and the
// nonce we sent.
func verifyIDToken(ctx context.Context, keys token.KeySource, issuer, clientID, raw, nonce string, now func() time.Time) (*token.IDTokenClaims, error) {
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	v := token.Verifier{
		Keys:       keys,
		Issuer:     issuer,
		Audience:   clientID,
		Algorithms: []string{"RS256", "ES256", "PS256", "EdDSA"},
		Now:        now,
	}
	var c token.IDTokenClaims
	if err := v.Verify(ctx, raw, &c); err != nil {
		return nil, fmt.Errorf("id_token: %w", err)
	}
	// OIDC Core §3.1.3.7 (6): with several audiences, azp must be us.
	if len(c.Audience) > 1 && c.AuthorizedParty != clientID {
		return nil, errors.New("id_token: azp is not this client")
	}
	if subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return nil, errors.New("id_token: nonce does not match the login")
	}
	if c.Subject == "" {
		return nil, errors.New("id_token: no sub")
	}
	return &c, nil
}

func identityFromIDToken(c *token.IDTokenClaims) Identity {
	id := Identity{
		Subject:  c.Subject,
		Username: c.PreferredUsername,
		Email:    c.Email,
		Name:     c.Name,
		Groups:   c.Groups,
		Issuer:   c.Issuer,
		Source:   SourceSession,
	}
	if c.EmailVerified != nil {
		id.EmailVerified = *c.EmailVerified
	}
	return id
}
