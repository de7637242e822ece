package integration

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// Brute-force defences end to end (authserver/throttle.go): the login
// form and client authentication, with short lockouts so the tests can
// wait them out.

// TestLoginThrottle: an account is slowed down after its second failure
// and locked after max_failures, whether or not it exists, with the same
// answers for both; a lock refuses even the right password, ends after
// the lockout, and a success resets the account's count.
func TestLoginThrottle(t *testing.T) {
	in := startExample(t, "login_throttle {\n\t\t\tmax_failures 3\n\t\t\tmax_failures_per_ip 100\n\t\t\tlockout 2s\n\t\t\tbackoff 300ms\n\t\t}")
	const incorrect = "The username or password is incorrect."
	// The same sequence for a real account and an unknown one gives the
	// same statuses and messages: a lock reveals nothing.
	run := func(t *testing.T, username string) []loginAttempt {
		b := in.newBrowser()
		form := in.loginPage(t, b)
		var got []loginAttempt
		got = append(got, b.tryLogin(form, username, "wrong-1")) // free
		got = append(got, b.tryLogin(form, username, "wrong-2")) // now 300ms back-off
		got = append(got, b.tryLogin(form, username, alicePassword))
		time.Sleep(350 * time.Millisecond)
		got = append(got, b.tryLogin(form, username, "wrong-3")) // third: locked for 2s
		got = append(got, b.tryLogin(form, username, alicePassword))
		return got
	}
	want := []struct {
		status     int
		retryAfter string
		message    string
	}{
		{http.StatusUnauthorized, "", incorrect},
		{http.StatusUnauthorized, "", incorrect},
		{http.StatusTooManyRequests, "1", "Too many failed sign-in attempts. Try again in a second."},
		{http.StatusUnauthorized, "", incorrect},
		{http.StatusTooManyRequests, "2", "Too many failed sign-in attempts. Try again in 2 seconds."},
	}
	for _, user := range []string{"alice", "mallory"} {
		t.Run(user, func(t *testing.T) {
			for i, a := range run(t, user) {
				w := want[i]
				if a.status != w.status || a.retryAfter != w.retryAfter || a.message != w.message {
					t.Errorf("attempt %d: %d Retry-After %q %q; want %d %q %q", i+1, a.status, a.retryAfter, a.message, w.status, w.retryAfter, w.message)
				}
				if a.status == http.StatusTooManyRequests && (len(a.page.forms) != 1 || !strings.Contains(a.page.body, `value="`+user+`"`)) {
					t.Errorf("attempt %d: the throttled page is not the login form with the username kept", i+1)
				}
			}
			if user != "alice" {
				return
			}
			// Case and spaces do not make a new account to guess at.
			// Checked at once, while the 2s lock surely lasts (after
			// mallory's run it may be over on a busy machine).
			b := in.newBrowser()
			if a := b.tryLogin(in.loginPage(t, b), " ALICE ", alicePassword); a.status != http.StatusTooManyRequests {
				t.Errorf("ALICE while alice is locked: %d", a.status)
			}
		})
	}

	// After the lock alice signs in, and the success resets her count: a
	// new failure is free again (unreset, it would lock at once).
	time.Sleep(2100 * time.Millisecond)
	b := in.newBrowser()
	cfg := in.oauthConfig(demoInternal)
	code := mustCode(t, b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), ""), "s")
	if code == "" {
		t.Fatal("no code after the lock ended")
	}
	b2 := in.newBrowser()
	form := in.loginPage(t, b2)
	for i := range 2 {
		if a := b2.tryLogin(form, "alice", "wrong"); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d after a successful login: %d %q; the success did not reset the count", i+1, a.status, a.message)
		}
	}
}

