package integration

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's Chromium headless through the DevTools
// protocol (chromedp). Environment:
//
//	GATEHOUSE_CHROMIUM        the browser (default /usr/bin/chromium)
//	GATEHOUSE_AXE_JS          axe-core's axe.min.js (default: the copy
//	                          scripts/test.sh installs under .cache/axe)
//	GATEHOUSE_SCREENSHOT_DIR  where the tests' screenshots go (default: a
//	                          temporary directory, named in the test log)
//	GATEHOUSE_UPDATE_SCREENSHOTS=1  TestBrowserPages also writes the page
//	                          gallery to docs/screenshots
//
// Without Chromium (or axe-core) the tests skip with a message; under
// CI=true they fail instead.

const defaultChromium = "/usr/bin/chromium"

// requireOrSkip fails the test under CI (a missing test dependency must
// never pass silently there) and skips it elsewhere.
func requireOrSkip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing test dependency is a failure)", msg)
	}
	t.Skipf("%s; skipping (./scripts/test.sh installs it)", msg)
}

// chromiumPath returns the browser to drive, or skips/fails the test.
func chromiumPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("GATEHOUSE_CHROMIUM")
	if p == "" {
		p = defaultChromium
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		requireOrSkip(t, "Chromium not found at %s (set GATEHOUSE_CHROMIUM, or apt-get install -y chromium)", p)
	}
	return p
}

// axeSource returns axe-core's script, or "" when it is not installed (a
// failure under CI).
func axeSource(t testing.TB) string {
	t.Helper()
	p := os.Getenv("GATEHOUSE_AXE_JS")
	if p == "" {
		p = filepath.Join("..", ".cache", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core not found at %s (CI=true: a missing test dependency is a failure): %v", p, err)
		}
		t.Logf("axe-core not found at %s: accessibility checks are skipped (./scripts/test.sh installs it)", p)
		return ""
	}
	return string(b)
}

// browserSuite is one Caddy running the demo configuration, one Chromium,
// and a loopback server standing in for the demo apps' callbacks.
type browserSuite struct {
	in       *instance
	browser  context.Context // owns the Chromium process
	callback *callbackServer
	axe      string
	shotDir  string
}

func startBrowserSuite(t *testing.T) *browserSuite {
	t.Helper()
	return startBrowserSuiteWith(t, exampleSetup{edit: withGatePolicy})
}

// startBrowserSuiteWith is startBrowserSuite on the demo configuration
// set up by setup (its directory and issuer port are chosen here).
func startBrowserSuiteWith(t *testing.T, setup exampleSetup) *browserSuite {
	t.Helper()
	if testing.Short() {
		t.Skip("-short (./scripts/test.sh quick): the browser tests run in the full suite")
	}
	axe := axeSource(t)
	setup.dir, setup.port = t.TempDir(), freePort(t)
	in := startExampleWith(t, setup)

	shotDir := os.Getenv("GATEHOUSE_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = t.TempDir()
	} else if err := os.MkdirAll(shotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shotDir)
	return &browserSuite{in: in, browser: startChromium(t, in), callback: newCallbackServer(t), axe: axe, shotDir: shotDir}
}

// startChromium starts headless Chromium, trusting in's certificates,
// until the test ends; it skips (fails under CI) without Chromium.
func startChromium(t *testing.T, in *instance) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	// Chromium trusts Caddy's local CA through its keys only: the SPKI
	// hashes of the root, intermediate and leaf certificates, rather than
	// --ignore-certificate-errors, which would accept anything.
	spki := caddySPKIHashes(t, in)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,PasswordLeakDetection,AutofillServerCommunication"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spki, ",")),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first Run starts Chromium, bound to browser's life.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	return browser
}

// caddySPKIHashes returns the base64 SHA-256 of the public keys of Caddy's
// local root and intermediate certificates and of the leaf the issuer and
// the gated site serve (Chromium's --ignore-certificate-errors-spki-list).
func caddySPKIHashes(t *testing.T, in *instance) []string {
	t.Helper()
	var hashes []string
	add := func(c *x509.Certificate) {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		h := base64.StdEncoding.EncodeToString(sum[:])
		for _, x := range hashes {
			if x == h {
				return
			}
		}
		hashes = append(hashes, h)
	}
	for _, name := range []string{"root.crt", "intermediate.crt"} {
		b, err := os.ReadFile(filepath.Join(in.dir, "pki", "authorities", "local", name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", name)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		add(c)
	}
	for _, site := range []string{in.issuer, in.gate} {
		u, _ := url.Parse(site)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", u.Host,
			&tls.Config{RootCAs: in.roots, ServerName: u.Hostname()})
		if err != nil {
			t.Fatalf("TLS to %s: %v", site, err)
		}
		for _, c := range conn.ConnectionState().PeerCertificates {
			add(c)
		}
		conn.Close()
	}
	return hashes
}

// callbackServer stands in for the demo apps' redirect URI
// http://127.0.0.1:<port>/callback (any port matches, RFC 8252 §7.3). It
// records each request's query by its state.
type callbackServer struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]url.Values
}

