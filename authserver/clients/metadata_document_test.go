package clients

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// docServer serves client metadata documents over TLS on 127.0.0.1.
type docServer struct {
	srv     *httptest.Server
	fetches atomic.Int32
	// answer writes the response for a path; doc is the standard one.
	answer func(w http.ResponseWriter, r *http.Request, id string)
}

func newDocServer(t *testing.T) *docServer {
	t.Helper()
	d := &docServer{}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.fetches.Add(1)
		d.answer(w, r, d.srv.URL+r.URL.Path)
	}))
	t.Cleanup(d.srv.Close)
	d.answer = func(w http.ResponseWriter, r *http.Request, id string) { writeDoc(w, standardDoc(id), "") }
	return d
}

func standardDoc(id string) string {
	return fmt.Sprintf(`{"client_id":%q,"client_name":"Agent","redirect_uris":["http://127.0.0.1/callback"],
		"software_id":"agent-sdk","software_version":"1.2.3","logo_uri":"https://logos.example/a.png"}`, id)
}

func writeDoc(w http.ResponseWriter, body, cacheControl string) {
	w.Header().Set("Content-Type", "application/json")
	if cacheControl != "" {
		w.Header().Set("Cache-Control", cacheControl)
	}
	_, _ = w.Write([]byte(body))
}

// source resolves documents from d (its network allowed), with a clock
// the test moves, and everything else from a static client.
func (d *docServer) source(t *testing.T, now *time.Time) *MetadataDocuments {
	t.Helper()
	static, err := NewStatic([]*Client{{ID: "static", Metadata: Metadata{Type: ThirdPartyPublic, RedirectURIs: []string{"http://127.0.0.1/cb"}}}}, []string{"openid", "offline_access"})
	if err != nil {
		t.Fatal(err)
	}
	roots := d.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return NewMetadataDocuments(static, MetadataDocumentOptions{
		AllowNetworks:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		SupportedScopes: []string{"openid", "offline_access"},
		RootCAs:         roots,
		Now:             func() time.Time { return *now },
	})
}

func TestMetadataDocumentClient(t *testing.T) {
	d := newDocServer(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := d.source(t, &now)
	id := d.srv.URL + "/agent.json"
	c, err := src.Client(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != id || c.Name != "Agent" || c.Type != ThirdPartyPublic || !c.Dynamic || c.SoftwareID != "agent-sdk" ||
		c.SoftwareVersion != "1.2.3" || !c.MatchRedirectURI("http://127.0.0.1:5555/callback") {
		t.Errorf("client %+v", c)
	}
	if _, err := src.Client(t.Context(), "static"); err != nil {
		t.Errorf("other ids go to the next source: %v", err)
	}
	if _, err := src.Client(t.Context(), "http://127.0.0.1/agent.json"); !errors.Is(err, ErrUnknown) {
		t.Errorf("an http client id: %v", err)
	}

	// Cached for the default five minutes, then fetched again.
	src.Client(t.Context(), id)
	if n := d.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1 (cached)", n)
	}
	now = now.Add(6 * time.Minute)
	src.Client(t.Context(), id)
	if n := d.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after the cache expired, want 2", n)
	}
}

func TestMetadataDocumentCaching(t *testing.T) {
	tests := []struct {
		cacheControl string
		after        time.Duration
		refetch      bool
	}{
		{"max-age=60", 59 * time.Second, false},
		{"max-age=60", 61 * time.Second, true},
		{"public, max-age=3600", 30 * time.Minute, false},
		{"max-age=999999999", 25 * time.Hour, true}, // capped at a day
		{"no-store", 0, true},
		{"no-cache", 0, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.cacheControl, " ", tc.after), func(t *testing.T) {
			d := newDocServer(t)
			d.answer = func(w http.ResponseWriter, r *http.Request, id string) { writeDoc(w, standardDoc(id), tc.cacheControl) }
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			src := d.source(t, &now)
			id := d.srv.URL + "/agent.json"
			for range 2 {
				if _, err := src.Client(t.Context(), id); err != nil {
					t.Fatal(err)
				}
				now = now.Add(tc.after)
			}
			if got := d.fetches.Load() == 2; got != tc.refetch {
				t.Errorf("fetched again: %v, want %v", got, tc.refetch)
			}
		})
	}
}

