package authserver_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/accounts"
	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/mail"
)

var resetLink = regexp.MustCompile(`https://issuer\.example/account/choose-password\?token=gh_pwr_[A-Za-z0-9_-]+`)

// TestForgotPassword: with a mailer the login page offers "Forgot
// password?"; a request for a known and an unknown address get the same
// page; only the known one gets an email, through a real SMTP server,
// whose link sets a new password; requests are limited per address and
// per client.
func TestForgotPassword(t *testing.T) {
	t.Run("off without a mailer", func(t *testing.T) {
		f := ast.New(t, ast.Options{})
		b := f.NewBrowser(t)
		if login := b.Follow(b.Get("/account/apps")); strings.Contains(login.Body, "Forgot password?") {
			t.Error("the login page offers a reset without a mailer")
		}
		wantErrorPage(t, b.Get("/account/forgot-password"), http.StatusNotFound, "")
	})

	relay := ast.NewSMTPServer(t)
	f := ast.New(t, ast.Options{Configure: func(c *authserver.Config) {
		c.Mailer = &mail.SMTP{Host: relay.Host, Port: relay.Port, From: "Gatehouse <auth@issuer.example>"}
	}})
	ctx := t.Context()
	ivy, err := f.Accounts.Create(ctx, accounts.NewUser{Username: "ivy", Email: "Ivy@Example.com", Name: "Ivy", Password: storedPassword})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := f.Accounts.Create(ctx, accounts.NewUser{Username: "jay", Email: "jay@example.com", Password: storedPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Accounts.SetDisabled(ctx, gone.ID, true); err != nil {
		t.Fatal(err)
	}
	b := f.NewBrowser(t)
	login := b.Follow(b.Get("/account/apps"))
	if !strings.Contains(login.Body, `href="/account/forgot-password"`) {
		t.Fatalf("the login page has no forgot-password link: %s", login)
	}
	page := b.Get("/account/forgot-password")
	wantPageHeaders(t, page)
	ask := func(email string) *ast.Response {
		t.Helper()
		return b.Submit(page, "/account/forgot-password", query("email", email))
	}
	known := ask("ivy@example.com")
	if known.Code != http.StatusOK || !strings.Contains(pageText(known), "Check your email") {
		t.Fatalf("asking for a known address: %s", known)
	}
	for _, other := range []string{"nobody@example.com", "jay@example.com", "alice@example.com"} {
		if res := ask(other); res.Code != known.Code || res.Body != known.Body {
			t.Errorf("the answer for %s differs from a known address's:\n%s\n---\n%s", other, res.Body, known.Body)
		}
	}
	mails := relay.Wait(t, 1, 10*time.Second)
	m := mails[0]
	link := resetLink.FindString(m.Data)
	if len(m.To) != 1 || m.To[0] != "Ivy@Example.com" || m.From != "auth@issuer.example" || link == "" ||
		!strings.Contains(m.Data, "Subject: Reset your Gatehouse password") {
		t.Fatalf("the email: from %q to %v:\n%s", m.From, m.To, m.Data)
	}
	choose := b.Get(strings.TrimPrefix(link, ast.Issuer))
	if res := b.Submit(choose, "/account/choose-password", query("password", storedPassword+"-new", "confirm", storedPassword+"-new")); res.Code != http.StatusOK {
		t.Fatalf("following the emailed link: %s", res)
	}
	b.Username, b.Password = "ivy", storedPassword+"-new"
	b.SignIn()

	// Per client: five requests, then 429 until the bucket refills.
	ask("IVY@example.com")
	if res := ask("ivy@example.com"); res.Code != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("the sixth request from one client: %s", res)
	}
	// Per address: three emails, then none (the answer is the same).
	f.Clock.Advance(10 * time.Minute)
	ask("ivy@example.com")
	if res := ask("ivy@example.com"); res.Code != known.Code || res.Body != known.Body {
		t.Errorf("a request over the per-address limit: %s", res)
	}
	shutdown, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := f.Server.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}
	if n := len(relay.Received()); n != 3 {
		t.Errorf("%d emails sent, want 3: one per request for ivy until the per-address limit", n)
	}
	_ = ivy
}
