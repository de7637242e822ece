package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// NumericDate is a JWT NumericDate (RFC 7519 §2): seconds since the Unix
// epoch. It is encoded as a JSON integer. Decoding also accepts the
// non-integer values RFC 7519 allows, rounding them down.
type NumericDate int64

// NewNumericDate returns t as a NumericDate, truncated to the second.
func NewNumericDate(t time.Time) NumericDate { return NumericDate(t.Unix()) }

// Time returns d as a time.Time in UTC.
func (d NumericDate) Time() time.Time { return time.Unix(int64(d), 0).UTC() }

// UnmarshalJSON accepts a JSON number. null leaves d unchanged.
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*d = NumericDate(n)
		return nil
	}
	if len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return errors.New("token: NumericDate is not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("token: NumericDate is not a number")
	}
	f = math.Floor(f)
	// float64(math.MaxInt64) rounds up to 2^63, which does not fit.
	if f < math.MinInt64 || f >= math.MaxInt64 {
		return errors.New("token: NumericDate out of range")
	}
	*d = NumericDate(f)
	return nil
}

// Audience is the "aud" claim (RFC 7519 §4.1.3). It is encoded as a single
// string when it has exactly one value and as an array otherwise; decoding
// accepts both forms.
type Audience []string

// MarshalJSON encodes one value as a string, any other number of values as
// an array (an empty Audience as []).
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	if a == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string, an array of strings or null.
func (a *Audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*a = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	case len(b) > 0 && b[0] == '[':
		var ss []string
		if err := json.Unmarshal(b, &ss); err != nil {
			return errors.New("token: aud array must hold strings only")
		}
		*a = Audience(ss)
		return nil
	}
	return errors.New("token: aud must be a string or an array of strings")
}

// Contains reports whether aud is one of a's values (exact match).
func (a Audience) Contains(aud string) bool {
	for _, v := range a {
		if v == aud {
			return true
		}
	}
	return false
}

// AccessTokenClaims is the payload of a JWT access token (RFC 9068 §2.2).
// Required claims are always emitted; optional ones are omitted when zero.
type AccessTokenClaims struct {
	Issuer    string      `json:"iss"`                 // RFC 9068 §2.2: required
	Subject   string      `json:"sub"`                 // required
	Audience  Audience    `json:"aud"`                 // required; resource indicator(s), RFC 8707
	ClientID  string      `json:"client_id"`           // required; defined in RFC 8693 §4.3
	Scope     string      `json:"scope,omitempty"`     // space-separated, RFC 9068 §2.2.3
	Expiry    NumericDate `json:"exp"`                 // required
	IssuedAt  NumericDate `json:"iat"`                 // required
	NotBefore NumericDate `json:"nbf,omitempty"`       // optional
	JWTID     string      `json:"jti"`                 // required
	AuthTime  NumericDate `json:"auth_time,omitempty"` // RFC 9068 §2.2.1, when a user authenticated
	// ACR and AMR say how the user authenticated (RFC 9068 §2.2.1, OIDC
	// Core §2); empty without a user.
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
	// GrantID is a private claim naming the store.Grant the token was
	// issued under, so that revoking the grant revokes the token (checked at
	// introspection). Empty for grants without a user (client credentials).
	GrantID string `json:"grant_id,omitempty"`
	// IDP is a private claim naming the upstream identity provider the
	// user signed in through, when one did; gates pass it on.
	IDP string `json:"idp,omitempty"`
	// Confirmation binds the token to a key (RFC 7800 §3.1); for DPoP,
	// the key's thumbprint (RFC 9449 §6.1). Nil: a bearer token.
	Confirmation *Confirmation `json:"cnf,omitempty"`
	// Actor is the party acting for the subject (RFC 8693 §4.1), in a
	// token obtained by token exchange.
	Actor *Actor `json:"act,omitempty"`
}

// Confirmation is the cnf claim (RFC 7800 §3.1).
type Confirmation struct {
	JKT string `json:"jkt,omitempty"` // RFC 9449 §6.1
}

// Actor is the act claim (RFC 8693 §4.1): who acts, and for a chain of
// delegations, who acted before.
type Actor struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id,omitempty"`
	Actor    *Actor `json:"act,omitempty"`
}

// Scopes returns the scope claim split on spaces.
func (c *AccessTokenClaims) Scopes() []string { return strings.Fields(c.Scope) }

// IDTokenClaims is the payload of an OpenID Connect ID token (OIDC Core §2,
// §5.1). iss, sub, aud, exp and iat are always emitted; everything else is
// omitted when zero. Nonce, at_hash and auth_time are omitted when empty
// rather than emitted empty: OIDC Core §2 requires nonce only when the
// request carried one, and auth_time only when max_age or the auth_time
// claim was requested.
type IDTokenClaims struct {
	Issuer          string      `json:"iss"`
	Subject         string      `json:"sub"`
	Audience        Audience    `json:"aud"` // the client_id, OIDC Core §2
	Expiry          NumericDate `json:"exp"`
	IssuedAt        NumericDate `json:"iat"`
	AuthTime        NumericDate `json:"auth_time,omitempty"`
	Nonce           string      `json:"nonce,omitempty"`
	AccessTokenHash string      `json:"at_hash,omitempty"` // see AtHash, OIDC Core §3.1.3.6
	AuthorizedParty string      `json:"azp,omitempty"`     // OIDC Core §2
	SessionID       string      `json:"sid,omitempty"`     // OIDC Front/Back-Channel Logout

	// Standard claims (OIDC Core §5.1), released by scope.
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Email             string `json:"email,omitempty"`
	// EmailVerified is emitted whenever Email is: when Email is set and
	// EmailVerified is nil, "email_verified": false is written.
	EmailVerified *bool  `json:"email_verified,omitempty"`
	PhoneNumber   string `json:"phone_number,omitempty"`
	// PhoneNumberVerified follows the same rule as EmailVerified.
	PhoneNumberVerified *bool    `json:"phone_number_verified,omitempty"`
	Groups              []string `json:"groups,omitempty"`
	// IDP is Gatehouse's private claim naming the upstream provider the
	// user signed in through.
	IDP string `json:"idp,omitempty"`
	// ACR and AMR say how the user authenticated (OIDC Core §2).
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
}

// MarshalJSON encodes the claims, adding email_verified (and
// phone_number_verified) as false when email (phone_number) is present
// without it, so a relying party never has to guess.
func (c IDTokenClaims) MarshalJSON() ([]byte, error) {
	type plain IDTokenClaims // drops the method set, avoiding recursion
	p := plain(c)
	if p.Email != "" && p.EmailVerified == nil {
		p.EmailVerified = new(bool)
	}
	if p.PhoneNumber != "" && p.PhoneNumberVerified == nil {
		p.PhoneNumberVerified = new(bool)
	}
	return json.Marshal(p)
}

// Interface guards: a changed receiver would silently fall back to the
// default encoding.
var (
	_ json.Unmarshaler = (*NumericDate)(nil)
	_ json.Marshaler   = Audience(nil)
	_ json.Unmarshaler = (*Audience)(nil)
	_ json.Marshaler   = IDTokenClaims{}
)
