package authservertest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is a message an SMTPServer received.
type Mail struct {
	From string
	To   []string
	Data string // the message as sent: headers, blank line, body
}

// SMTPServer is a real SMTP server (github.com/emersion/go-smtp) on a
// free loopback port that keeps what it receives, for tests of the
// emails the server sends.
type SMTPServer struct {
	Host string
	Port int

	mu       sync.Mutex
	received []Mail
	arrived  chan struct{}
}

// NewSMTPServer starts an SMTP server; the test's cleanup stops it.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, arrived: make(chan struct{}, 100)}
	srv := smtp.NewServer(smtpBackend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Received returns the messages received so far.
func (s *SMTPServer) Received() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.received...)
}

// Wait waits up to timeout for n messages in all and returns them, or
// fails the test.
func (s *SMTPServer) Wait(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := s.Received(); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("the SMTP server received %d messages in %v, want %d", len(s.Received()), timeout, n)
		}
	}
}

type smtpBackend struct{ s *SMTPServer }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: b.s}, nil }

type smtpSession struct {
	s    *SMTPServer
	mail Mail
}

func (ss *smtpSession) Reset()        { ss.mail = Mail{} }
func (ss *smtpSession) Logout() error { return nil }
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.mail.From = from
	return nil
}
func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.mail.To = append(ss.mail.To, to)
	return nil
}
func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	ss.mail.Data = string(b)
	ss.s.mu.Lock()
	ss.s.received = append(ss.s.received, ss.mail)
	ss.s.mu.Unlock()
	ss.s.arrived <- struct{}{}
	return nil
}