func newCallbackServer(t *testing.T) *callbackServer {
	c := &callbackServer{got: map[string]url.Values{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		c.mu.Lock()
		c.got[q.Get("state")] = q
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Demo app</title><h1 id="callback">Back at the app</h1><p>%s</p></html>`,
			html.EscapeString(q.Encode()))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callbackServer) redirectURI() string { return c.srv.URL + "/callback" }

// result returns what the callback received for state.
func (c *callbackServer) result(state string) (url.Values, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.got[state]
	return q, ok
}

// authorizeURL is an authorization request of a demo app to the callback
// server.
func (s *browserSuite) authorizeURL(a demoApp, state string, extra ...string) string {
	v := url.Values{
		"response_type": {"code"},
		"client_id":     {a.id},
		"redirect_uri":  {s.callback.redirectURI()},
		"scope":         {"openid profile email"},
		"state":         {state},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return s.in.issuer + "/authorize?" + v.Encode()
}

// tab is one browser tab in its own browser context (fresh cookies).
type tab struct {
	t     *testing.T
	s     *browserSuite
	ctx   context.Context
	mu    sync.Mutex
	log   []logEntry // browser log errors and warnings (CSP violations among them)
	shots int
}

type logEntry struct{ level, source, text, url string }

// view is a viewport and color scheme.
type view struct {
	name          string
	width, height int64
	mobile        bool
	dark          bool
}

var (
	desktopLight = view{name: "desktop-light", width: 1280, height: 800}
	desktopDark  = view{name: "desktop-dark", width: 1280, height: 800, dark: true}
	phoneLight   = view{name: "phone-light", width: 360, height: 740, mobile: true}
	phoneDark    = view{name: "phone-dark", width: 360, height: 740, mobile: true, dark: true}
)

func (s *browserSuite) newTab(t *testing.T, v view) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Bound every test's browser work; a hung page fails instead of
	// stalling the suite.
	ctx, cancelTimeout := context.WithTimeout(ctx, 45*time.Second)
	t.Cleanup(cancelTimeout)
	b := &tab{t: t, s: s, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && (e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning) {
			b.mu.Lock()
			b.log = append(b.log, logEntry{level: string(e.Entry.Level), source: string(e.Entry.Source), text: e.Entry.Text, url: e.Entry.URL})
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.setView(v)
	return b
}

// setView emulates the viewport and prefers-color-scheme of v.
func (b *tab) setView(v view) {
	b.t.Helper()
	scheme := "light"
	if v.dark {
		scheme = "dark"
	}
	err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: v.width, Height: v.height, DeviceScaleFactor: 1, Mobile: v.mobile,
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	if err != nil {
		b.t.Fatalf("emulating %s: %v", v.name, err)
	}
}

// open navigates to rawURL and returns the final document's response.
func (b *tab) open(rawURL string) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(rawURL))
	if err != nil {
		b.t.Fatalf("opening %s: %v", rawURL, err)
	}
	return resp
}

// click clicks the element sel and waits for the page it leads to.
func (b *tab) click(sel string) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("clicking %s on %s: %v", sel, b.location(), err)
	}
	return resp
}

// keys sends key presses to whatever has the focus ("\t" is Tab, "\r"
// Enter).
func (b *tab) keys(k string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(k)); err != nil {
		b.t.Fatalf("typing: %v", err)
	}
}

// keysAndWait sends keys that cause a navigation and waits for it.
func (b *tab) keysAndWait(k string) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.KeyEvent(k))
	if err != nil {
		b.t.Fatalf("typing %q on %s: %v", k, b.location(), err)
	}
	return resp
}

// fill types text into the field sel.
func (b *tab) fill(sel, text string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible)); err != nil {
		b.t.Fatalf("typing into %s: %v", sel, err)
	}
}

func (b *tab) location() string {
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// js evaluates expr in the page and decodes its value into T.
func js[T any](b *tab, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %.80q on %s: %v", expr, b.location(), err)
	}
	return v
}

// text is the visible text of the first element matching sel ("" if none).
func (b *tab) text(sel string) string {
	b.t.Helper()
	return js[string](b, fmt.Sprintf(`(document.querySelector(%q)||{innerText:""}).innerText`, sel))
}

// has reports whether an element matches sel.
func (b *tab) has(sel string) bool {
	b.t.Helper()
	return js[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
}

// screenshot saves the whole page as <dir>/<name>.png and returns the path.
func (b *tab) screenshot(dir, name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// shot saves a screenshot of the current step of a test.
func (b *tab) shot(step string) {
	b.t.Helper()
	b.shots++
	name := fmt.Sprintf("%s-%02d-%s", strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()), b.shots, step)
	b.screenshot(b.s.shotDir, name)
}

// browserLog returns and clears the browser log's errors and warnings
// (a CSP violation, a stylesheet or image that failed to load), except
// the network's note that the page itself had an error status, which the
// tests check themselves, and a missing favicon.
func (b *tab) browserLog() []string {
	b.t.Helper()
	doc := b.location()
	b.mu.Lock()
	defer b.mu.Unlock()
	var l []logEntry
	l, b.log = b.log, nil
	var out []string
	for _, e := range l {
		if e.source == "network" && strings.HasPrefix(e.text, "Failed to load resource: the server responded with a status of") && e.url == doc {
			continue
		}
		if strings.HasSuffix(e.url, "/favicon.ico") { // the browser's own request, not the page's
			continue
		}
		out = append(out, fmt.Sprintf("%s %s: %s (%s)", e.level, e.source, e.text, e.url))
	}
	return out
}

// axeViolation is one failed axe-core rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
		Why    string `json:"failureSummary"`
	} `json:"nodes"`
}

// checkAccessibility runs axe-core on the page and fails on serious or
// critical violations. The script is evaluated through DevTools, which the
// page's CSP does not govern, so the page keeps its real policy.
func (b *tab) checkAccessibility(page string) {
	b.t.Helper()
	if b.s.axe == "" {
		return
	}
	if !js[bool](b, `typeof window.axe === "object"`) {
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](b.s.axe)); err != nil {
			b.t.Fatalf("injecting axe-core: %v", err)
		}
	}
	raw := js[string](b, `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`)
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatalf("axe result: %v", err)
	}
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			b.t.Logf("axe %s (%s) on %s: %s", v.ID, v.Impact, page, v.Help)
			continue
		}
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprintf("%v %s\n      %s", n.Target, n.HTML, strings.ReplaceAll(n.Why, "\n", " ")))
		}
		b.t.Errorf("axe %s (%s) on %s: %s\n    %s", v.ID, v.Impact, page, v.Help, strings.Join(where, "\n    "))
	}
}

// layout is what checkLayout measures.
type layout struct {
	ViewportWidth float64  `json:"vw"`
	ScrollWidth   float64  `json:"sw"`
	Offscreen     []string `json:"off"`
}

// checkLayout fails when the page scrolls sideways or a button or field
// does not fit in the viewport's width or is hidden.
func (b *tab) checkLayout(page string) {
	b.t.Helper()
	l := js[layout](b, `(() => {
		const vw = document.documentElement.clientWidth;
		const off = [];
		for (const el of document.querySelectorAll("button, input:not([type=hidden]), a")) {
			const r = el.getBoundingClientRect();
			const st = getComputedStyle(el);
			if (r.width === 0 || r.height === 0 || st.visibility === "hidden" || r.left < 0 || r.right > vw + 0.5) {
				off.push(el.outerHTML.slice(0, 120) + " @" + Math.round(r.left) + ".." + Math.round(r.right));
			}
		}
		return {vw: vw, sw: document.documentElement.scrollWidth, off: off};
	})()`)
	if l.ScrollWidth > l.ViewportWidth {
		b.t.Errorf("%s scrolls sideways: content %v px wide in a %v px viewport", page, l.ScrollWidth, l.ViewportWidth)
	}
	for _, o := range l.Offscreen {
		b.t.Errorf("%s: control not fully visible in the %v px viewport: %s", page, l.ViewportWidth, o)
	}
}

// devtoolsHeaders returns a getter of a response's headers, which
// DevTools reports as a map with the names as the server sent them.
func devtoolsHeaders(resp *network.Response) func(string) string {
	return func(name string) string {
		for k, v := range resp.Headers {
			if strings.EqualFold(k, name) {
				return fmt.Sprint(v)
			}
		}
		return ""
	}
}

// saveCompact writes the page's screenshot to path as a small PNG: the
// 256 most frequent colors, each pixel mapped to the nearest of them.
// The pages are flat colors and anti-aliased text, so this is close to
// lossless at a third of the size.
func (b *tab) saveCompact(path string) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatal(err)
	}
	bounds := img.Bounds()
	counts := map[color.RGBA]int{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 0xff}]++
		}
	}
	colors := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		colors = append(colors, c)
	}
	// Most frequent first; ties in a fixed order, so the output is stable.
	slices.SortFunc(colors, func(a, c color.RGBA) int {
		if d := counts[c] - counts[a]; d != 0 {
			return d
		}
		return cmp.Compare(uint32(a.R)<<16|uint32(a.G)<<8|uint32(a.B), uint32(c.R)<<16|uint32(c.G)<<8|uint32(c.B))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range colors[:min(256, len(colors))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(bounds, pal)
	draw.Draw(out, bounds, img, bounds.Min, draw.Src)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.t.Fatal(err)
	}
}
