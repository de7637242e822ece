package integration

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
)

// TestForgotPasswordEmail: with an smtp block, a user created with the
// CLI asks for a reset on the login page, a real SMTP server started by
// the test receives the link, and following it sets a password that
// signs in. Known and unknown addresses get the same answer.
func TestForgotPasswordEmail(t *testing.T) {
	relay := ast.NewSMTPServer(t)
	ai := startAdmin(t, fmt.Sprintf("smtp {\n\t\t\thost %s\n\t\t\tport %d\n\t\t\tfrom \"Gatehouse Demo <auth@localhost>\"\n\t\t}", relay.Host, relay.Port))
	mustCLI(t, "users", "create", "kim", "--email", "kim@example.com", "--address="+ai.addr)

	b := ai.newBrowser()
	login := ai.loginPage(t, b)
	m := regexp.MustCompile(`<a href="([^"]+)">Forgot password\?</a>`).FindStringSubmatch(login.body)
	if m == nil {
		t.Fatalf("the login page has no Forgot password? link:\n%s", login.body)
	}
	forgotURL, err := login.url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	ask := func(email string) (*page, time.Duration) {
		t.Helper()
		start := time.Now()
		p := b.submit(b.get(forgotURL.String()), map[string]string{"email": email})
		return p, time.Since(start)
	}
	known, tKnown := ask("kim@example.com")
	unknown, tUnknown := ask("nobody@example.com")
	if known.status != http.StatusOK || !strings.Contains(known.body, "Check your email") {
		t.Fatalf("asking for kim: %d\n%s", known.status, known.body)
	}
	if unknown.status != known.status || unknown.body != known.body {
		t.Errorf("the answers for a known and an unknown address differ:\n%s\n---\n%s", known.body, unknown.body)
	}
	t.Logf("answer times: known %v, unknown %v", tKnown.Round(time.Microsecond), tUnknown.Round(time.Microsecond))

	mails := relay.Wait(t, 1, 15*time.Second)
	link := regexp.MustCompile(regexp.QuoteMeta(ai.issuer) + `/account/choose-password\?token=gh_pwr_[A-Za-z0-9_-]+`).FindString(mails[0].Data)
	if link == "" || mails[0].To[0] != "kim@example.com" {
		t.Fatalf("the email to %v has no reset link:\n%s", mails[0].To, mails[0].Data)
	}
	choose := b.get(link)
	done := b.submit(choose, map[string]string{"password": "kim-new-passphrase-9", "confirm": "kim-new-passphrase-9"})
	if done.status != http.StatusOK || !strings.Contains(done.body, "Your password is set") {
		t.Fatalf("setting the password: %d\n%s", done.status, done.body)
	}
	nb := ai.newBrowser()
	if got := nb.tryLogin(ai.loginPage(t, nb), "kim", "kim-new-passphrase-9"); got.message != "" || got.status >= 400 {
		t.Errorf("signing in with the new password: %d %q", got.status, got.message)
	}
	// The link worked once.
	if again := b.get(link); again.status != http.StatusNotFound {
		t.Errorf("the link a second time: %d", again.status)
	}
	if n := len(relay.Received()); n != 1 {
		t.Errorf("%d emails, want 1 (none for the unknown address)", n)
	}
}
