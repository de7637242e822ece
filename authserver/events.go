package authserver

import (
	"context"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// EventType names a security-relevant action of the server. The values
// are stable: metrics are labelled with them and audit records carry them
// (docs/operations.md).
type EventType string

// The events, and the Result values each one takes.
const (
	// EventLogin is a password sign-in. Result: success, failure,
	// throttled (refused before the password was checked), busy (the
	// password hasher had no slot; nothing was checked).
	EventLogin EventType = "login"
	// EventAuthorization is a decision of the authorization endpoint.
	// Result: code_issued, login_page, consent_page, error.
	EventAuthorization EventType = "authorization"
	// EventTokenIssued is a successful token request; GrantType and
	// ClientType say which.
	EventTokenIssued EventType = "token_issued"
	// EventTokenRevoked is a revocation request that revoked something
	// (RFC 7009). Result: refresh_token, access_token.
	EventTokenRevoked EventType = "token_revoked"
	// EventRefreshReuse is a rotated refresh token presented again: its
	// grant is revoked (RFC 9700 §4.14.2).
	EventRefreshReuse EventType = "refresh_token_reuse"
	// EventCodeReplay is an authorization code redeemed twice: what it
	// issued is revoked (RFC 6749 §4.1.2).
	EventCodeReplay EventType = "code_replay"
	// EventConsent is a user's decision about an app. Result: granted,
	// denied, revoked.
	EventConsent EventType = "consent"
	// EventRegistration is dynamic client registration (RFC 7591, RFC
	// 7592). Result: created, updated, deleted.
	EventRegistration EventType = "client_registration"
	// EventThrottled is a request refused by a brute-force or rate
	// defence. Kind: login, client_auth, registration.
	EventThrottled EventType = "throttled"
	// EventReplay is a one-time proof presented again and refused. Kind:
	// client_assertion (RFC 7523 §3), dpop_proof (RFC 9449 §11.1).
	EventReplay EventType = "replay"
)

// Event is one security-relevant action. It never holds a secret, code,
// token or password: identifiers only.
type Event struct {
	Type   EventType
	Result string
	// Method is how a user signed in ("password").
	Method string
	// GrantType and ClientType describe an issued token (EventTokenIssued).
	GrantType  string
	ClientType string
	// Kind is what was throttled (EventThrottled).
	Kind string
	// Subject is the user's id when known; Username the name typed at a
	// sign-in.
	Subject  string
	Username string
	ClientID string
	GrantID  string
	Scopes   []string
	// ClientIP is the request's client address (ClientIP).
	ClientIP string
}

// Observer is told of every Event, synchronously, on the request's
// goroutine: implementations must be quick and safe for concurrent use.
// The Caddy module counts events as Prometheus metrics with one; the
// core itself depends on no metrics library.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// emit hands e to the configured observers.
func (s *Server) emit(ctx context.Context, e Event) {
	for _, o := range s.cfg.Observers {
		o.Observe(ctx, e)
	}
}

// emitFrom is emit with the client address of r filled in.
func (s *Server) emitFrom(r *http.Request, e Event) {
	e.ClientIP = ClientIP(r)
	s.emit(r.Context(), e)
}

// clientTypeOf is the metrics-safe description of a client: its type,
// never its id.
func clientTypeOf(c *clients.Client) string {
	if c == nil {
		return ""
	}
	return string(c.Type)
}
