package oautherr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/oautherr"
)

// TestConstructors checks every code as spelled on the wire and its status.
func TestConstructors(t *testing.T) {
	tests := []struct {
		ctor   func(string, ...any) *oautherr.Error
		code   oautherr.Code
		status int
	}{
		// RFC 6749 §4.1.2.1 and §5.2; §5.2 makes 400 the default and allows
		// 401 for invalid_client.
		{oautherr.InvalidRequest, "invalid_request", 400},
		{oautherr.InvalidClient, "invalid_client", 401},
		{oautherr.InvalidGrant, "invalid_grant", 400},
		{oautherr.UnauthorizedClient, "unauthorized_client", 400},
		{oautherr.UnsupportedGrantType, "unsupported_grant_type", 400},
		{oautherr.UnsupportedResponseType, "unsupported_response_type", 400},
		{oautherr.InvalidScope, "invalid_scope", 400},
		{oautherr.AccessDenied, "access_denied", 403},
		{oautherr.ServerError, "server_error", 500},
		{oautherr.TemporarilyUnavailable, "temporarily_unavailable", 503},
		// OpenID Connect Core §3.1.2.6.
		{oautherr.LoginRequired, "login_required", 400},
		{oautherr.ConsentRequired, "consent_required", 400},
		{oautherr.InteractionRequired, "interaction_required", 400},
		{oautherr.RequestNotSupported, "request_not_supported", 400},
		{oautherr.RequestURINotSupported, "request_uri_not_supported", 400},
		// RFC 6750 §3.1.
		{oautherr.InvalidToken, "invalid_token", 401},
		{oautherr.InsufficientScope, "insufficient_scope", 403},
		// RFC 8707 §2.
		{oautherr.InvalidTarget, "invalid_target", 400},
		// RFC 7591 §3.2.2.
		{oautherr.InvalidRedirectURI, "invalid_redirect_uri", 400},
		{oautherr.InvalidClientMetadata, "invalid_client_metadata", 400},
	}
	for _, tc := range tests {
		t.Run(string(tc.code), func(t *testing.T) {
			e := tc.ctor("bad %s %d", "thing", 7)
			if e.Code != tc.code || e.Status != tc.status {
				t.Errorf("got %s %d, want %s %d", e.Code, e.Status, tc.code, tc.status)
			}
			if e.Description != "bad thing 7" {
				t.Errorf("Description = %q, want formatted", e.Description)
			}
			if e.NoRedirect || e.Unwrap() != nil {
				t.Errorf("fresh error has NoRedirect=%v cause=%v", e.NoRedirect, e.Unwrap())
			}
			// No args: the text is used as is, so a literal % is safe.
			if e := tc.ctor("100% wrong"); e.Description != "100% wrong" {
				t.Errorf("Description without args = %q", e.Description)
			}
			// Constructors return fresh values, never a shared one.
			if a, b := tc.ctor("x"), tc.ctor("x"); a == b {
				t.Errorf("two calls returned the same pointer")
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	cause := errors.New("db: connection refused")
	tests := []struct {
		err  *oautherr.Error
		want string
	}{
		{oautherr.InvalidGrant(""), "invalid_grant"},
		{oautherr.InvalidGrant("code expired"), "invalid_grant: code expired"},
		{oautherr.ServerError("oops").WithCause(cause), "server_error: oops (db: connection refused)"},
		{oautherr.ServerError("").WithCause(cause), "server_error (db: connection refused)"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestWithCause(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user gatehouse")
	base := oautherr.InvalidGrant("the code is invalid")
	e := base.WithCause(fmt.Errorf("lookup: %w", secret))

	if base.Unwrap() != nil {
		t.Errorf("WithCause changed the original")
	}
	if !errors.Is(e, secret) {
		t.Errorf("errors.Is does not find the cause")
	}
	if !strings.Contains(e.Error(), secret.Error()) {
		t.Errorf("Error() %q hides the cause from logs", e.Error())
	}
	var oe *oautherr.Error
	if wrapped := fmt.Errorf("handler: %w", e); !errors.As(wrapped, &oe) || oe != e {
		t.Errorf("errors.As through a wrap = %v", oe)
	}
	rec := httptest.NewRecorder()
	oautherr.WriteJSON(rec, e)
	if body := rec.Body.String(); strings.Contains(body, "pq:") || strings.Contains(body, "lookup") || strings.Contains(body, "gatehouse") {
		t.Errorf("response body leaks the cause: %s", body)
	}
	if rec.Code != 400 {
		t.Errorf("status %d, want 400", rec.Code)
	}

	nr := e.WithoutRedirect()
	if !nr.NoRedirect || e.NoRedirect {
		t.Errorf("WithoutRedirect: copy %v, original %v", nr.NoRedirect, e.NoRedirect)
	}
	if !errors.Is(nr, secret) || nr.Code != e.Code || nr.Description != e.Description || nr.Status != e.Status {
		t.Errorf("WithoutRedirect lost fields: %+v", nr)
	}
}

func TestFrom(t *testing.T) {
	internal := &fs.PathError{Op: "open", Path: "/var/lib/gatehouse/keys.json", Err: fs.ErrPermission}
	t.Run("plain error", func(t *testing.T) {
		e := oautherr.From(internal)
		if e.Code != "server_error" || e.Status != 500 {
			t.Errorf("got %s %d, want server_error 500", e.Code, e.Status)
		}
		if strings.Contains(e.Description, "keys.json") || strings.Contains(e.SafeDescription(), "permission") {
			t.Errorf("description leaks the error: %q", e.Description)
		}
		if !errors.Is(e, fs.ErrPermission) {
			t.Errorf("the cause is lost for logs")
		}
	})
	t.Run("oauth error passes through", func(t *testing.T) {
		orig := oautherr.InvalidScope("no such scope")
		if e := oautherr.From(orig); e != orig {
			t.Errorf("From(*Error) = %+v, want the same value", e)
		}
		if e := oautherr.From(fmt.Errorf("authorize: %w", orig)); e != orig {
			t.Errorf("From(wrapped *Error) = %+v, want the inner value", e)
		}
	})
	t.Run("nil", func(t *testing.T) {
		if e := oautherr.From(nil); e == nil || e.Code != "server_error" {
			t.Errorf("From(nil) = %+v, want a server_error", e)
		}
	})
}

func TestSafeDescription(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, with punctuation! #$%&'()*+,-./:;<=>?@[]^_`{|}~", "plain text, with punctuation! #$%&'()*+,-./:;<=>?@[]^_`{|}~"},
		{`say "hi"`, "say  hi "},
		{`back\slash`, "back slash"},
		{"line\r\nbreak", "line  break"},
		{"tab\tnul\x00del\x7f", "tab nul del "},
		{"héllo", "h llo"},
		{"日本", "  "},
		{"\xff", " "},
		{"", ""},
	}
	for _, tc := range tests {
		got := oautherr.InvalidRequest(tc.in).SafeDescription()
		if got != tc.want {
			t.Errorf("SafeDescription(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
		for i := 0; i < len(got); i++ {
			if c := got[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Errorf("SafeDescription(%q) kept byte %#x", tc.in, c)
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		body   oautherr.Body
	}{
		{"invalid_request", oautherr.InvalidRequest(`missing "code"`), 400, oautherr.Body{Error: "invalid_request", ErrorDescription: "missing  code "}},
		{"invalid_client", oautherr.InvalidClient("client authentication failed"), 401, oautherr.Body{Error: "invalid_client", ErrorDescription: "client authentication failed"}},
		{"no description", oautherr.InvalidGrant(""), 400, oautherr.Body{Error: "invalid_grant"}},
		{"temporarily_unavailable", oautherr.TemporarilyUnavailable("try later"), 503, oautherr.Body{Error: "temporarily_unavailable", ErrorDescription: "try later"}},
		{"plain error", errors.New("sql: no rows; table users"), 500, oautherr.Body{Error: "server_error", ErrorDescription: "the server could not complete the request"}},
		{"html in description", oautherr.InvalidScope("<script>alert(1)</script>"), 400, oautherr.Body{Error: "invalid_scope", ErrorDescription: "<script>alert(1)</script>"}},
		// Callers may change the status of a constructed error; the code
		// and description are written as they are.
		{"server_error with 503", withStatus(oautherr.ServerError("the store could not be reached").WithCause(errors.New("dial tcp: refused")), 503), 503,
			oautherr.Body{Error: "server_error", ErrorDescription: "the store could not be reached"}},
		{"temporarily_unavailable with 429", withStatus(oautherr.TemporarilyUnavailable("try again in 5 seconds"), 429), 429,
			oautherr.Body{Error: "temporarily_unavailable", ErrorDescription: "try again in 5 seconds"}},
		{"OIDC code", oautherr.RequestURINotSupported("request_uri is not supported"), 400,
			oautherr.Body{Error: "request_uri_not_supported", ErrorDescription: "request_uri is not supported"}},
		{"wrapped", fmt.Errorf("grant: %w", oautherr.InvalidTarget("resource %q was not part of the authorization", "https://api.example/")), 400,
			oautherr.Body{Error: "invalid_target", ErrorDescription: "resource  https://api.example/  was not part of the authorization"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			oautherr.WriteJSON(rec, tc.err)
			res := rec.Result()
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			// RFC 6749 §5.1/§5.2: JSON, never cached.
			for h, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"} {
				if got := res.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			raw := rec.Body.Bytes()
			var fields map[string]any
			if err := json.Unmarshal(raw, &fields); err != nil {
				t.Fatalf("body %q is not JSON: %v", raw, err)
			}
			var got oautherr.Body
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("body %s: %v", raw, err)
			}
			if got != tc.body {
				t.Errorf("body %+v, want %+v", got, tc.body)
			}
			if _, has := fields["error_description"]; has != (tc.body.ErrorDescription != "") {
				t.Errorf("error_description present=%v in %s", has, raw)
			}
			if bytes.Contains(raw, []byte("<script>")) {
				t.Errorf("body carries raw HTML: %s", raw)
			}
		})
	}
}

func withStatus(e *oautherr.Error, status int) *oautherr.Error {
	e.Status = status
	return e
}

func TestNoStore(t *testing.T) {
	h := http.Header{"Cache-Control": {"max-age=3600"}}
	oautherr.NoStore(h)
	if h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" || len(h.Values("Cache-Control")) != 1 {
		t.Errorf("NoStore gave %v", h)
	}
}

// TestBearerChallenge follows RFC 6750 §3: auth-param values are quoted
// strings, and a request without a token gets no error code (§3.1).
func TestBearerChallenge(t *testing.T) {
	tests := []struct {
		name  string
		realm string
		err   *oautherr.Error
		extra []string
		want  string
	}{
		{"bare", "", nil, nil, "Bearer"},
		{"bare with realm", "gatehouse", nil, nil, `Bearer realm="gatehouse"`},
		{"invalid_token", "gatehouse", oautherr.InvalidToken("The access token expired"), nil,
			`Bearer realm="gatehouse", error="invalid_token", error_description="The access token expired"`},
		{"no description", "", oautherr.InvalidRequest(""), nil, `Bearer error="invalid_request"`},
		{"insufficient_scope with scope", "api", oautherr.InsufficientScope("needs more"), []string{`scope="read write"`},
			`Bearer realm="api", error="insufficient_scope", error_description="needs more", scope="read write"`},
		{"extra only", "", nil, []string{`resource_metadata="https://rs.example/.well-known/oauth-protected-resource"`},
			`Bearer resource_metadata="https://rs.example/.well-known/oauth-protected-resource"`},
		{"description sanitised", "", oautherr.InvalidToken("bad \"token\"\r\nX-Evil: 1"), nil,
			`Bearer error="invalid_token", error_description="bad  token   X-Evil: 1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := oautherr.BearerChallenge(tc.realm, tc.err, tc.extra...); got != tc.want {
				t.Errorf("BearerChallenge =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	// A hostile realm must stay one header line and one quoted string.
	got := oautherr.BearerChallenge("a\"b\r\nSet-Cookie: x=1", nil)
	if strings.ContainsAny(got, "\r\n") {
		t.Errorf("challenge %q contains a line break", got)
	}
	rest, ok := strings.CutPrefix(got, `Bearer realm="`)
	if !ok || !strings.HasSuffix(rest, `"`) || strings.Contains(strings.ReplaceAll(rest[:len(rest)-1], `\"`, ""), `"`) {
		t.Errorf("challenge %q does not keep the realm in one quoted string", got)
	}
}

// TestLogLevel: a server_error is the server's failure, logged at Error
// whatever its status; every other code is the client's and logged at
// Info.
func TestLogLevel(t *testing.T) {
	tests := []struct {
		name string
		err  *oautherr.Error
		want slog.Level
	}{
		{"server_error", oautherr.ServerError("could not issue a code"), slog.LevelError},
		{"server_error answered 503", withStatus(oautherr.ServerError("the user directory could not be reached"), 503), slog.LevelError},
		{"plain error", oautherr.From(errors.New("disk full")), slog.LevelError},
		{"server_error not redirected", oautherr.ServerError("client lookup failed").WithoutRedirect(), slog.LevelError},
		{"invalid_request", oautherr.InvalidRequest("the code parameter is missing"), slog.LevelInfo},
		{"invalid_client", oautherr.InvalidClient("client authentication failed"), slog.LevelInfo},
		{"invalid_grant with a cause", oautherr.InvalidGrant("the code is invalid").WithCause(errors.New("not found")), slog.LevelInfo},
		{"access_denied", oautherr.AccessDenied("the user denied access"), slog.LevelInfo},
		{"temporarily_unavailable", oautherr.TemporarilyUnavailable("try later"), slog.LevelInfo},
		{"temporarily_unavailable throttled", withStatus(oautherr.TemporarilyUnavailable("too many failures"), 429), slog.LevelInfo},
		{"login_required", oautherr.LoginRequired("the user is not signed in"), slog.LevelInfo},
		{"invalid_token", oautherr.InvalidToken("expired"), slog.LevelInfo},
		{"insufficient_scope", oautherr.InsufficientScope("needs openid"), slog.LevelInfo},
		{"invalid_client_metadata", oautherr.InvalidClientMetadata("logo_uri: must be https"), slog.LevelInfo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.LogLevel(); got != tc.want {
				t.Errorf("LogLevel() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestLog checks what one call logs: the level of the error, the caller's
// attributes, and the cause only where the operator needs it (Error).
func TestLog(t *testing.T) {
	cause := errors.New("pq: connection refused")
	tests := []struct {
		name     string
		err      *oautherr.Error
		minLevel slog.Level
		want     map[string]any // nil: nothing logged
		hidden   []string       // must not appear in the record
	}{
		{
			name: "server error with its cause",
			err:  oautherr.ServerError("could not record consent").WithCause(cause),
			want: map[string]any{"level": "ERROR", "msg": "token request failed", "client_id": "app",
				"error": "server_error: could not record consent (pq: connection refused)"},
		},
		{
			name: "client error: code and description, no cause",
			err:  oautherr.InvalidGrant("the authorization code has expired").WithCause(cause),
			want: map[string]any{"level": "INFO", "msg": "token request failed", "client_id": "app",
				"error": "invalid_grant", "reason": "the authorization code has expired"},
			hidden: []string{"pq:"},
		},
		{
			name: "empty description",
			err:  oautherr.InvalidClient(""),
			want: map[string]any{"level": "INFO", "msg": "token request failed", "client_id": "app",
				"error": "invalid_client", "reason": ""},
		},
		{
			name:     "below the handler's level",
			err:      oautherr.InvalidRequest("the token parameter is missing"),
			minLevel: slog.LevelWarn,
		},
		{
			name:     "server error above Warn",
			err:      oautherr.From(cause),
			minLevel: slog.LevelWarn,
			want: map[string]any{"level": "ERROR", "msg": "token request failed", "client_id": "app",
				"error": "server_error: the server could not complete the request (pq: connection refused)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tc.minLevel, AddSource: true}))
			tc.err.Log(context.Background(), l, "token request failed", "client_id", "app")
			if tc.want == nil {
				if buf.Len() != 0 {
					t.Fatalf("logged %s, want nothing", buf.Bytes())
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("log %q: %v", buf.Bytes(), err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := tc.want[k]; !ok && k != "time" && k != "source" {
					t.Errorf("unexpected attribute %s = %v", k, got[k])
				}
			}
			// The record points at the line that called Log, not at Log.
			src, _ := got["source"].(map[string]any)
			if file, _ := src["file"].(string); !strings.HasSuffix(file, "oautherr_test.go") {
				t.Errorf("source = %v, want the caller in oautherr_test.go", got["source"])
			}
			for _, h := range tc.hidden {
				if strings.Contains(buf.String(), h) {
					t.Errorf("log %s contains %q", buf.Bytes(), h)
				}
			}
		})
	}
}

// tempErr says it is temporary, as store.ErrUnavailable does.
type tempErr struct{}

func (tempErr) Error() string                { return "database did not answer" }
func (tempErr) TemporarilyUnavailable() bool { return true }

// TestTemporaryCause: a server_error caused by something temporary (the
// store could not be reached) becomes temporarily_unavailable with 503
// and Retry-After, however deep the cause is wrapped; other causes and
// other codes are left alone.
func TestTemporaryCause(t *testing.T) {
	temporary := fmt.Errorf("rotate refresh token: %w", tempErr{})
	tests := []struct {
		name       string
		err        *oautherr.Error
		wantCode   oautherr.Code
		wantStatus int
	}{
		{"server_error, temporary cause", oautherr.ServerError("x").WithCause(temporary), oautherr.CodeTemporarilyUnavailable, http.StatusServiceUnavailable},
		{"through oautherr.From", oautherr.From(temporary), oautherr.CodeTemporarilyUnavailable, http.StatusServiceUnavailable},
		{"an OAuth error as the cause", oautherr.ServerError("x").WithCause(oautherr.ServerError("y").WithCause(temporary)), oautherr.CodeTemporarilyUnavailable, http.StatusServiceUnavailable},
		{"server_error, other cause", oautherr.ServerError("x").WithCause(errors.New("syntax error")), oautherr.CodeServerError, http.StatusInternalServerError},
		{"another code keeps its own", oautherr.InvalidGrant("x").WithCause(temporary), oautherr.CodeInvalidGrant, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Code != tc.wantCode || tc.err.Status != tc.wantStatus {
				t.Fatalf("%s %d, want %s %d", tc.err.Code, tc.err.Status, tc.wantCode, tc.wantStatus)
			}
			rec := httptest.NewRecorder()
			oautherr.WriteJSON(rec, tc.err)
			if got := rec.Header().Get("Retry-After"); (tc.wantStatus == http.StatusServiceUnavailable) != (got != "") {
				t.Errorf("status %d with Retry-After %q", rec.Code, got)
			}
		})
	}
	if l := oautherr.ServerError("x").WithCause(temporary).LogLevel(); l != slog.LevelError {
		t.Errorf("a temporarily_unavailable with a cause logs at %v, want Error: the operator must see the outage", l)
	}
}
