// Package ui renders Gatehouse's end-user pages: sign-in, consent, error,
// signed-out, sign-out confirmation, the connected-apps account page and
// the issuer's home page (pages.go lists them).
//
// The pages are html/template templates embedded in the binary, styled by
// one stylesheet and free of JavaScript, inline styles and third-party
// resources, so they work under a strict Content-Security-Policy such as
//
//	default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'
//
// The configured primary color reaches the stylesheet as CSS custom
// properties generated once by New. An operator may replace any template or
// the stylesheet with a file of the same name in an override directory;
// everything is parsed and trial-rendered by New, so a broken override stops
// the server at startup rather than at a user's sign-in.
//
// Every user-visible string lives in messages.go.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

//go:embed templates/*.html assets/gatehouse.css
var embedded embed.FS

// Names of the files an override directory may contain, besides the
// pages' templates (pageFiles).
const (
	layoutFile   = "layout.html"
	partialsFile = "partials.html"
	// CSSFile is the stylesheet's file name, embedded and in an override
	// directory.
	CSSFile = "gatehouse.css"
)

// pageFiles are the templates of the registered pages (pages.go); each is
// parsed together with layoutFile and partialsFile.
var pageFiles = func() []string {
	names := make([]string, len(registered))
	for i, p := range registered {
		names[i] = p.templateName()
	}
	return names
}()

// Branding is the operator's look of the pages.
type Branding struct {
	ProductName  string // default "Gatehouse"
	LogoURL      string // optional; https or a path
	PrimaryColor string // optional "#rrggbb"/"#rgb"; default a calm blue
}

const defaultProductName = "Gatehouse"

// normalize fills defaults and validates b.
func (b Branding) normalize() (Branding, rgb, error) {
	b.ProductName = strings.TrimSpace(b.ProductName)
	if b.ProductName == "" {
		b.ProductName = defaultProductName
	}
	b.LogoURL = strings.TrimSpace(b.LogoURL)
	if b.LogoURL != "" {
		if err := checkLogoURL(b.LogoURL); err != nil {
			return b, rgb{}, fmt.Errorf("ui: branding logo URL: %w", err)
		}
	}
	b.PrimaryColor = strings.TrimSpace(b.PrimaryColor)
	if b.PrimaryColor == "" {
		b.PrimaryColor = defaultPrimary
	}
	c, err := parseHexColor(b.PrimaryColor)
	if err != nil {
		return b, rgb{}, fmt.Errorf("ui: branding primary color: %w", err)
	}
	b.PrimaryColor = c.hex()
	return b, c, nil
}

// checkLogoURL accepts an absolute https URL or a path on this server.
func checkLogoURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "" && u.Host == "" && u.Path != "" && !strings.HasPrefix(s, "//"):
		return nil
	}
	return fmt.Errorf("%q must be an https URL or a path", s)
}

// Renderer renders the pages. It is safe for concurrent use.
type Renderer struct {
	branding Branding
	css      []byte
	cssHash  string
	// pages maps a language tag, then a page file name, to its template.
	pages map[string]map[string]*template.Template
}

// New parses the templates and builds the stylesheet. overrideDir, if not
// empty, is a directory whose files replace the embedded ones of the same
// name (layout.html, partials.html, a page's template such as login.html,
// gatehouse.css). An error names the file at fault.
func New(b Branding, overrideDir string) (*Renderer, error) {
	b, primary, err := b.normalize()
	if err != nil {
		return nil, err
	}
	src, err := loadSources(overrideDir)
	if err != nil {
		return nil, err
	}

	css := src[CSSFile]
	full := newPalette(primary).css() + "\n/* Stylesheet: " + css.origin + " */\n" + css.text
	sum := sha256.Sum256([]byte(full))
	r := &Renderer{
		branding: b,
		css:      []byte(full),
		cssHash:  hex.EncodeToString(sum[:6]),
		pages:    make(map[string]map[string]*template.Template, len(catalogs)),
	}

	langs := make([]string, 0, len(catalogs))
	for lang := range catalogs {
		langs = append(langs, lang)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		set, err := parsePages(src, catalogs[lang])
		if err != nil {
			return nil, err
		}
		r.pages[lang] = set
	}
	if err := r.selfCheck(src); err != nil {
		return nil, err
	}
	return r, nil
}

// source is the text of one template or stylesheet and where it came from.
type source struct {
	text   string
	origin string // "embedded login.html" or the override file's path
}

