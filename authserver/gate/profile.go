package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// A request admitted by an access token carries the same identity
// headers as a browser session (name, username, email, groups), so an
// upstream greets an app's user as it greets the user: the provider
// looks the profile up once per token, and the gate keeps it with the
// verified token in its cache, which the revocation feed empties of
// revoked grants and tokens.

// profileProvider is a Provider that can tell the profile of the user
// behind an access token.
type profileProvider interface {
	// Profile fills id's profile claims. The error wraps
	// errUserGone when the user no longer exists.
	Profile(ctx context.Context, id *Identity, accessToken string) error
}

// errUserGone means an access token's user no longer exists at the
// issuer: the token is refused.
var errUserGone = errors.New("the access token's user no longer exists")

// incompleteProfileTTL bounds how long an identity whose profile could
// not be looked up is cached, so the lookup is retried soon but not on
// every request.
const incompleteProfileTTL = 10 * time.Second

// addProfile fills a Bearer identity's profile from the provider. A user
// who no longer exists is an error (the token is refused as invalid); a
// lookup that failed leaves the identity with its subject alone, cached
// until *expires or incompleteProfileTTL from now, whichever is first, and
// the policy's identity rules then fail closed.
func (g *Gate) addProfile(ctx context.Context, id *Identity, raw string, now time.Time, expires *time.Time) error {
	p, ok := g.cfg.Provider.(profileProvider)
	if !ok || id.Source == SourceClient {
		return nil // a client's own token has no user to describe
	}
	err := p.Profile(ctx, id, raw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errUserGone):
		return fmt.Errorf("%w: %w", token.ErrInvalidSignature, err) // answered as invalid_token
	}
	g.log.WarnContext(ctx, "the profile of a Bearer token's user could not be looked up; the upstream gets the subject alone", "sub", id.Subject, "error", err)
	if limit := now.Add(incompleteProfileTTL); expires.After(limit) {
		*expires = limit
	}
	return nil
}

// Profile implements profileProvider from this server's user directory.
func (p *LocalProvider) Profile(ctx context.Context, id *Identity, _ string) error {
	u, err := p.Server.GateUser(ctx, id.Subject)
	if errors.Is(err, identity.ErrNotFound) {
		return errUserGone
	} else if err != nil {
		return err
	}
	id.Username, id.Name, id.Email, id.EmailVerified, id.Groups = u.PreferredUsername, u.Name, u.Email, u.EmailVerified, u.Groups
	return nil
}

// Profile implements profileProvider with the provider's userinfo
// endpoint (OIDC Core §5.3), called with the access token itself: it
// answers for tokens that may read it (openid, and an audience it
// accepts); for others the identity keeps its subject alone.
func (p *OIDCProvider) Profile(ctx context.Context, id *Identity, accessToken string) error {
	d, err := p.discover(ctx)
	if err != nil {
		return err
	}
	if d.provider.UserInfoEndpoint() == "" {
		return nil
	}
	ctx = oidc.ClientContext(ctx, p.client())
	return fillFromUserinfo(ctx, d.provider, &oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}, id)
}
