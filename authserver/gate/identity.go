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
	// SourceClient is a Bearer token a client got for itself
	// (client_credentials, RFC 6749 §4.4): no user is behind it.
	SourceClient Source = "client"
)

// bearerSource tells a client's own token from one issued for a user.
func bearerSource(clientOwn bool) Source {
	if clientOwn {
		return SourceClient
	}
	return SourceBearer
}

// IsToken reports whether the identity came from a Bearer token, a user's
// or a client's own.
func (id *Identity) IsToken() bool { return id.Source == SourceBearer || id.Source == SourceClient }

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
	// IDP names the upstream identity provider the user signed in
	// through at the issuer (its idp claim), or "".
	IDP string
	// ACR and AMR say how the user authenticated (OIDC Core §2, RFC
	// 8176), AuthTime when (Unix seconds; 0 when unknown).
	ACR      string
	AMR      []string
	AuthTime int64

	grantID   string // for revocation checks
	sessionID string // issuer session id hash, for revocation checks
	tokenID   string // access token jti, for revocation checks
	jkt       string // the DPoP key the token is bound to (cnf.jkt), or ""

	prep *prepared // set once, before the identity is shared (prepared.go)
}

// Claim returns the value of a claim by its JWT/OIDC name, as a header
// would carry it ("" when absent). Lists are comma-separated (groups) or
// space-separated (scope, as in the token).
func (id *Identity) Claim(name string) string {
	if id.prep != nil {
		if i := claimIndex(name); i >= 0 {
			return id.prep.claims[i]
		}
		return ""
	}
	return id.claim(name)
}

// claimIndex is name's index in KnownClaims, or -1.
func claimIndex(name string) int {
	switch name {
	case "sub":
		return 0
	case "preferred_username":
		return 1
	case "email":
		return 2
	case "email_verified":
		return 3
	case "name":
		return 4
	case "groups":
		return 5
	case "scope":
		return 6
	case "client_id":
		return 7
	case "iss":
		return 8
	case "auth_source":
		return 9
	case "idp":
		return 10
	case "amr":
		return 11
	case "acr":
		return 12
	}
	return -1
}

// claim computes Claim.
func (id *Identity) claim(name string) string {
	switch name {
	case "sub":
		if id.Source == SourceClient {
			return "" // not a user: the upstream gets the client id alone
		}
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
	case "idp":
		return id.IDP
	case "amr":
		return strings.Join(id.AMR, " ")
	case "acr":
		return id.ACR
	}
	return ""
}

// HasScope reports whether the identity was granted scope.
func (id *Identity) HasScope(scope string) bool { return slices.Contains(id.Scopes, scope) }
