package clients

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
// which the MCP authorization specification adopts): a client_id that is
// an https URL names a JSON document of client metadata (RFC 7591 §2) that
// the client publishes there. The server fetches it when it first meets the
// client, instead of a registration; such clients are third-party and
// public, like anonymously registered ones.
//
// Fetching a URL a stranger chose is a server-side request forgery risk,
// so the fetch refuses loopback, private, link-local and other
// non-public addresses (checked on the address actually dialled, after DNS,
// so a name that resolves to one is refused too), follows no redirects,
// uses no proxy, reads at most MaxMetadataDocumentSize bytes and gives up
// after a timeout. An operator's allow-list of networks lifts the address
// rule (local agents, tests).

// MaxMetadataDocumentSize bounds a client metadata document (the draft's
// recommended limit).
const MaxMetadataDocumentSize = 5 * 1024

// Cache bounds: a document's own caching headers decide within them.
const (
	defaultDocumentTTL = 5 * time.Minute
	maxDocumentTTL     = 24 * time.Hour
	// failedDocumentTTL keeps a failure for a while, so a client id that
	// does not resolve is not fetched again on every request.
	failedDocumentTTL   = 30 * time.Second
	maxCachedDocuments  = 1000
	defaultFetchTimeout = 5 * time.Second
	// fetchRate and fetchBurst bound fetches across all client ids, so
	// made-up ids cannot turn the server into a crawler of other sites.
	fetchRate  = 10 // per second
	fetchBurst = 50
)

// ErrFetchRate means too many metadata documents were fetched lately; the
// request may be tried again shortly.
var ErrFetchRate = errors.New("too many client metadata documents fetched; try again shortly")

// MetadataDocumentOptions configure MetadataDocuments.
type MetadataDocumentOptions struct {
	// AllowNetworks are networks the fetch may reach although they are
	// not public (e.g. 127.0.0.0/8 for agents on this machine). Default:
	// none.
	AllowNetworks []netip.Prefix
	// SupportedScopes are the scopes a client may be allowed.
	SupportedScopes []string
	// IDTokenAlgorithms are the signing algorithms the server has keys
	// for, which a document's id_token_signed_response_alg must name.
	// Default RS256 and ES256, as for RegistryOptions.
	IDTokenAlgorithms []string
	// Timeout bounds one fetch. Default 5 s.
	Timeout time.Duration
	// RootCAs verify the documents' servers; nil: the system's.
	RootCAs *x509.CertPool
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// MetadataDocuments is a Source that resolves https client ids by their
// metadata documents and asks next for every other id.
type MetadataDocuments struct {
	next        Source
	opts        MetadataDocumentOptions
	idTokenAlgs []string
	client      *http.Client
	fetches     *rate.Limiter // across all ids

	mu    sync.Mutex
	cache map[string]cachedDocument
}

type cachedDocument struct {
	client  *Client // nil: the fetch failed with err
	err     error
	expires time.Time
}

// NewMetadataDocuments wraps next.
func NewMetadataDocuments(next Source, opts MetadataDocumentOptions) *MetadataDocuments {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultFetchTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &MetadataDocuments{next: next, opts: opts, idTokenAlgs: runTimeIDTokenAlgs(opts.IDTokenAlgorithms), cache: map[string]cachedDocument{},
		fetches: rate.NewLimiter(fetchRate, fetchBurst)}
	// The draft forbids following redirects: the document must be at the
	// URL that is the client id.
	m.client = outboundClient("a client metadata document", opts.Timeout, opts.AllowNetworks, opts.RootCAs)
	return m
}

// IsMetadataDocumentID reports whether id is a client id this source
// resolves by fetching it: an https URL.
func IsMetadataDocumentID(id string) bool { return strings.HasPrefix(id, "https://") }

// Client implements Source.
func (m *MetadataDocuments) Client(ctx context.Context, id string) (*Client, error) {
	if !IsMetadataDocumentID(id) {
		return m.next.Client(ctx, id)
	}
	now := m.opts.Now()
	m.mu.Lock()
	e, ok := m.cache[id]
	m.mu.Unlock()
	if ok && now.Before(e.expires) {
		if e.client == nil {
			return nil, e.err
		}
		return e.client, nil
	}
	if !m.fetches.AllowN(now, 1) {
		return nil, ErrFetchRate
	}
	c, ttl, err := m.fetch(ctx, id)
	if err != nil {
		err = fmt.Errorf("%w: client metadata document %s: %w", ErrUnknown, truncate(id, 128), err)
		if ctx.Err() == nil { // a cancelled request says nothing of the document
			m.remember(id, cachedDocument{err: err, expires: now.Add(failedDocumentTTL)}, now)
		}
		return nil, err
	}
	if ttl > 0 {
		m.remember(id, cachedDocument{client: c, expires: now.Add(ttl)}, now)
	}
	return c, nil
}

func (m *MetadataDocuments) remember(id string, e cachedDocument, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) >= maxCachedDocuments {
		for k, old := range m.cache {
			if !now.Before(old.expires) {
				delete(m.cache, k)
			}
		}
		for k := range m.cache { // still full: drop any one
			if len(m.cache) < maxCachedDocuments {
				break
			}
			delete(m.cache, k)
		}
	}
	m.cache[id] = e
}

