package authserver

import (
	"context"
	"slices"
)

// GateUser is a user's profile as a gate of this server passes it to its
// upstream for a request admitted by an access token: the same claims a
// browser session's ID token gives it.
type GateUser struct {
	PreferredUsername string
	Name              string
	Email             string
	EmailVerified     bool
	Groups            []string
}

// GateUser returns the profile of the user with that subject. The error
// wraps identity.ErrNotFound when there is no such user any more, and is
// anything else when the directory could not be asked.
func (s *Server) GateUser(ctx context.Context, subject string) (*GateUser, error) {
	u, err := s.cfg.Users.UserByID(ctx, subject)
	if err != nil {
		return nil, err
	}
	return &GateUser{
		PreferredUsername: u.Username,
		Name:              u.Name,
		Email:             u.Email,
		EmailVerified:     u.EmailVerified,
		Groups:            slices.Clone(u.Groups),
	}, nil
}
