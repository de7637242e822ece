package gate

import (
	"slices"
	"strings"
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