// loadSources reads the embedded files, then the overrides.
func loadSources(overrideDir string) (map[string]source, error) {
	src := make(map[string]source)
	for _, name := range append([]string{layoutFile, partialsFile, CSSFile}, pageFiles...) {
		p := path.Join("templates", name)
		if name == CSSFile {
			p = path.Join("assets", name)
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("ui: embedded %s: %w", name, err)
		}
		src[name] = source{text: string(b), origin: "embedded " + name}
	}
	if overrideDir == "" {
		return src, nil
	}

	entries, err := os.ReadDir(overrideDir)
	if err != nil {
		return nil, fmt.Errorf("ui: override directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(overrideDir, name)
		if _, known := src[name]; !known {
			if strings.HasSuffix(name, ".html") {
				return nil, fmt.Errorf("ui: override %s: unknown template file name (want one of %s)",
					p, strings.Join(append([]string{layoutFile, partialsFile}, pageFiles...), ", "))
			}
			continue // logos and other files may live beside the overrides
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("ui: override %s: %w", p, err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("ui: override %s: not valid UTF-8", p)
		}
		src[name] = source{text: string(b), origin: p}
	}
	return src, nil
}

// parsePages parses the layout, the partials and every page with the
// functions of c.
func parsePages(src map[string]source, c *catalog) (map[string]*template.Template, error) {
	layout := src[layoutFile]
	base, err := template.New(layoutFile).Funcs(c.funcs()).Parse(layout.text)
	if err != nil {
		return nil, fmt.Errorf("ui: parsing %s: %w", layout.origin, err)
	}
	partials := src[partialsFile]
	if _, err := base.New(partialsFile).Parse(partials.text); err != nil {
		return nil, fmt.Errorf("ui: parsing %s: %w", partials.origin, err)
	}
	set := make(map[string]*template.Template, len(pageFiles))
	for _, name := range pageFiles {
		page := src[name]
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("ui: parsing %s: %w", page.origin, err)
		}
		if t, err = t.New(name).Parse(page.text); err != nil {
			return nil, fmt.Errorf("ui: parsing %s: %w", page.origin, err)
		}
		set[name] = t
	}
	return set, nil
}

// selfCheck renders every page with full and with empty sample data, so that
// template errors which only show at execution (a misspelt field, a missing
// "content" block) stop New instead of a user's request.
func (r *Renderer) selfCheck(src map[string]source) error {
	for _, p := range samplePages() {
		name := p.templateName()
		for lang := range r.pages {
			p := withBase(p, func(b *Base) { b.Lang = lang })
			if _, err := r.render(p); err != nil {
				return fmt.Errorf("ui: checking %s (with %s and %s): %w",
					src[name].origin, src[layoutFile].origin, src[partialsFile].origin, err)
			}
		}
	}
	return nil
}

// CSS returns the stylesheet bytes (static + branding vars), and a short
// content hash for cache busting. The bytes are shared: do not modify them.
func (r *Renderer) CSS() (css []byte, hash string) { return r.css, r.cssHash }

// Branding returns the normalised branding: defaults filled in and the
// primary color as lower-case "#rrggbb".
func (r *Renderer) Branding() Branding { return r.branding }

// Render executes page into a buffer first (so a template error never yields a
// half-written page), then writes Content-Type text/html; charset=utf-8, the
// status, and the body. It does not set security headers (the caller does).
//
// On error nothing has been written to w, so the caller can still send a
// plain error response. A status of 0 means 200.
func (r *Renderer) Render(w http.ResponseWriter, status int, page Page) error {
	body, err := r.render(page)
	if err != nil {
		return err
	}
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// render returns the HTML of page.
func (r *Renderer) render(page Page) ([]byte, error) {
	lang := "en"
	var data Page
	if page != nil {
		data = withBase(page, func(b *Base) {
			b.Branding = r.branding
			lang, b.Lang = resolveLang(b.Lang)
		})
	}
	if data == nil {
		return nil, fmt.Errorf("ui: cannot render %T", page)
	}
	name := data.templateName()
	t := r.pages[lang][name]
	if t == nil {
		return nil, fmt.Errorf("ui: %T is not a registered page", page)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("ui: rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// initial returns the first letter of s, upper-cased, for a monogram.
func initial(s string) string {
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return ""
}

// initials returns up to two initials of a person's name ("Ada Lovelace" →
// "AL"), or of the part of an email address before the "@".
func initials(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "@")
	words := strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '.' || r == '_' || r == '-'
	})
	var out string
	for _, w := range words {
		if i := initial(w); i != "" {
			out += i
		}
		if utf8.RuneCountInString(out) == 2 {
			break
		}
	}
	if out == "" {
		return "?"
	}
	return out
}

// webURL reports whether s is worth rendering as a link or image source: an
// absolute http(s) URL or a path. Anything else (javascript:, data:, mailto:)
// would be neutralised by html/template anyway; this keeps the element off
// the page instead of showing a dead link or a broken image.
func webURL(s string) bool {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || s == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "":
		return u.Host == "" && u.Path != "" && !strings.HasPrefix(s, "//")
	}
	return false
}

// returnLink is a link to a destination outside this server, with the
// destination as the user should read it.
type returnLink struct {
	URL  template.URL
	Host string
}

// appLink vets an app's post-logout address for the signed-out page: an
// absolute http(s) URL, labelled with its host (and port) exactly as the
// browser will contact it (internationalised names in their ASCII form,
// so a look-alike name cannot pass for another), or a native app's
// private-use scheme (RFC 8252 §7.1: reverse-domain, so it contains a
// dot), labelled with the scheme. Anything else gives nil: no link.
func appLink(s string) *returnLink {
	u, err := url.Parse(s)
	if err != nil || s == "" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") || !utf8.ValidString(s) {
		return nil
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "http" || scheme == "https":
		name := u.Hostname()
		if name == "" {
			return nil
		}
		if net.ParseIP(name) == nil {
			ascii, err := idna.Lookup.ToASCII(name)
			if err != nil || ascii == "" {
				return nil
			}
			name = ascii
		} else if strings.Contains(name, ":") {
			name = "[" + name + "]"
		}
		if p := u.Port(); p != "" {
			name += ":" + p
		}
		u.Host = name // the link goes exactly where its label says
		return &returnLink{URL: template.URL(u.String()), Host: name}
	case strings.Contains(scheme, ".") && u.Host == "":
		// The scheme has passed url.Parse (letters, digits, "+-."), and
		// no dangerous scheme (javascript:, data:, vbscript:) has a dot.
		return &returnLink{URL: template.URL(u.String()), Host: scheme}
	}
	return nil
}

// host returns the host name of an absolute URL, without "www.", or "".
func host(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	return strings.TrimPrefix(u.Hostname(), "www.")
}
