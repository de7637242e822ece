package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// t0 is when the suite's story starts. Its sub-millisecond part checks that
// backends keep times to the millisecond and agree on how they truncate.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_897_932, time.UTC)

// redeemAt is when issue redeems its codes: after creation, before expiry.
var redeemAt = t0.Add(10 * time.Second)

// hashOf stands in for the hex SHA-256 the server stores instead of a raw
// credential.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newSession(name string) store.Session {
	return store.Session{
		IDHash:    hashOf("session:" + name),
		Subject:   "user-" + name,
		AuthTime:  t0.Add(-time.Minute),
		CreatedAt: t0,
		ExpiresAt: t0.Add(time.Hour),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) " + name + " ✓",
		AMR:       []string{"pwd", "otp", "mfa"},
	}
}

func newCode(name string) store.AuthCode {
	return store.AuthCode{
		Hash:                hashOf("code:" + name),
		GrantID:             "grant-" + name,
		ClientID:            "client-" + name,
		Subject:             "user-" + name,
		SessionIDHash:       hashOf("session:" + name),
		RedirectURI:         "https://app.example/callback?tenant=" + name,
		Scopes:              []string{"openid", "profile", "offline_access"},
		Resources:           []string{"https://api.example/", "urn:example:resource"},
		Nonce:               "nonce-" + name,
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		AuthTime:            t0.Add(-2 * time.Minute),
		AMR:                 []string{"pwd", "otp", "mfa"},
		CreatedAt:           t0,
		ExpiresAt:           t0.Add(time.Minute),
	}
}

// grantFor is the grant redeeming c creates.
func grantFor(c store.AuthCode) store.Grant {
	return store.Grant{
		ID:            c.GrantID,
		ClientID:      c.ClientID,
		Subject:       c.Subject,
		SessionIDHash: c.SessionIDHash,
		Scopes:        c.Scopes,
		Resources:     c.Resources,
		AuthTime:      c.AuthTime,
		AMR:           c.AMR,
		CreatedAt:     redeemAt,
		ExpiresAt:     t0.Add(30 * 24 * time.Hour),
		// Every grant carries a DPoP key binding, so each path that
		// reads a grant is checked to return it.
		DPoPJKT: "jkt-" + c.GrantID,
	}
}

// newToken is a refresh token of grant g created at created with a day of
// idle lifetime.
func newToken(g store.Grant, name string, created time.Time) store.RefreshToken {
	return store.RefreshToken{
		Hash:      hashOf("refresh:" + name),
		GrantID:   g.ID,
		CreatedAt: created,
		ExpiresAt: created.Add(24 * time.Hour),
	}
}

// family is what one redeemed code leaves behind.
type family struct {
	code  store.AuthCode // as created, before redemption
	grant store.Grant
	token store.RefreshToken // the first refresh token
}

// issue creates the code called name and redeems it at redeemAt into its
// grant and first refresh token. edit, when given, adjusts them first.
func issue(t *testing.T, s store.Store, name string, edit func(*family)) family {
	t.Helper()
	c := newCode(name)
	g := grantFor(c)
	f := family{code: c, grant: g, token: newToken(g, name+"/1", redeemAt)}
	if edit != nil {
		edit(&f)
	}
	must(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), f.code))
	must(t, "RedeemAuthCode", s.RedeemAuthCode(t.Context(), f.code.Hash, redeemAt, f.grant, &f.token))
	return f
}

// probe names records whose state a failed call must not change.
type probe struct {
	sessions, codes, grants, tokens []string
}

// observation is one probed record, or the fact that there is none.
type observation struct {
	Kind, Key string
	Missing   bool
	Value     any
}

// tokenAndGrant is what GetRefreshToken returns.
type tokenAndGrant struct {
	Token store.RefreshToken
	Grant store.Grant
}

// observe reads every record p names.
func observe(t *testing.T, s store.Store, p probe) []observation {
	t.Helper()
	ctx := t.Context()
	var obs []observation
	add := func(kind, key string, v any, err error) {
		t.Helper()
		switch {
		case errors.Is(err, store.ErrNotFound):
			obs = append(obs, observation{Kind: kind, Key: key, Missing: true})
		case err != nil:
			t.Fatalf("reading %s %s: %v", kind, key, err)
		default:
			obs = append(obs, observation{Kind: kind, Key: key, Value: v})
		}
	}
	for _, k := range p.sessions {
		v, err := s.GetSession(ctx, k)
		add("session", k, v, err)
	}
	for _, k := range p.codes {
		v, err := s.GetAuthCode(ctx, k)
		add("auth code", k, v, err)
	}
	for _, k := range p.grants {
		v, err := s.GetGrant(ctx, k)
		add("grant", k, v, err)
	}
	for _, k := range p.tokens {
		tok, g, err := s.GetRefreshToken(ctx, k)
		add("refresh token", k, tokenAndGrant{tok, g}, err)
	}
	return obs
}

// checkUnchanged fails unless the records p names are as in before.
func checkUnchanged(t *testing.T, s store.Store, p probe, before []observation) {
	t.Helper()
	after := observe(t, s, p)
	for i, b := range before {
		a := after[i]
		what := b.Kind + " " + b.Key
		switch {
		case b.Missing && !a.Missing:
			t.Errorf("%s was created by a call that failed", what)
		case !b.Missing && a.Missing:
			t.Errorf("%s was deleted by a call that failed", what)
		case !b.Missing:
			checkEqual(t, what+" after a failed call", a.Value, b.Value)
		}
	}
}

// checkMissing fails unless every record p names is gone.
func checkMissing(t *testing.T, s store.Store, p probe) {
	t.Helper()
	for _, o := range observe(t, s, p) {
		if !o.Missing {
			t.Errorf("%s %s still exists", o.Kind, o.Key)
		}
	}
}
