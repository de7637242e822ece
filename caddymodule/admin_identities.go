package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// identityJSON is a linked upstream identity in the admin API.
type identityJSON struct {
	Provider        string     `json:"provider"`
	UpstreamSubject string     `json:"upstream_subject"`
	Email           string     `json:"email"`
	CreatedAt       time.Time  `json:"created_at"`
	LastLoginAt     *time.Time `json:"last_login_at"`
}

// linkedIdentities lists a user's linked identities; nil when the store
// keeps none.
func (a *AdminUsers) linkedIdentities(r *http.Request, id string) ([]identityJSON, error) {
	fs, ok := a.app.store.(store.FederationStore)
	if !ok {
		return nil, nil
	}
	links, err := fs.ListLinkedIdentities(r.Context(), id)
	if err != nil {
		return nil, err
	}
	out := []identityJSON{}
	for _, l := range links {
		out = append(out, identityJSON{Provider: l.Provider, UpstreamSubject: l.UpstreamSubject, Email: l.Email,
			CreatedAt: l.CreatedAt, LastLoginAt: timePtr(l.LastLoginAt)})
	}
	return out, nil
}

// unlinkIdentity answers DELETE /gatehouse/users/{id}/identities/{provider}/{subject}.
// The user keeps their id; the upstream account is free to be linked again.
func (a *AdminUsers) unlinkIdentity(w http.ResponseWriter, r *http.Request, id, provider, subject string) error {
	if r.Method != http.MethodDelete {
		return methodNotAllowed(w, "DELETE")
	}
	fs, ok := a.app.store.(store.FederationStore)
	if !ok {
		return apiError(http.StatusNotFound, adminNotFound, "the store keeps no linked identities")
	}
	err := fs.UnlinkIdentity(r.Context(), id, provider, subject)
	if errors.Is(err, store.ErrNotFound) {
		return apiError(http.StatusNotFound, adminNotFound, "the user has no such linked identity")
	} else if err != nil {
		return a.failUser(r, err)
	}
	a.app.audit(r.Context(), r, authserver.Event{Type: authserver.EventUser, Result: "identity_unlinked", Subject: id, Kind: provider})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