// TestLoginThrottlePerIP: guessing across many accounts from one address
// locks the address for every account, the right password included.
func TestLoginThrottlePerIP(t *testing.T) {
	in := startExample(t, "login_throttle {\n\t\t\tmax_failures 10\n\t\t\tmax_failures_per_ip 3\n\t\t\tlockout 2s\n\t\t}")
	b := in.newBrowser()
	form := in.loginPage(t, b)
	for i, user := range []string{"ann", "bob", "carol"} {
		if a := b.tryLogin(form, user, "Winter2026!"); a.status != http.StatusUnauthorized {
			t.Fatalf("spray %d: %d", i+1, a.status)
		}
	}
	other := in.newBrowser() // another browser, same address
	a := other.tryLogin(in.loginPage(t, other), "alice", alicePassword)
	if a.status != http.StatusTooManyRequests || a.retryAfter != "2" {
		t.Fatalf("alice from the locked address: %d Retry-After %q, want 429 and 2", a.status, a.retryAfter)
	}
	time.Sleep(2100 * time.Millisecond)
	if a := other.tryLogin(in.loginPage(t, other), "alice", alicePassword); a.status != http.StatusSeeOther {
		t.Fatalf("alice after the address lock: %d %q", a.status, a.message)
	}
}

// TestLoginTimingUnknownUser: a wrong password and an unknown user take
// comparable time (both cost one argon2id hash), so timing does not tell
// which accounts exist. The fastest of several tries is compared, which
// removes most scheduling noise.
func TestLoginTimingUnknownUser(t *testing.T) {
	in := startExample(t, "login_throttle off")
	b := in.newBrowser()
	form := in.loginPage(t, b)
	fastest := map[string]time.Duration{}
	for range 5 {
		for _, user := range []string{"alice", "nobody-here"} {
			start := time.Now()
			if a := b.tryLogin(form, user, "wrong password"); a.status != http.StatusUnauthorized {
				t.Fatalf("%s: %d", user, a.status)
			}
			if d := time.Since(start); fastest[user] == 0 || d < fastest[user] {
				fastest[user] = d
			}
		}
	}
	known, unknown := fastest["alice"], fastest["nobody-here"]
	t.Logf("fastest failed login: known user %v, unknown user %v", known, unknown)
	if ratio := float64(unknown) / float64(known); ratio < 0.5 || ratio > 2 {
		t.Errorf("unknown user %v vs wrong password %v: the ratio %.2f tells them apart", unknown, known, ratio)
	}
}

// TestClientAuthThrottle: wrong secrets for a client whose secret an
// operator chose lock that client at the token, introspection and
// revocation endpoints alike (429 temporarily_unavailable with
// Retry-After, the secret unchecked), other clients are unaffected, the
// lock ends after the lockout, and a success resets the count.
func TestClientAuthThrottle(t *testing.T) {
	in := startExample(t, "client_auth_throttle {\n\t\t\tmax_failures 3\n\t\t\tmax_failures_per_ip 100\n\t\t\tlockout 2s\n\t\t}")
	introspect := url.Values{"token": {"not-a-token"}}
	for i, path := range []string{"/token", "/introspect", "/revoke"} {
		if st, e, _ := in.clientCall(t, path, "demo-web", "wrong", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "token": {"x"}}); st != 401 || e != "invalid_client" {
			t.Fatalf("failure %d at %s: %d %q", i+1, path, st, e)
		}
	}
	for _, path := range []string{"/token", "/introspect", "/revoke"} {
		st, e, ra := in.clientCall(t, path, "demo-web", "demo-web-secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "token": {"x"}})
		if st != http.StatusTooManyRequests || e != "temporarily_unavailable" || ra != "2" {
			t.Errorf("%s with the right secret while locked: %d %q Retry-After %q; want 429 temporarily_unavailable 2", path, st, e, ra)
		}
	}
	// x/oauth2 surfaces it as a retrieve error with the code.
	cfg := in.oauthConfig(demoWeb)
	_, err := cfg.Exchange(in.ctx(), "gh_ac_x")
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusTooManyRequests || re.ErrorCode != "temporarily_unavailable" {
		t.Errorf("x/oauth2 while locked: %v", err)
	}
	// Another client is not locked, and neither are public clients.
	if st, e, _ := in.clientCall(t, "/introspect", "demo-internal", "demo-internal-secret", introspect); st != 200 || e != "" {
		t.Errorf("demo-internal while demo-web is locked: %d %q", st, e)
	}
	if tj, st := in.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"demo-spa"}}); st != 400 || tj.Error != "invalid_grant" {
		t.Errorf("public client: %d %q", st, tj.Error)
	}

	time.Sleep(2100 * time.Millisecond)
	if st, e, _ := in.clientCall(t, "/introspect", "demo-web", "demo-web-secret", introspect); st != 200 {
		t.Fatalf("after the lock: %d %q", st, e)
	}
	// The success reset the count: two more failures do not lock.
	for i := range 2 {
		in.clientCall(t, "/introspect", "demo-web", "wrong", introspect)
		if st, e, _ := in.clientCall(t, "/introspect", "demo-web", "demo-web-secret", introspect); st != 200 {
			t.Fatalf("right secret after %d new failures: %d %q", i+1, st, e)
		}
	}
}

