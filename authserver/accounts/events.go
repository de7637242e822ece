package accounts

import (
	"context"
	"strings"
)

// Event is a change to an account, told to the function OnEvent set: the
// same name and subject as the log record of the change. It holds no
// secret.
type Event struct {
	// Name is the stable event name: user.created, user.updated,
	// user.password_changed, user.disabled, user.enabled, user.deleted,
	// user.sessions_revoked, user.invited, user.reset_requested,
	// user.invite_used, user.reset_used, user.email_verified,
	// user.factors_reset, ...
	Name string
	// Subject is the user's id; Username is set when the change names it
	// (user.created).
	Subject  string
	Username string
}

// Action is Name without its "user." prefix ("created").
func (e Event) Action() string { return strings.TrimPrefix(e.Name, "user.") }

// OnEvent sets the function told of every account change, after it was
// made, on the caller's goroutine (authserver.New routes them to the
// server's observers, so they reach the audit trail). The last call wins;
// nil stops the calls.
func (m *Manager) OnEvent(fn func(ctx context.Context, e Event)) {
	if fn == nil {
		m.onEvent.Store(nil)
		return
	}
	m.onEvent.Store(&fn)
}
