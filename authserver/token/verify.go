package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Verification errors. Verify wraps exactly one of them (or returns a
// KeySource error), so callers can branch with errors.Is. Messages never
// contain token contents.
var (
	// ErrMalformed: not a compact JWS, undecodable header or payload, a
	// missing exp, an unsupported crit or b64 header, or claims that do not
	// decode into the caller's type.
	ErrMalformed = errors.New("token: malformed")
	// ErrInvalidAlgorithm: the alg header is not allowed (including "none"
	// and HS*), or the key named by kid is not a key for that alg.
	ErrInvalidAlgorithm = errors.New("token: algorithm not allowed")
	// ErrUnknownKey: no kid header, or the KeySource has no key with it.
	ErrUnknownKey = errors.New("token: unknown signing key")
	// ErrInvalidSignature: the signature does not verify.
	ErrInvalidSignature = errors.New("token: invalid signature")
	// ErrInvalidType: the typ header is missing or not the expected one.
	ErrInvalidType = errors.New("token: wrong type")
	// ErrExpired: the exp claim has passed.
	ErrExpired = errors.New("token: expired")
	// ErrNotYetValid: the nbf claim, or the iat claim, is in the future.
	ErrNotYetValid = errors.New("token: not yet valid")
	// ErrInvalidIssuer: iss is missing or not the expected issuer.
	ErrInvalidIssuer = errors.New("token: wrong issuer")
	// ErrInvalidAudience: aud is missing or does not contain the expected
	// audience.
	ErrInvalidAudience = errors.New("token: wrong audience")
	// ErrMisconfigured: the Verifier lacks Keys or Issuer, or allows no
	// usable algorithm.
	ErrMisconfigured = errors.New("token: verifier misconfigured")
)

// DefaultLeeway is the clock skew a Verifier tolerates on exp, nbf and iat
// when its Leeway is zero.
const DefaultLeeway = 30 * time.Second

// MaxTokenSize is the longest token Verify will parse, in bytes. Gatehouse's
// own tokens are well under 8 KiB; the bound keeps hostile input cheap.
const MaxTokenSize = 64 << 10

// KeySource supplies verification keys.
type KeySource interface {
	// VerificationKeys returns the public keys whose kid is kid: usually
	// one, none when the kid is unknown (with a nil error). An error means
	// the keys could not be obtained at all.
	VerificationKeys(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}

// Interface guards: the package's key sources.
var (
	_ KeySource = (*KeyManager)(nil)
	_ KeySource = (*RemoteKeySet)(nil)
)

// Verifier checks signed JWTs. The zero value is not usable: Keys and
// Issuer are required. A Verifier is safe for concurrent use as long as its
// fields are not modified.
type Verifier struct {
	// Keys provides the public keys, looked up by the token's kid.
	Keys KeySource
	// Issuer must equal the iss claim exactly. Required.
	Issuer string
	// Audience, if non-empty, must be one of the aud claim's values.
	Audience string
	// Algorithms lists the JWS algorithms accepted. Empty means ES256,
	// RS256, PS256 and EdDSA. "none" and HS256/384/512 are never accepted,
	// even when listed; unknown names are ignored.
	Algorithms []string
	// Type, if non-empty, is the required typ header (RFC 8725 §3.11),
	// e.g. TypeAccessToken. It is compared case-insensitively, with an
	// "application/" prefix on either side ignored (RFC 7515 §4.1.9,
	// RFC 9068 §4).
	Type string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway (30 s); a negative value means none.
	Leeway time.Duration
	// IgnoreExpiry accepts a token whose exp has passed (exp must still be
	// present). Only for tokens used as hints of who someone was, such as
	// an id_token_hint at logout (OIDC RP-Initiated Logout §2), never for
	// tokens that grant access.
	IgnoreExpiry bool
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// registeredClaims are the claims Verify checks itself. Pointers tell an
// absent time claim from a zero one.
type registeredClaims struct {
	Issuer    string       `json:"iss"`
	Audience  Audience     `json:"aud"`
	Expiry    *NumericDate `json:"exp"`
	NotBefore *NumericDate `json:"nbf"`
	IssuedAt  *NumericDate `json:"iat"`
}

// Verify checks raw, a compact JWS, and on success decodes its payload into
// claims (when claims is non-nil) with encoding/json.
//
// The checks, in order: size and compact syntax; alg in the allowed set;
// no crit or b64 header (RFC 7515 §4.1.11: none is understood here); a kid
// is present (always required: Gatehouse sets it, and trying every key
// would let a token pick among keys); the KeySource has a key with that kid
// whose alg and type fit the header alg; the signature; typ when Type is
// set; exp (required), nbf and iat within leeway; iss; aud. Only then is the
// payload decoded into claims.
func (v *Verifier) Verify(ctx context.Context, raw string, claims any) error {
	if v.Keys == nil || v.Issuer == "" {
		return fmt.Errorf("%w: Keys and Issuer are required", ErrMisconfigured)
	}
	allowed := v.allowedAlgs()
	if len(allowed) == 0 {
		return fmt.Errorf("%w: no acceptable algorithm configured", ErrMisconfigured)
	}
	if len(raw) > MaxTokenSize {
		return fmt.Errorf("%w: token too large", ErrMalformed)
	}

	// ParseSignedCompact rejects the JSON serializations and any alg
	// outside allowed, which excludes "none" and HS*.
	jws, err := jose.ParseSignedCompact(raw, allowed)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return fmt.Errorf("%w: alg header not accepted", ErrInvalidAlgorithm)
		}
		return fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	if len(jws.Signatures) != 1 {
		return fmt.Errorf("%w: expected one signature", ErrMalformed)
	}
	hdr := jws.Signatures[0].Protected
	alg := hdr.Algorithm
	if _, ok := hdr.ExtraHeaders["crit"]; ok {
		return fmt.Errorf("%w: crit header not supported", ErrMalformed)
	}
	if _, ok := hdr.ExtraHeaders["b64"]; ok {
		return fmt.Errorf("%w: b64 header not supported", ErrMalformed)
	}
	if hdr.KeyID == "" {
		return fmt.Errorf("%w: no kid header", ErrUnknownKey)
	}

	keys, err := v.Keys.VerificationKeys(ctx, hdr.KeyID)
	if err != nil {
		return fmt.Errorf("token: fetching verification keys: %w", err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: no key with the token's kid", ErrUnknownKey)
	}
	var payload []byte
	verified := false
	fitting := 0
	for i := range keys {
		k := &keys[i]
		if k.KeyID != hdr.KeyID || !jwkFitsAlg(k, alg) {
			continue
		}
		fitting++
		// Pass the bare public key, never the JWK or a key set, so go-jose
		// cannot pick a different key on its own.
		if p, err := jws.Verify(k.Key); err == nil {
			payload, verified = p, true
			break
		}
	}
	if fitting == 0 {
		return fmt.Errorf("%w: the key with the token's kid is not a key for its alg", ErrInvalidAlgorithm)
	}
	if !verified {
		return ErrInvalidSignature
	}

	if v.Type != "" {
		typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
		if !sameMediaType(typ, v.Type) {
			return ErrInvalidType
		}
	}

	if err := exactClaimNames(payload, claims); err != nil {
		return err
	}
	var rc registeredClaims
	if err := json.Unmarshal(payload, &rc); err != nil {
		return fmt.Errorf("%w: claims are not a valid JWT claims set", ErrMalformed)
	}
	if err := v.checkTimes(&rc); err != nil {
		return err
	}
	if rc.Issuer != v.Issuer {
		return ErrInvalidIssuer
	}
	if v.Audience != "" && !rc.Audience.Contains(v.Audience) {
		return ErrInvalidAudience
	}
	if claims != nil {
		if err := json.Unmarshal(payload, claims); err != nil {
			return fmt.Errorf("%w: claims do not decode into %T", ErrMalformed, claims)
		}
	}
	return nil
}

// checkTimes applies RFC 7519 §4.1.4 (exp: reject at or after), §4.1.5
// (nbf: reject before) and a sanity check on iat, all with leeway.
func (v *Verifier) checkTimes(rc *registeredClaims) error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	leeway := v.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	if rc.Expiry == nil {
		return fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	if !v.IgnoreExpiry && !now.Before(rc.Expiry.Time().Add(leeway)) {
		return ErrExpired
	}
	if rc.NotBefore != nil && now.Add(leeway).Before(rc.NotBefore.Time()) {
		return ErrNotYetValid
	}
	if rc.IssuedAt != nil && now.Add(leeway).Before(rc.IssuedAt.Time()) {
		return fmt.Errorf("%w: issued in the future", ErrNotYetValid)
	}
	return nil
}

// allowedAlgs intersects the configured algorithms with verifiableAlgs.
func (v *Verifier) allowedAlgs() []jose.SignatureAlgorithm {
	names := v.Algorithms
	if len(names) == 0 {
		names = []string{ES256, RS256, PS256, EdDSA}
	}
	out := make([]jose.SignatureAlgorithm, 0, len(names))
	for _, n := range names {
		if verifiableAlgs[n] {
			out = append(out, jose.SignatureAlgorithm(n))
		}
	}
	return out
}

// sameMediaType compares typ values per RFC 7515 §4.1.9: media types are
// case-insensitive and "application/" may be omitted.
func sameMediaType(got, want string) bool {
	if got == "" {
		return false
	}
	return strings.EqualFold(trimApplication(got), trimApplication(want))
}

func trimApplication(s string) string {
	const p = "application/"
	if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
		return s[len(p):]
	}
	return s
}

// registeredNames are the claims Verify checks, plus sub and jti.
var registeredNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// exactClaimNames refuses a claims set with a member name that
// encoding/json would take for a claim of a different case ("ISS" or
// "aUd" for iss or aud): JSON names are case-sensitive (RFC 7519 §4,
// RFC 8259 §4), and Verify must never check one member while the caller
// reads another (found by FuzzVerifyClaims). dst's json tags name the
// caller's claims.
func exactClaimNames(payload []byte, dst any) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(payload, &members); err != nil {
		return fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
	}
	known := append(registeredNames[:len(registeredNames):len(registeredNames)], jsonNames(dst)...)
	for name := range members {
		for _, k := range known {
			if name != k && strings.EqualFold(name, k) {
				return fmt.Errorf("%w: claim name %q differs from %q only in case", ErrMalformed, truncateName(name), k)
			}
		}
	}
	return nil
}

// jsonNames lists the json names of the fields of the struct dst points
// to (none for maps and other types).
func jsonNames(dst any) []string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

func truncateName(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}