// TestClientAuthThrottlePerIP: guessing secrets of many clients (or of
// unknown client_ids) from one address locks the address; requests of
// public clients, which carry no secret, are never throttled.
func TestClientAuthThrottlePerIP(t *testing.T) {
	in := startExample(t, "client_auth_throttle {\n\t\t\tmax_failures 10\n\t\t\tmax_failures_per_ip 3\n\t\t\tlockout 2s\n\t\t}")
	introspect := url.Values{"token": {"x"}}
	guesses := [][2]string{{"demo-web", "guess"}, {"no-such-client", "guess"}, {"demo-internal", "guess"}}
	for i, g := range guesses {
		if st, e, _ := in.clientCall(t, "/introspect", g[0], g[1], introspect); st != 401 || e != "invalid_client" {
			t.Fatalf("guess %d: %d %q", i+1, st, e)
		}
	}
	var statuses []int
	for _, app := range []demoApp{demoWeb, demoInternal} {
		st, _, _ := in.clientCall(t, "/introspect", app.id, app.secret, introspect)
		statuses = append(statuses, st)
	}
	if !slices.Equal(statuses, []int{429, 429}) {
		t.Errorf("right secrets from the locked address: %v, want 429s", statuses)
	}
	if tj, st := in.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"demo-cli"}}); st != 400 || tj.Error != "invalid_grant" {
		t.Errorf("public client from the locked address: %d %q", st, tj.Error)
	}
	time.Sleep(2100 * time.Millisecond)
	if st, e, _ := in.clientCall(t, "/introspect", "demo-web", "demo-web-secret", introspect); st != 200 {
		t.Errorf("after the address lock: %d %q", st, e)
	}
}

// deviceCookieName is the issuer's device cookie (https: __Host- prefix).
const deviceCookieName = "__Host-gatehouse_device"

// deviceCookie returns the device cookie an answer set, or nil.
func deviceCookie(h http.Header) *http.Cookie {
	for _, line := range h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == deviceCookieName {
			return c
		}
	}
	return nil
}

// deviceBrowser is a browser holding only a device cookie with value: one
// in which someone signed in before, whose session has since ended.
func (in *instance) deviceBrowser(value string) *browser {
	b := in.newBrowser()
	issuer, _ := url.Parse(in.issuer)
	b.client.Jar.SetCookies(issuer, []*http.Cookie{{Name: deviceCookieName, Value: value, Path: "/", Secure: true}})
	return b
}

