package gate

import (
	"slices"
	"strings"
)

// Source says how a request was authenticated.
type Source string

const (
	SourceSession Source = "session"
	SourceBearer  Source = "bearer"
)

// Identity is a verified caller.
type Identity struct {
	Subject       string
	Username      string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	Scopes        []string // granted scopes (Bearer tokens)
	ClientID      string   // the app the token was issued to (Bearer tokens)
	Issuer        string
	Source        Source

	grantID   string // for revocation checks
	sessionID string // issuer session id hash, for revocation checks
	tokenID   string // access token jti, for revocation checks
}

// Claim returns the value of a claim by its JWT/OIDC name, as a header
// would carry it ("" when absent). Lists are comma-separated (groups) or
// space-separated (scope, as in the token).
func (id *Identity) Claim(name string) string {
	switch name {
	case "sub":
		return id.Subject
	case "preferred_username":
		return id.Username
	case "email":
		return id.Email
	case "email_verified":
		if id.Email == "" {
			return ""
		}
		if id.EmailVerified {
			return "true"
		}
		return "false"
	case "name":
		return id.Name
	case "groups":
		return strings.Join(id.Groups, ",")
	case "scope":
		return strings.Join(id.Scopes, " ")
	case "client_id":
		return id.ClientID
	case "iss":
		return id.Issuer
	case "auth_source":
		return string(id.Source)
	}
	return ""
}

// HasScope reports whether the identity was granted scope.
func (id *Identity) HasScope(scope string) bool { return slices.Contains(id.Scopes, scope) }
