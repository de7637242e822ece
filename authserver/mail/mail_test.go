package mail_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	ast "github.com/gatehouse-auth/gatehouse/authserver/authservertest"
	"github.com/gatehouse-auth/gatehouse/authserver/mail"
)

func TestValidate(t *testing.T) {
	ok := mail.SMTP{Host: "smtp.example", Port: 587, From: "Gatehouse <auth@example.com>"}
	for _, tc := range []struct {
		name   string
		change func(*mail.SMTP)
		want   string // "" = valid
	}{
		{"valid", func(*mail.SMTP) {}, ""},
		{"valid with credentials", func(s *mail.SMTP) { s.Username, s.Password = "u", "p" }, ""},
		{"no host", func(s *mail.SMTP) { s.Host = "" }, "host is required"},
		{"port too large", func(s *mail.SMTP) { s.Port = 65536 }, "out of range"},
		{"negative port", func(s *mail.SMTP) { s.Port = -1 }, "out of range"},
		{"username alone", func(s *mail.SMTP) { s.Username = "u" }, "both username and password"},
		{"password alone", func(s *mail.SMTP) { s.Password = "p" }, "both username and password"},
		{"bad from", func(s *mail.SMTP) { s.From = "not an address" }, "from:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			err := s.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSend(t *testing.T) {
	srv := ast.NewSMTPServer(t)
	date := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := &mail.SMTP{Host: srv.Host, Port: srv.Port, From: "Gatehouse <auth@example.com>", Timeout: 10 * time.Second,
		Now: func() time.Time { return date }}
	err := s.Send(context.Background(), mail.Message{To: "Bob <bob@example.com>", Subject: "Réinitialiser", Body: "line one\nline two"})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(t, 1, 5*time.Second)[0]
	if got.From != "auth@example.com" || len(got.To) != 1 || got.To[0] != "bob@example.com" {
		t.Errorf("envelope = %q → %q", got.From, got.To)
	}
	for _, want := range []string{
		"Subject: =?utf-8?q?R=C3=A9initialiser?=\r\n",
		"Date: " + date.Format(time.RFC1123Z) + "\r\n",
		"Auto-Submitted: auto-generated\r\n",
		"\r\n\r\nline one\r\nline two\r\n",
	} {
		if !strings.Contains(got.Data, want) {
			t.Errorf("message lacks %q:\n%s", want, got.Data)
		}
	}
}

// TestSendRefusals: every failure is an error naming its step, and a
// message with a header injection is never sent.
func TestSendRefusals(t *testing.T) {
	srv := ast.NewSMTPServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	base := mail.SMTP{Host: srv.Host, Port: srv.Port, From: "auth@example.com", Timeout: 5 * time.Second}
	msg := mail.Message{To: "bob@example.com", Subject: "Reset", Body: "hi"}
	for _, tc := range []struct {
		name   string
		change func(*mail.SMTP, *mail.Message)
		want   string
	}{
		{"bad from", func(s *mail.SMTP, _ *mail.Message) { s.From = "nope" }, "from:"},
		{"bad to", func(_ *mail.SMTP, m *mail.Message) { m.To = "nope" }, "to:"},
		{"subject with a line break", func(_ *mail.SMTP, m *mail.Message) { m.Subject = "Reset\r\nBcc: eve@example.com" }, "line break"},
		{"nobody listening", func(s *mail.SMTP, _ *mail.Message) { s.Port = closedPort }, "smtp:"},
		// The test server offers neither STARTTLS nor AUTH: requiring
		// them fails before any address or body is sent.
		{"STARTTLS not offered", func(s *mail.SMTP, _ *mail.Message) { s.StartTLS = true }, "starttls"},
		{"AUTH not offered", func(s *mail.SMTP, _ *mail.Message) { s.Username, s.Password = "u", "p" }, "auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, m := base, msg
			tc.change(&s, &m)
			err := s.Send(context.Background(), m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if n := len(srv.Received()); n != 0 {
		t.Errorf("%d messages were delivered by refused sends", n)
	}
}