// TestLoginThrottleTrustedDevice: the OWASP device-cookie defence against
// lockout abuse. Anyone can lock alice out by guessing, but a browser in
// which alice signed in before carries a device cookie for her, and with
// it her right password still works during the lock. The cookie helps
// alice only (not another user's browser, not a forged copy), and a
// cookie that itself keeps failing loses the exemption.
func TestLoginThrottleTrustedDevice(t *testing.T) {
	in := startExample(t,
		"login_throttle {\n\t\t\tmax_failures 3\n\t\t\tmax_failures_per_ip 100\n\t\t\tlockout 1m\n\t\t\tbackoff off\n\t\t}",
		fmt.Sprintf("user bob {\n\t\t\tpassword_hash %s\n\t\t}", cheapHash(t, "bob-password")))
	signIn := func(t *testing.T, b *browser, username, password string) loginAttempt {
		t.Helper()
		return b.tryLogin(in.loginPage(t, b), username, password)
	}
	signedIn := func(a loginAttempt) bool {
		return a.status == http.StatusFound || a.status == http.StatusSeeOther
	}
	wantLocked := func(t *testing.T, who string, a loginAttempt) {
		t.Helper()
		if a.status != http.StatusTooManyRequests || a.retryAfter == "" {
			t.Errorf("%s: %d Retry-After %q %q; want 429 with Retry-After", who, a.status, a.retryAfter, a.message)
		}
	}

	// Alice signs in at home: the answer sets the device cookie.
	a := signIn(t, in.newBrowser(), "alice", alicePassword)
	if !signedIn(a) {
		t.Fatalf("alice's first sign-in: %d %q", a.status, a.message)
	}
	device := deviceCookie(a.page.header)
	switch {
	case device == nil:
		t.Fatalf("no %s cookie after a successful sign-in; Set-Cookie: %q", deviceCookieName, a.page.header.Values("Set-Cookie"))
	case !device.Secure || !device.HttpOnly || device.SameSite != http.SameSiteStrictMode || device.Path != "/" || device.Domain != "":
		t.Errorf("device cookie attributes: %+v", device)
	case device.MaxAge < 150*24*3600:
		t.Errorf("device cookie lives %ds; want months", device.MaxAge)
	case strings.Contains(device.Value, "alice"):
		t.Error("the device cookie shows the user in clear text")
	}
	// Bob signs in in his own browser: a device cookie for bob.
	a = signIn(t, in.newBrowser(), "bob", "bob-password")
	bobDevice := deviceCookie(a.page.header)
	if !signedIn(a) || bobDevice == nil {
		t.Fatalf("bob's sign-in: %d %q, device cookie %v", a.status, a.message, bobDevice)
	}

	// Mallory, without a device cookie, locks alice out.
	mallory := in.newBrowser()
	form := in.loginPage(t, mallory)
	for i := range 3 {
		if a := mallory.tryLogin(form, "alice", fmt.Sprint("guess-", i)); a.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %q", i+1, a.status, a.message)
		}
	}
	wantLocked(t, "mallory with the right password", mallory.tryLogin(form, "alice", alicePassword))

	t.Run("alice's device still signs in", func(t *testing.T) {
		a := signIn(t, in.deviceBrowser(device.Value), "alice", alicePassword)
		if !signedIn(a) {
			t.Fatalf("alice at home during the lock: %d %q", a.status, a.message)
		}
		refreshed := deviceCookie(a.page.header)
		if refreshed == nil {
			t.Fatal("the trusted sign-in did not renew the device cookie")
		}
		// The renewed cookie is trusted too.
		if a := signIn(t, in.deviceBrowser(refreshed.Value), "alice", alicePassword); !signedIn(a) {
			t.Fatalf("alice with the renewed device cookie: %d %q", a.status, a.message)
		}
		// Her success does not lift the lock for everyone else.
		wantLocked(t, "a new browser after alice's trusted sign-in", signIn(t, in.newBrowser(), "alice", alicePassword))
	})
	t.Run("a device cookie for another user", func(t *testing.T) {
		wantLocked(t, "bob's browser signing in as alice", signIn(t, in.deviceBrowser(bobDevice.Value), "alice", alicePassword))
		// It still serves bob.
		if a := signIn(t, in.deviceBrowser(bobDevice.Value), "bob", "bob-password"); !signedIn(a) {
			t.Errorf("bob with his device cookie: %d %q", a.status, a.message)
		}
	})
	t.Run("a forged cookie", func(t *testing.T) {
		v := []byte(device.Value)
		v[len(v)/2] ^= 1
		wantLocked(t, "a tampered device cookie", signIn(t, in.deviceBrowser(string(v)), "alice", alicePassword))
		wantLocked(t, "a made-up device cookie", signIn(t, in.deviceBrowser("alice"), "alice", alicePassword))
	})
	t.Run("a device that keeps failing loses the exemption", func(t *testing.T) {
		// A copy of alice's cookie in the wrong hands gets the normal
		// budget of guesses, counted on the cookie, not on alice...
		thief := in.deviceBrowser(device.Value)
		form := in.loginPage(t, thief)
		for i := range 3 {
			if a := thief.tryLogin(form, "alice", fmt.Sprint("stolen-guess-", i)); a.status != http.StatusUnauthorized {
				t.Fatalf("guess %d with the device cookie: %d %q", i+1, a.status, a.message)
			}
		}
		// ...and is then throttled like any browser: alice is locked.
		wantLocked(t, "the worn-out device cookie", thief.tryLogin(form, "alice", alicePassword))
		wantLocked(t, "another browser with the same cookie", signIn(t, in.deviceBrowser(device.Value), "alice", alicePassword))
	})
}
