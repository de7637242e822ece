package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestAdminErrors: every admin API failure is a caddy.APIError; one with
// a code is answered with the OAuth-style body scripts read, any other
// is left for Caddy to answer.
func TestAdminErrors(t *testing.T) {
	a := &AdminAPI{} // no gatehouse app
	rec := httptest.NewRecorder()
	err := a.serve(rec, httptest.NewRequest(http.MethodGet, "/gatehouse/clients", nil))
	var ae caddy.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusNotFound {
		t.Fatalf("serve: %#v", err)
	}

	rec = httptest.NewRecorder()
	if err := a.Routes()[0].Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/gatehouse/clients", nil)); err != nil {
		t.Fatalf("a coded error was left to Caddy: %v", err)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error != "not_found" ||
		body.Description == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("response %d %s", rec.Code, rec.Body)
	}

	plain := caddy.APIError{HTTPStatus: http.StatusTeapot, Err: errors.New("plain")}
	h := writeCodedErrors(func(http.ResponseWriter, *http.Request) error { return plain })
	rec = httptest.NewRecorder()
	if err := h(rec, httptest.NewRequest(http.MethodGet, "/", nil)); !errors.As(err, &ae) || ae.HTTPStatus != http.StatusTeapot || rec.Body.Len() != 0 {
		t.Errorf("an error without a code: %v, body %q", err, rec.Body)
	}
}
