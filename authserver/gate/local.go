package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/revocation"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// LocalProvider is the authorization server in the same process. The
// browser still goes through its authorization endpoint (the user's
// issuer session lives on the issuer's site), but the code is redeemed by
// a typed call into the server: no network, no TLS trust to set up, and
// the token endpoint's own authorization_code checks.
type LocalProvider struct {
	Server      *authserver.Server
	KeyManager  *token.KeyManager
	Store       store.Store
	Revocations *revocation.Watcher

	now func() time.Time // the gate's clock
}

func (p *LocalProvider) useClock(now func() time.Time) { p.now = now }

// Issuer implements Provider.
func (p *LocalProvider) Issuer(context.Context) (string, error) { return p.Server.Issuer(), nil }

// SendsIssuer implements Provider: this server's authorization responses
// always carry iss.
func (p *LocalProvider) SendsIssuer(context.Context) bool { return true }

// Keys implements Provider.
func (p *LocalProvider) Keys() token.KeySource { return p.KeyManager }

// AuthCodeURL implements Provider.
// The redirect URI must be one registered for the gate's client when the
// gate was provisioned (clients.Gate.Register).
func (p *LocalProvider) AuthCodeURL(_ context.Context, r AuthRequest) (string, error) {
	return authorizeURL(p.Server.Issuer()+"/authorize", clients.GateID, r)
}

// Exchange implements Provider: the code is redeemed by a call to the
// issuer (authserver.Server.RedeemGateCode), which runs the token
// endpoint's authorization_code checks and returns the user's claims as
// the ID token would carry them; no token is signed or parsed.
func (p *LocalProvider) Exchange(ctx context.Context, r AuthRequest, code string) (*Login, error) {
	l, err := p.Server.RedeemGateCode(ctx, authserver.GateCodeRequest{
		Code: code, RedirectURI: r.RedirectURI, Verifier: r.Verifier, Nonce: r.Nonce,
	})
	if err != nil {
		return nil, fmt.Errorf("redeeming the code: %w", err)
	}
	return &Login{
		Identity: Identity{
			Subject:       l.Subject,
			Username:      l.PreferredUsername,
			Email:         l.Email,
			EmailVerified: l.EmailVerified,
			Name:          l.Name,
			Groups:        l.Groups,
			IDP:           l.IDP,
			Issuer:        p.Server.Issuer(),
			Source:        SourceSession,
			ACR:           l.ACR,
			AMR:           l.AMR,
			AuthTime:      l.AuthTime.Unix(),
		},
		AuthTime:  l.AuthTime.Unix(),
		GrantID:   l.GrantID,
		SessionID: l.SessionIDHash,
	}, nil
}

// EndSession implements Provider: it ends the user's issuer session (with
// everything the issuer does at logout, back-channel notifications
// included) and the gate's grant, so signing out of a gated site signs out
// of the issuer too.
func (p *LocalProvider) EndSession(ctx context.Context, l Login) error {
	now := p.now()
	var errs []error
	if l.SessionID != "" {
		errs = append(errs, p.Server.EndSession(ctx, l.SessionID))
		if p.Revocations != nil {
			p.Revocations.Add(store.RevokedSession, l.SessionID, now.Add(localRevocationMemory))
		}
	}
	if l.GrantID != "" {
		errs = append(errs, p.Store.RevokeGrant(ctx, l.GrantID, now))
		if p.Revocations != nil {
			p.Revocations.Add(store.RevokedGrant, l.GrantID, now.Add(localRevocationMemory))
		}
	}
	return errors.Join(errs...)
}

// localRevocationMemory is how long a revocation made here is remembered
// before the feed (which knows the record's real expiry) takes over.
const localRevocationMemory = 24 * time.Hour
