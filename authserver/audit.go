package authserver

import (
	"context"
	"log/slog"
	"strings"

	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
)

// Events of administration, emitted by the host (the Caddy module's admin
// API) through the same observers as the server's own.
const (
	// EventKeyRotation is a rotation of the signing keys started by an
	// operator. Result: started.
	EventKeyRotation EventType = "key_rotation"
	// EventClientAdmin is a change to a Connected App through the admin
	// API. Result: created, updated, deleted, secret_rotation_start,
	// secret_rotation_complete, secret_rotation_cancel.
	EventClientAdmin EventType = "client_admin"
	// EventUser is a change to a stored user's account (accounts.Event),
	// by the admin API, the account pages or a sign-in. Result: the
	// change (created, updated, password_changed, disabled, enabled,
	// deleted, sessions_revoked, invited, reset_requested, ...). ClientIP is
	// the address the host put in the request's context (WithClientIP),
	// the admin API caller's for its changes.
	EventUser EventType = "user"
)

// AuditLogName is the name of the audit logger the Caddy module uses, so
// that operators can send audit records to a log of their own.
const AuditLogName = "gatehouse.audit"

// AuditLog returns an Observer that writes every event to log as one
// record at level Info: the message is the event type, and the fields,
// each present only when set, are
//
//	event        the event type (as the message)
//	result       what happened (per event type; events.go)
//	method       how a user signed in
//	grant_type   client_type   of an issued token
//	kind         what was throttled
//	user_id      the user's id; username: the name typed at a sign-in
//	client_id    grant_id
//	scope        space-separated scopes
//	client_ip    the request's client address (for admin events, the
//	             admin API caller's)
//
// The schema is stable (docs/operations.md). Events never carry a secret,
// code, token or password, so neither do the records.
func AuditLog(log *slog.Logger) Observer {
	return ObserverFunc(func(ctx context.Context, e Event) {
		attrs := make([]slog.Attr, 0, 8)
		add := func(k, v string) {
			if v != "" {
				attrs = append(attrs, slog.String(k, v))
			}
		}
		add("event", string(e.Type))
		add("result", e.Result)
		add("method", e.Method)
		add("grant_type", e.GrantType)
		add("client_type", e.ClientType)
		add("kind", e.Kind)
		add("user_id", e.Subject)
		add("username", e.Username)
		add("client_id", e.ClientID)
		add("grant_id", e.GrantID)
		add("scope", strings.Join(e.Scopes, " "))
		add("client_ip", e.ClientIP)
		log.LogAttrs(ctx, slog.LevelInfo, string(e.Type), attrs...)
	})
}

// Emit hands an event of the host's (an administrative action) to the
// server's observers, as the server's own events are.
func (s *Server) Emit(ctx context.Context, e Event) { s.emit(ctx, e) }

// routeAccountEvents makes the account changes of m events of s.
func (s *Server) routeAccountEvents(m *accounts.Manager) {
	m.OnEvent(func(ctx context.Context, e accounts.Event) {
		ip, _ := ctx.Value(clientIPKey{}).(string)
		s.emit(ctx, Event{Type: EventUser, Result: e.Action(), Subject: e.Subject, Username: e.Username, ClientIP: ip})
	})
}
