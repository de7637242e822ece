package gate

import (
	"slices"
	"strings"
	"time"
)

// Policy says who may pass. Identity rules (users, usernames, emails,
// email domains, groups) allow a caller who matches any of them; with none
// configured every authenticated user matches. Scopes are all required,
// and apply to Bearer tokens: a browser session is the user themself, not
// an app acting for them, so it carries no scopes to check. Client rules
// apply to Bearer tokens for the same reason: the app (client_id) a token
// was issued to must be one of Clients when any are listed, and none of
// DenyClients.
type Policy struct {
	Users        []string // subject ids
	Usernames    []string
	Emails       []string // compared case-insensitively; verified emails only
	EmailDomains []string // "example.com" matches alice@example.com; verified emails only
	Groups       []string
	Scopes       []string
	Clients      []string // client ids allowed to call with a token; empty: any
	DenyClients  []string // client ids refused
	// RequireMFA admits only callers who proved more than one factor
	// (amr contains "mfa", RFC 8176). RequireACR admits only callers
	// whose acr is that class or, for Gatehouse's own classes, a stronger
	// one. Browsers are sent through a step-up login; Bearer tokens
	// without it get RFC 9470's insufficient_user_authentication.
	RequireMFA bool
	RequireACR string
	// MaxAge, when positive, admits only callers who authenticated at
	// most this long ago (auth_time; OIDC Core §3.1.2.1 max_age, RFC 9470
	// §3). A caller whose auth_time is unknown is too old.
	MaxAge time.Duration
}

// Gatehouse's authentication classes, weakest first (authserver/amr.go).
var gatehouseACRs = []string{"urn:gatehouse:acr:pwd", "urn:gatehouse:acr:mfa"}

// requiredACR is the class a step-up asks for; "" when none is required.
func (p *Policy) requiredACR() string {
	if p.RequireACR != "" {
		return p.RequireACR
	}
	if p.RequireMFA {
		return gatehouseACRs[1]
	}
	return ""
}

// authenticationMet reports whether id authenticated as strongly, and
// as recently (at now), as the policy requires.
func (p *Policy) authenticationMet(id *Identity, now time.Time) bool {
	if p.MaxAge > 0 && (id.AuthTime <= 0 || now.Sub(time.Unix(id.AuthTime, 0)) > p.MaxAge) {
		return false
	}
	if p.RequireMFA && !slices.Contains(id.AMR, "mfa") {
		return false
	}
	if want := p.RequireACR; want != "" && id.ACR != want {
		have, need := slices.Index(gatehouseACRs, id.ACR), slices.Index(gatehouseACRs, want)
		if have < 0 || need < 0 || have < need {
			return false
		}
	}
	return true
}

func (p *Policy) hasIdentityRules() bool {
	return len(p.Users)+len(p.Usernames)+len(p.Emails)+len(p.EmailDomains)+len(p.Groups) > 0
}

// allowsIdentity reports whether the identity rules admit id. A client
// acting as itself (SourceClient) is no user: user rules never admit it,
// and neither does their absence; allowsClient alone decides.
func (p *Policy) allowsIdentity(id *Identity) bool {
	if id.Source == SourceClient {
		return true
	}
	if !p.hasIdentityRules() {
		return true
	}
	if slices.Contains(p.Users, id.Subject) || (id.Username != "" && slices.Contains(p.Usernames, id.Username)) {
		return true
	}
	for _, g := range id.Groups {
		if slices.Contains(p.Groups, g) {
			return true
		}
	}
	// Email rules trust the issuer's statement that the address is the
	// user's, so they need email_verified: an issuer that lets users type
	// any address must not let them pass as someone else.
	if id.Email == "" || !id.EmailVerified {
		return false
	}
	for _, e := range p.Emails {
		if strings.EqualFold(e, id.Email) {
			return true
		}
	}
	if at := strings.LastIndexByte(id.Email, '@'); at >= 0 {
		domain := id.Email[at+1:]
		for _, d := range p.EmailDomains {
			if strings.EqualFold(d, domain) {
				return true
			}
		}
	}
	return false
}

// allowsClient reports whether the client rules admit id: only Bearer
// identities are an app acting for the user. A client acting as itself
// must be named by an allow client rule: with none, a gate is for users
// only, so enabling client_credentials opens no existing gate.
func (p *Policy) allowsClient(id *Identity) bool {
	if !id.IsToken() {
		return true
	}
	if slices.Contains(p.DenyClients, id.ClientID) {
		return false
	}
	if id.Source == SourceClient {
		return slices.Contains(p.Clients, id.ClientID)
	}
	return len(p.Clients) == 0 || slices.Contains(p.Clients, id.ClientID)
}

// missingScopes returns the required scopes a Bearer identity lacks.
func (p *Policy) missingScopes(id *Identity) []string {
	if !id.IsToken() {
		return nil
	}
	var missing []string
	for _, s := range p.Scopes {
		if !id.HasScope(s) {
			missing = append(missing, s)
		}
	}
	return missing
}
