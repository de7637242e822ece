package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
// calling the token endpoint's handler in memory: no network, no TLS trust
// to set up, and exactly the checks any client gets.
type LocalProvider struct {
	Server      *authserver.Server
	KeyManager  *token.KeyManager
	Store       store.Store
	Revocations *revocation.Watcher
}

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

// Exchange implements Provider.
func (p *LocalProvider) Exchange(ctx context.Context, r AuthRequest, code string) (*Login, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {r.RedirectURI},
		"code_verifier": {r.Verifier},
		"client_id":     {clients.GateID},
	}
	tokenURL, err := url.Parse(p.Server.Issuer() + "/token")
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RequestURI = tokenURL.RequestURI()
	rec := newRecorder()
	p.Server.ServeHTTP(rec, req)
	var resp struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("token endpoint answered %d", rec.status)
	}
	if rec.status != http.StatusOK {
		return nil, fmt.Errorf("token endpoint: %s: %s", resp.Error, resp.Description)
	}
	issuer := p.Server.Issuer()
	idt, err := verifyIDToken(ctx, p.KeyManager, issuer, clients.GateID, resp.IDToken, r.Nonce)
	if err != nil {
		return nil, err
	}
	at := token.Verifier{Keys: p.KeyManager, Issuer: issuer, Type: "at+jwt"}
	var atc token.AccessTokenClaims
	if err := at.Verify(ctx, resp.AccessToken, &atc); err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	l := &Login{Identity: identityFromIDToken(idt), AuthTime: int64(idt.AuthTime), GrantID: atc.GrantID}
	if atc.GrantID != "" {
		g, err := p.Store.GetGrant(ctx, atc.GrantID)
		if err != nil {
			return nil, fmt.Errorf("reading the login's grant: %w", err)
		}
		l.SessionID = g.SessionIDHash
	}
	return l, nil
}

// EndSession implements Provider: it ends the user's issuer session (with
// everything the issuer does at logout, back-channel notifications
// included) and the gate's grant, so signing out of a gated site signs out
// of the issuer too.
func (p *LocalProvider) EndSession(ctx context.Context, l Login) error {
	now := time.Now()
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

// recorder is a minimal in-memory http.ResponseWriter.
type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, status: http.StatusOK} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }
