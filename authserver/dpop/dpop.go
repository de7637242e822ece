// Package dpop checks DPoP proofs (RFC 9449): a JWT signed by a key the
// client holds, bound to one HTTP request (method and URL), fresh (iat),
// used once (jti), and for a resource request, to the access token (ath).
// The token endpoint binds tokens to the key's thumbprint (cnf.jkt); the
// UserInfo endpoint and the gate check that the proof's key is the one
// the token is bound to.
package dpop

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Error codes of RFC 9449 §12.2.
const (
	CodeInvalidProof = "invalid_dpop_proof"
	CodeUseNonce     = "use_dpop_nonce"
)

// Error is a refused proof: Code says which RFC 9449 error it is.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidProof, Description: fmt.Sprintf(format, args...)}
}

const (
	// MaxProofSize bounds a proof before it is parsed.
	MaxProofSize = 4 * 1024
	// DefaultMaxAge is how old a proof's iat may be; proofs are made per
	// request, so this only absorbs latency and clock differences.
	DefaultMaxAge = 5 * time.Minute
	// futureLeeway is how far ahead of the server's clock iat may be.
	futureLeeway = 30 * time.Second
	maxJTI       = 256
	nonceBytes   = 8 + 16 // issue time, then a truncated HMAC
)

// Algorithms are the proof signature algorithms accepted: asymmetric
// only (RFC 9449 §4.3 item 5), advertised as
// dpop_signing_alg_values_supported.
func Algorithms() []string {
	out := make([]string, 0, len(clients.AssertionAlgs))
	for _, a := range clients.AssertionAlgs {
		out = append(out, string(a))
	}
	return out
}

// Replay records one-time identifiers; store.Store is one, which shares
// the record between instances.
type Replay interface {
	UseOnce(ctx context.Context, id string, now, expiresAt time.Time) error
}

// Verifier checks proofs.
type Verifier struct {
	Replay Replay
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// MaxAge: DefaultMaxAge if zero.
	MaxAge time.Duration
	// NonceKey, when set, makes server nonces (RFC 9449 §8) mandatory:
	// a proof must carry a nonce this key issued within MaxAge.
	NonceKey []byte
}

// Request is what a proof must match.
type Request struct {
	// Proofs are the request's DPoP header values: exactly one is
	// accepted (RFC 9449 §4.3 item 1).
	Proofs []string
	Method string
	// URL is the request's URL; query and fragment are ignored (§4.3
	// item 9).
	URL string
	// AccessToken, for a resource request, must match the proof's ath
	// (§4.3 item 11); "" at the token endpoint, where ath is refused.
	AccessToken string
	// JKT, when set, is the thumbprint the proof's key must have: the
	// access token's cnf.jkt or the refresh token's binding.
	JKT string
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the JWK SHA-256 thumbprint of the proof's key (RFC 7638),
	// base64url: what cnf.jkt carries.
	JKT      string
	IssuedAt time.Time
}

type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   *int64 `json:"iat"`
	ATH   string `json:"ath"`
	Nonce string `json:"nonce"`
}

