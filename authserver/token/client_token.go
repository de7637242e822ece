package token

// IsClientToken reports whether access token claims are a client's own,
// issued by the client_credentials grant (RFC 6749 §4.4): the subject is
// the client itself (RFC 9068 §2.2), and nothing names a user's grant or
// sign-in. Gatehouse's tokens for a user always carry both grant_id and
// auth_time, so they are never taken for a client's; an issuer must keep
// client ids and user subjects apart (RFC 9068 §5).
func (c *AccessTokenClaims) IsClientToken() bool {
	return c.Subject != "" && c.Subject == c.ClientID && c.GrantID == "" && c.AuthTime == 0
}
