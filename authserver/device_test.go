package authserver

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
	"github.com/gatehouse-auth/gatehouse/authserver/throttle"
)

// loginLab drives the login form of a test server directly, with a
// clock of its own and login throttling on.
type loginLab struct {
	t   *testing.T
	s   *Server
	now time.Time
}

func newLoginLab(t *testing.T) *loginLab {
	t.Helper()
	s := newTestServer(t, fuzzIssuer, "")
	var users []*identity.User
	for _, name := range []string{"alice", "bob"} {
		raw, err := identity.HashPassword(name+"-pw", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
		if err != nil {
			t.Fatal(err)
		}
		h, err := identity.ParsePasswordHash(raw)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, &identity.User{ID: name, Username: name, Password: h})
	}
	dir, err := identity.NewStaticDirectory(users)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Users = dir
	l := &loginLab{t: t, s: s, now: time.Now()}
	s.now = func() time.Time { return l.now }
	s.logins = throttle.NewGuard(throttle.Policy{MaxFailures: 3, MaxFailuresPerIP: 100, Lockout: time.Minute, Backoff: -1}, nil, nil)
	return l
}

// login posts the login form (of a login for the account page) as
// username with password, from a browser holding cookies.
func (l *loginLab) login(username, password string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	l.t.Helper()
	ar, err := l.s.requests.Encode(accountLoginName, accountLogin{IssuedAt: l.now.UnixMilli()})
	if err != nil {
		l.t.Fatal(err)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	csrf := base64.RawURLEncoding.EncodeToString(b)
	form := url.Values{"ar": {ar}, "csrf": {l.s.csrfFor(csrf)}, "username": {username}, "password": {password}}
	r := httptest.NewRequest(http.MethodPost, fuzzIssuer+"/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "192.0.2.7:4321"
	r.AddCookie(&http.Cookie{Name: l.s.cookies.Name(csrfCookie), Value: csrf})
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	l.s.ServeHTTP(w, r)
	return w
}

// deviceCookieOf is the device cookie a response set, or nil.
func deviceCookieOf(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == "__Host-gatehouse_device" && c.Value != "" {
			return c
		}
	}
	return nil
}

// TestLoginTrustedDevice: someone guessing alice's password locks her
// account for everyone else, not for a browser where she signed in
// before (OWASP's device cookies); that browser's own failures are
// counted on its cookie, which loses its exemption when locked. Cookies
// that do not decode, or are too old, are no exemption.
func TestLoginTrustedDevice(t *testing.T) {
	l := newLoginLab(t)
	w := l.login("alice", "alice-pw")
	device := deviceCookieOf(w)
	if w.Code != http.StatusSeeOther || device == nil {
		t.Fatalf("first sign-in: %d, device cookie %v", w.Code, device)
	}
	lockAlice := func() {
		t.Helper()
		for i := range 3 {
			if w := l.login("alice", "wrong"); w.Code != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i+1, w.Code)
			}
		}
		if w := l.login("alice", "alice-pw"); w.Code != http.StatusTooManyRequests {
			t.Fatalf("alice not locked: %d", w.Code)
		}
	}
	lockAlice()
	w = l.login("bob", "bob-pw")
	bobs := deviceCookieOf(w)
	if w.Code != http.StatusSeeOther || bobs == nil {
		t.Fatalf("bob's sign-in: %d, device cookie %v", w.Code, bobs)
	}

	tampered := *device
	tampered.Value = strings.ToUpper(device.Value[:10]) + device.Value[10:]
	tests := []struct {
		name   string
		cookie *http.Cookie
		want   int
	}{
		{"no device cookie", nil, http.StatusTooManyRequests},
		{"alice's device cookie", device, http.StatusSeeOther},
		{"tampered device cookie", &tampered, http.StatusTooManyRequests},
		{"bob's device cookie", bobs, http.StatusTooManyRequests},
		{"a session cookie in its place", &http.Cookie{Name: device.Name, Value: sessionCookieOf(t, w)}, http.StatusTooManyRequests},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cookies []*http.Cookie
			if tc.cookie != nil {
				cookies = append(cookies, tc.cookie)
			}
			if w := l.login("alice", "alice-pw", cookies...); w.Code != tc.want {
				t.Errorf("got %d, want %d", w.Code, tc.want)
			}
		})
	}

	t.Run("the device's own failures", func(t *testing.T) {
		for i := range 3 {
			if w := l.login("alice", "wrong", device); w.Code != http.StatusUnauthorized {
				t.Fatalf("failure %d with the device cookie: %d", i+1, w.Code)
			}
		}
		if w := l.login("alice", "alice-pw", device); w.Code != http.StatusTooManyRequests {
			t.Fatalf("a locked device cookie is still exempt: %d", w.Code)
		}
		// Both locks end after the lockout; the device is trusted again.
		l.now = l.now.Add(time.Minute + time.Second)
		if w := l.login("alice", "alice-pw", device); w.Code != http.StatusSeeOther {
			t.Fatalf("the device after its lock: %d", w.Code)
		}
	})

	t.Run("an expired device cookie", func(t *testing.T) {
		l.now = l.now.Add(181 * 24 * time.Hour)
		lockAlice()
		if w := l.login("alice", "alice-pw", device); w.Code != http.StatusTooManyRequests {
			t.Errorf("a device cookie older than its lifetime is exempt: %d", w.Code)
		}
	})
}

// sessionCookieOf is the value of the session cookie a response set: a
// value sealed by the same server under another name and key.
func sessionCookieOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == "__Host-gatehouse_session" && c.Value != "" {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}
