package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

// OpenID Connect Back-Channel Logout 1.0: when a browser session ends,
// every client that received tokens in it and registered a
// backchannel_logout_uri gets a logout token by a direct POST. Delivery
// runs in the background, so a slow or failing client never holds up the
// user.

// backchannelLogoutEvent is the event a logout token carries (§2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenType is the typ header of logout tokens (§2.4, RFC 8725
// §3.11), so they cannot be mistaken for ID or access tokens.
const logoutTokenType = "logout+jwt"

const (
	// backchannelAttempts bounds delivery: one try and two retries.
	backchannelAttempts = 3
	// backchannelTimeout bounds each attempt, connection to last byte.
	backchannelTimeout = 5 * time.Second
	// backchannelBackoff is the wait before the first retry; it doubles.
	backchannelBackoff = time.Second
	// backchannelConcurrency bounds deliveries in flight across all
	// logouts, so a burst of logouts cannot open unbounded connections.
	backchannelConcurrency = 16
	// logoutTokenLifetime is short (§2.4 recommends at most two minutes):
	// the token is consumed at once.
	logoutTokenLifetime = 2 * time.Minute
	// maxResponseDrain is how much of a client's answer is read, so the
	// connection can be reused, before it is closed.
	maxResponseDrain = 4 << 10
)

// sessionSID is the sid claim (Back-Channel Logout §2.1, §3.1) of the
// browser session with that id hash: derived one way, so an ID token never
// reveals the store key, and stable for the session's life, so a client
// can match a logout token to the ID tokens of that session.
func sessionSID(idHash string) string {
	if idHash == "" {
		return ""
	}
	h := sha256.Sum256([]byte("gatehouse sid\x00" + idHash))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// logoutTokenClaims is the payload of a logout token (§2.4). It never has
// a nonce, which is how a client tells it from an ID token.
type logoutTokenClaims struct {
	Issuer    string                    `json:"iss"`
	Audience  string                    `json:"aud"`
	IssuedAt  int64                     `json:"iat"`
	Expiry    int64                     `json:"exp"`
	JWTID     string                    `json:"jti"`
	Subject   string                    `json:"sub,omitempty"`
	SessionID string                    `json:"sid,omitempty"`
	Events    map[string]map[string]any `json:"events"`
}

// logoutToken signs a logout token for client, with the algorithm of its
// ID tokens (§2.4: signed like an ID token).
func (s *Server) logoutToken(client *clients.Client, subject, sid string, now time.Time) (string, error) {
	alg := client.IDTokenAlg()
	return s.cfg.Keys.Sign(alg, logoutTokenType, logoutTokenClaims{
		Issuer:    s.Issuer(),
		Audience:  client.ID,
		IssuedAt:  now.Unix(),
		Expiry:    now.Add(logoutTokenLifetime).Unix(),
		JWTID:     randomID(),
		Subject:   subject,
		SessionID: sid,
		Events:    map[string]map[string]any{backchannelLogoutEvent: {}},
	})
}

// backchannelSender delivers logout tokens in the background.
type backchannelSender struct {
	client  *http.Client
	log     *slog.Logger
	backoff time.Duration
	sem     chan struct{}

	ctx    context.Context // cancelled when the server shuts down
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed and the WaitGroup's zero crossing
	closed bool
	wg     sync.WaitGroup
}

func newBackchannelSender(log *slog.Logger) *backchannelSender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	ctx, cancel := context.WithCancel(context.Background())
	return &backchannelSender{
		client: &http.Client{
			Transport: tr,
			Timeout:   backchannelTimeout,
			// A logout token goes only to the registered URI, never
			// where a redirect points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:     log,
		backoff: backchannelBackoff,
		sem:     make(chan struct{}, backchannelConcurrency),
		ctx:     ctx,
		cancel:  cancel,
	}
}

// send queues one delivery and returns at once.
func (b *backchannelSender) send(clientID, uri, logoutToken string) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.log.Warn("back-channel logout not sent: the server is shutting down", "client_id", clientID)
		return
	}
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		select {
		case b.sem <- struct{}{}:
		case <-b.ctx.Done():
			b.log.Warn("back-channel logout not sent: the server shut down", "client_id", clientID)
			return
		}
		defer func() { <-b.sem }()
		b.deliver(clientID, uri, logoutToken)
	}()
}

// errPermanent marks an answer that retrying cannot change.
var errPermanent = errors.New("permanent failure")

// deliver posts the token, retrying transient failures with a doubling
// back-off, at most backchannelAttempts times. Failures are logged; the
// token and the URI's query (which might hold a client's secret) never are.
func (b *backchannelSender) deliver(clientID, uri, logoutToken string) {
	wait := b.backoff
	for attempt := 1; ; attempt++ {
		err := b.post(uri, logoutToken)
		if err == nil {
			b.log.Info("back-channel logout delivered", "client_id", clientID, "attempt", attempt)
			return
		}
		if errors.Is(err, errPermanent) || attempt >= backchannelAttempts || b.ctx.Err() != nil {
			b.log.Error("back-channel logout failed", "client_id", clientID, "attempts", attempt, "error", err.Error())
			return
		}
		b.log.Warn("back-channel logout attempt failed; retrying", "client_id", clientID, "attempt", attempt,
			"retry_in", wait.String(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
			b.log.Error("back-channel logout abandoned: the server shut down", "client_id", clientID, "attempts", attempt)
			return
		}
		wait *= 2
	}
}

// post makes one attempt (§2.5): a form POST of logout_token. Any 2xx is
// success (§2.8 asks for 200, and allows for frameworks answering 204);
// 4xx other than 408 and 429 means the client refused the token.
func (b *backchannelSender) post(uri, logoutToken string) error {
	req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, uri,
		strings.NewReader(url.Values{"logout_token": {logoutToken}}.Encode()))
	if err != nil {
		return fmt.Errorf("%w: bad request: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a client's query secrets
		}
		return fmt.Errorf("request failed: %v", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseDrain))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("the client answered %d", code)
	default:
		return fmt.Errorf("%w: the client answered %d", errPermanent, code)
	}
}

// shutdown waits for deliveries in flight until ctx is done, then
// abandons the rest. Logouts after it are logged and not sent.
func (b *backchannelSender) shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		b.cancel()
		return nil
	case <-ctx.Done():
		b.cancel()
		<-done
		return ctx.Err()
	}
}
