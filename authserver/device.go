package authserver

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// Device cookies answer lockout abuse, following OWASP's "Slow Down
// Online Guessing Attacks with Device Cookies": anyone who knows alice's
// username can lock her account by guessing (throttle.go), so a browser
// in which alice has signed in before is told apart from the rest. After
// a successful password login the server sets a device cookie naming the
// account; a later attempt for that same account from a browser that
// presents it skips the account's and the address's counters and is
// counted on the cookie alone, with the usual back-off and lock. Once the
// cookie itself is locked it earns nothing: the attempt is throttled like
// any other browser's. So a stolen cookie buys its thief at most the
// normal number of guesses, while everyone without one, the attacker
// included, is throttled exactly as before.

const (
	deviceCookie = "gatehouse_device"
	// deviceCookieLifetime is how long a browser stays trusted for an
	// account after a successful sign-in there; each sign-in renews it.
	deviceCookieLifetime = 180 * 24 * time.Hour
)

// deviceCookieValue is what the device cookie carries, encrypted and
// authenticated (session.Codec, under its own key and name).
type deviceCookieValue struct {
	Subject  string `json:"s"` // the user id the browser signed in as
	Nonce    string `json:"n"` // random; names this cookie's failure counter
	IssuedAt int64  `json:"t"` // unix seconds
}

// minDeviceNonce is the length of a device nonce as issued (128 bits,
// base64url), below which a decoded value cannot be ours.
const minDeviceNonce = 22

// trustedDevice returns the throttle key of the device cookie r carries
// for the user with id subject, or "" when it carries none that is valid:
// absent, not sealed by this server's device key, for another user, or
// older than deviceCookieLifetime.
func (s *Server) trustedDevice(r *http.Request, subject string) string {
	c, err := r.Cookie(s.cookies.Name(deviceCookie))
	if err != nil || c.Value == "" {
		return ""
	}
	var v deviceCookieValue
	if s.devices.Decode(deviceCookie, c.Value, &v) != nil {
		return ""
	}
	now, issued := s.now(), time.Unix(v.IssuedAt, 0)
	if v.Subject != subject || len(v.Nonce) < minDeviceNonce ||
		issued.After(now.Add(time.Minute)) || !now.Before(issued.Add(deviceCookieLifetime)) {
		return ""
	}
	return throttle.DeviceKey(v.Nonce)
}

// setDeviceCookie marks this browser as one where subject signed in: a
// fresh nonce and issue time each time, so every success renews it.
// __Host- prefixed (when the issuer is https), Secure, HttpOnly and
// SameSite=Strict: only the login form, which this server serves, ever
// needs it.
func (s *Server) setDeviceCookie(w http.ResponseWriter, r *http.Request, subject string) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	value, err := s.devices.Encode(deviceCookie, deviceCookieValue{
		Subject: subject, Nonce: base64.RawURLEncoding.EncodeToString(b), IssuedAt: s.now().Unix(),
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "sealing a device cookie failed", "error", err)
		return
	}
	c := s.cookies.Cookie(deviceCookie, value, deviceCookieLifetime)
	c.SameSite = http.SameSiteStrictMode
	http.SetCookie(w, c)
}