func TestMetadataDocumentRefused(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		answer func(w http.ResponseWriter, r *http.Request, id string)
		want   string
	}{
		{"client_id differs", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) {
			writeDoc(w, standardDoc(id+"x"), "")
		}, "client_id"},
		{"too large", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) {
			writeDoc(w, strings.Replace(standardDoc(id), `"Agent"`, `"`+strings.Repeat("a", MaxMetadataDocumentSize)+`"`, 1), "")
		}, "larger than"},
		{"redirect", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) {
			http.Redirect(w, r, "/b.json", http.StatusFound)
		}, "status 302"},
		{"not found", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) { http.NotFound(w, r) }, "status 404"},
		{"not JSON", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(standardDoc(id)))
		}, "not JSON"},
		{"a secret", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) {
			writeDoc(w, strings.Replace(standardDoc(id), "{", `{"client_secret":"s",`, 1), "")
		}, "client_secret"},
		{"a confidential method", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) {
			writeDoc(w, strings.Replace(standardDoc(id), "{", `{"token_endpoint_auth_method":"client_secret_basic",`, 1), "")
		}, "token_endpoint_auth_method"},
		{"a bad redirect URI", "/a.json", func(w http.ResponseWriter, r *http.Request, id string) {
			writeDoc(w, strings.Replace(standardDoc(id), "http://127.0.0.1/callback", "javascript:alert(1)", 1), "")
		}, "redirect_uris"},
		{"no path", "/", nil, "no path"},
		{"dot segments", "/x/../a.json", nil, "dot segments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocServer(t)
			if tc.answer != nil {
				d.answer = tc.answer
			}
			now := time.Now()
			_, err := d.source(t, &now).Client(t.Context(), d.srv.URL+tc.path)
			if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrUnknown mentioning %q", err, tc.want)
			}
		})
	}
}

// TestMetadataDocumentAddresses: without the allow-list, documents on
// loopback, private and link-local addresses are not fetched (the
// address is checked after name resolution, when dialling).
func TestMetadataDocumentAddresses(t *testing.T) {
	d := newDocServer(t)
	src := NewMetadataDocuments(Static{}, MetadataDocumentOptions{Timeout: time.Second})
	for _, id := range []string{d.srv.URL + "/a.json", strings.Replace(d.srv.URL, "127.0.0.1", "localhost", 1) + "/a.json"} {
		if _, err := src.Client(context.Background(), id); err == nil || !strings.Contains(err.Error(), "non-public address") {
			t.Errorf("%s: %v, want a refusal of the address", id, err)
		}
	}
	if n := d.fetches.Load(); n != 0 {
		t.Errorf("the server was reached %d times", n)
	}
	for addr, public := range map[string]bool{
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fc00::1": false, "::ffff:127.0.0.1": false,
		"64:ff9b::a00:1": false, "224.0.0.1": false, "93.184.216.34": true, "2606:4700::1111": true,
	} {
		if got := isPublicAddress(netip.MustParseAddr(addr).Unmap()); got != public {
			t.Errorf("isPublicAddress(%s) = %v, want %v", addr, got, public)
		}
	}
}

func TestMetadataDocumentsLifetimeBound(t *testing.T) {
	src := NewMetadataDocuments(Static{}, MetadataDocumentOptions{})
	if d, ok := BoundOf(NewGate(src)); !ok || d != MaxAccessTokenLifetime {
		t.Errorf("BoundOf = %v, %v; want the registration bound %v", d, ok, MaxAccessTokenLifetime)
	}
	if _, ok := BoundOf(NewMetadataDocuments(NewGate(nil), MetadataDocumentOptions{})); ok {
		t.Error("a source that cannot say was given a bound")
	}
}

// TestMetadataDocumentFetchRate: fetches are rate-limited across client
// ids, so made-up ids cannot make the server fetch without end; cached
// documents are still served.
func TestMetadataDocumentFetchRate(t *testing.T) {
	d := newDocServer(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := d.source(t, &now)
	known := d.srv.URL + "/known.json"
	if _, err := src.Client(t.Context(), known); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range 2 * fetchBurst {
		_, err := src.Client(t.Context(), fmt.Sprintf("%s/agent-%d.json", d.srv.URL, i))
		if errors.Is(err, ErrFetchRate) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if refused == 0 || int(d.fetches.Load()) > fetchBurst+1 {
		t.Errorf("%d refused, %d fetched; want at most the burst (%d) fetched", refused, d.fetches.Load(), fetchBurst)
	}
	if _, err := src.Client(t.Context(), known); err != nil {
		t.Errorf("a cached document while fetches are limited: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := src.Client(t.Context(), d.srv.URL+"/later.json"); err != nil {
		t.Errorf("a second later: %v", err)
	}
}
