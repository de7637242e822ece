// Package mail sends the server's few emails (password reset links)
// through an SMTP relay, with the standard library's client.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Message is one plain-text email.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Sender sends messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends through an SMTP relay (RFC 5321).
type SMTP struct {
	Host string
	Port int // default 587
	// Username and Password, when set, authenticate with PLAIN
	// (RFC 4616), which the client only does over TLS or to a loopback
	// host.
	Username, Password string
	// From is the sender address, e.g. "Gatehouse <auth@example.com>".
	From string
	// StartTLS requires the STARTTLS upgrade (RFC 3207) before anything
	// else is sent.
	StartTLS bool
	// TLSConfig verifies the server when StartTLS is on; nil: the system
	// roots and Host.
	TLSConfig *tls.Config
	// Timeout bounds a whole delivery; default 30 s.
	Timeout time.Duration
	// Now stamps the Date header; time.Now if nil.
	Now func() time.Time
}

// Validate reports a configuration that cannot send.
func (s *SMTP) Validate() error {
	switch {
	case s.Host == "":
		return errors.New("smtp: host is required")
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("smtp: port %d out of range", s.Port)
	case (s.Username == "") != (s.Password == ""):
		return errors.New("smtp: give both username and password, or neither")
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return fmt.Errorf("smtp: from: %v", err)
	}
	return nil
}

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return fmt.Errorf("smtp: from: %w", err)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("smtp: to: %w", err)
	}
	msg, err := s.compose(from, to, m)
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	port := s.Port
	if port == 0 {
		port = 587
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.Host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if s.StartTLS {
		cfg := s.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp: starttls: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return fmt.Errorf("smtp: auth: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("smtp: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	return c.Quit()
}

// compose builds the message (RFC 5322): headers with the subject
// encoded (RFC 2047), a quoted-printable-free UTF-8 text body with CRLF
// line ends. Header values never hold a line break.
func (s *SMTP) compose(from, to *mail.Address, m Message) ([]byte, error) {
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("smtp: the subject holds a line break")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var b strings.Builder
	for _, h := range [][2]string{
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"Date", now().Format(time.RFC1123Z)},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "8bit"},
		{"Auto-Submitted", "auto-generated"}, // RFC 3834
	} {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String()), nil
}
