package token

import (
	"context"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// The user methods of memStore: key management never calls them.

func (s *memStore) CreateUser(context.Context, store.User) error { return errNotImplemented }
func (s *memStore) GetUser(context.Context, string) (store.User, error) {
	return store.User{}, errNotImplemented
}
func (s *memStore) GetUserByUsername(context.Context, string) (store.User, error) {
	return store.User{}, errNotImplemented
}
func (s *memStore) GetUserByEmail(context.Context, string) (store.User, error) {
	return store.User{}, errNotImplemented
}
func (s *memStore) ListUsers(context.Context, store.UserFilter) ([]store.User, error) {
	return nil, errNotImplemented
}
func (s *memStore) UpdateUser(context.Context, store.User) error { return errNotImplemented }
func (s *memStore) SetUserPassword(context.Context, string, string, time.Time) error {
	return errNotImplemented
}
func (s *memStore) RecordUserLogin(context.Context, string, time.Time) error {
	return errNotImplemented
}
func (s *memStore) SetUserDisabled(context.Context, string, bool, time.Time) error {
	return errNotImplemented
}
func (s *memStore) DeleteUser(context.Context, string, time.Time) error { return errNotImplemented }
func (s *memStore) RevokeUserSessions(context.Context, string, string, time.Time) (int, int, error) {
	return 0, 0, errNotImplemented
}
func (s *memStore) ListUserSessions(context.Context, string, time.Time, int) ([]store.Session, error) {
	return nil, errNotImplemented
}
func (s *memStore) CreateUserToken(context.Context, store.UserToken) error { return errNotImplemented }
func (s *memStore) GetUserToken(context.Context, string) (store.UserToken, error) {
	return store.UserToken{}, errNotImplemented
}
func (s *memStore) UseUserToken(context.Context, string, store.UserTokenKind, time.Time) (store.UserToken, error) {
	return store.UserToken{}, errNotImplemented
}
