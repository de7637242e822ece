package authserver

import "net/url"

// choosePasswordPath is the page where an invitation or reset link lets
// its user choose a password.
const choosePasswordPath = "/account/choose-password"

// ChoosePasswordURL is the link that carries an invitation or password
// reset token (accounts.Manager.Invite, ResetLink) to the page where its
// user chooses a password.
func (s *Server) ChoosePasswordURL(token string) string {
	return s.Issuer() + choosePasswordPath + "?" + url.Values{"token": {token}}.Encode()
}