// Verify checks req's proof as RFC 9449 §4.3 lists, then records its jti
// so that it is accepted once (§11.1). A store that cannot be asked is
// reported as store.ErrUnavailable, not as a bad proof.
func (v *Verifier) Verify(ctx context.Context, req Request) (*Proof, error) {
	now := v.now()
	maxAge := v.maxAge()
	if len(req.Proofs) != 1 {
		return nil, invalid("exactly one DPoP header is required")
	}
	raw := req.Proofs[0]
	if len(raw) > MaxProofSize {
		return nil, invalid("the DPoP proof is too large")
	}
	jws, err := jose.ParseSignedCompact(raw, clients.AssertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, invalid("the DPoP proof is not a JWS signed with an asymmetric algorithm (with a public jwk)")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return nil, invalid(`the DPoP proof's typ must be "dpop+jwt"`)
	}
	if h.JSONWebKey == nil {
		return nil, invalid("the DPoP proof has no jwk header")
	}
	jwk := *h.JSONWebKey
	if err := clients.CheckPublicKey(jwk); err != nil {
		return nil, invalid("the DPoP proof's jwk: %v", err)
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, invalid("the DPoP proof's signature does not verify with its jwk")
	}
	var c proofClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, invalid("the DPoP proof's claims are malformed")
	}
	switch {
	case c.JTI == "" || len(c.JTI) > maxJTI:
		return nil, invalid("the DPoP proof needs a jti of at most %d characters", maxJTI)
	case c.IAT == nil:
		return nil, invalid("the DPoP proof has no iat")
	case c.HTM != req.Method:
		return nil, invalid("the DPoP proof's htm is not this request's method")
	}
	want, err := NormalizeHTU(req.URL)
	if err != nil {
		return nil, fmt.Errorf("dpop: the request URL: %w", err)
	}
	if got, err := NormalizeHTU(c.HTU); err != nil || got != want {
		return nil, invalid("the DPoP proof's htu is not this request's URL")
	}
	iat := time.Unix(*c.IAT, 0)
	if iat.After(now.Add(futureLeeway)) || iat.Before(now.Add(-maxAge)) {
		return nil, invalid("the DPoP proof's iat is outside the accepted window")
	}
	switch {
	case req.AccessToken == "" && c.ATH != "":
		return nil, invalid("the DPoP proof has an ath but no access token was presented")
	case req.AccessToken != "" && !hmac.Equal([]byte(c.ATH), []byte(TokenHash(req.AccessToken))):
		return nil, invalid("the DPoP proof's ath does not match the access token")
	}
	if v.NonceKey != nil && !v.validNonce(c.Nonce, now) {
		return nil, &Error{Code: CodeUseNonce, Description: "the DPoP proof must carry the server's current nonce"}
	}
	jkt, err := Thumbprint(jwk)
	if err != nil {
		return nil, invalid("the DPoP proof's jwk has no thumbprint")
	}
	if req.JKT != "" && !hmac.Equal([]byte(jkt), []byte(req.JKT)) {
		return nil, invalid("the DPoP proof's key is not the one the token is bound to")
	}
	// The record outlives the proof's acceptance window.
	id := "dpop:" + hashOf(jkt+"\x00"+c.JTI)
	switch err := v.Replay.UseOnce(ctx, id, now, iat.Add(maxAge+futureLeeway)); {
	case errors.Is(err, store.ErrReplay):
		return nil, invalid("the DPoP proof has already been used")
	case err != nil:
		return nil, err
	}
	return &Proof{JKT: jkt, IssuedAt: iat}, nil
}

// Nonce returns a fresh server nonce, or "" without NonceKey. Nonces are
// stateless: the issue time and an HMAC of it, so every instance sharing
// the key accepts them.
func (v *Verifier) Nonce() string {
	if v.NonceKey == nil {
		return ""
	}
	b := make([]byte, 8, nonceBytes)
	binary.BigEndian.PutUint64(b, uint64(v.now().Unix()))
	b = append(b, v.mac(b[:8])...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (v *Verifier) validNonce(n string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != nonceBytes || !hmac.Equal(b[8:], v.mac(b[:8])) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	return !issued.After(now.Add(futureLeeway)) && now.Sub(issued) <= v.maxAge()
}

func (v *Verifier) mac(b []byte) []byte {
	m := hmac.New(sha256.New, v.NonceKey)
	m.Write([]byte("gatehouse dpop nonce\x00"))
	m.Write(b)
	return m.Sum(nil)[:16]
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Verifier) maxAge() time.Duration {
	if v.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return v.MaxAge
}

// Thumbprint is the JWK SHA-256 thumbprint (RFC 7638), base64url.
func Thumbprint(k jose.JSONWebKey) (string, error) {
	tp, err := k.Thumbprint(crypto256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// TokenHash is the ath of an access token (RFC 9449 §4.2): base64url of
// its SHA-256.
func TokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NormalizeHTU compares URLs as RFC 9449 §4.3 item 9 asks: without query
// and fragment, scheme and host lower-cased, default ports dropped, an
// empty path as "/" (RFC 3986 §6.2.2 and §6.2.3).
func NormalizeHTU(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
		return "", errors.New("not an absolute URL")
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// crypto256 is SHA-256 for jose's thumbprints.
var crypto256 = crypto.SHA256