// validDocumentURL applies the draft's rules to a client id URL: https,
// a host, a path, no fragment, no credentials, no dot segments.
func validDocumentURL(id string) error {
	if len(id) > 2048 {
		return errors.New("the URL is too long")
	}
	u, err := url.Parse(id)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return errors.New("not an https URL")
	case u.User != nil:
		return errors.New("the URL has credentials")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return errors.New("the URL has a fragment")
	case u.Path == "" || u.Path == "/":
		return errors.New("the URL has no path")
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("the URL has dot segments")
		}
	}
	return nil
}

// fetch gets and checks the document at id, and says how long it may be
// cached.
func (m *MetadataDocuments) fetch(ctx context.Context, id string) (*Client, time.Duration, error) {
	if err := validDocumentURL(id); err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d (redirects are not followed)", resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, 0, errors.New("not JSON (Content-Type)")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxMetadataDocumentSize+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > MaxMetadataDocumentSize {
		return nil, 0, fmt.Errorf("larger than %d bytes", MaxMetadataDocumentSize)
	}
	c, err := m.parse(id, body)
	if err != nil {
		return nil, 0, err
	}
	return c, documentTTL(resp.Header), nil
}

// parse reads a document as an anonymous registration's metadata, with
// the draft's own rules on top.
func (m *MetadataDocuments) parse(id string, body []byte) (*Client, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, errors.New("not a JSON object")
	}
	var docID string
	if json.Unmarshal(obj["client_id"], &docID) != nil || docID != id {
		return nil, errors.New("its client_id is not the URL it was fetched from")
	}
	for _, name := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := obj[name]; ok {
			return nil, fmt.Errorf("it has %s: such clients are public", name)
		}
	}
	md, err := DecodeRegistration(obj, RegistrationRequest{Open: true, SupportedScopes: m.opts.SupportedScopes})
	if err != nil {
		return nil, err
	}
	if err := checkIDTokenAlg(&md, m.idTokenAlgs); err != nil {
		return nil, err
	}
	if md.Name == "" {
		md.Name = hostOf(id)
	}
	return &Client{ID: id, Metadata: md, Dynamic: true}, nil
}

// documentTTL reads Cache-Control (RFC 9111 §5.2.2): no-store and no-cache
// mean fetch again next time, max-age is honoured up to a day, and no
// directive means five minutes.
func documentTTL(h http.Header) time.Duration {
	ttl := defaultDocumentTTL
	for d := range strings.SplitSeq(strings.ToLower(h.Get("Cache-Control")), ",") {
		d = strings.TrimSpace(d)
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.Atoi(strings.Trim(d[len("max-age="):], `"`)); err == nil && n >= 0 {
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return min(ttl, maxDocumentTTL)
}

// nonPublic are special-purpose ranges netip's predicates do not cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64, which can reach IPv4 private space
	netip.MustParsePrefix("2001:db8::/32"), // documentation
}

// isPublicAddress reports whether ip is a global unicast address outside
// private, loopback, link-local and other special-purpose ranges.
func isPublicAddress(ip netip.Addr) bool {
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return raw
}

// Interface guards
var _ Source = (*MetadataDocuments)(nil)
