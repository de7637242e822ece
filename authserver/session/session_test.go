package session_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/session"
)

func secret(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func keyPair(t *testing.T, s []byte, purpose string) session.KeyPair {
	t.Helper()
	kp, err := session.DeriveKeyPair(s, purpose)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func codec(t *testing.T, maxAge time.Duration, keys ...session.KeyPair) *session.Codec {
	t.Helper()
	c, err := session.NewCodec(maxAge, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeriveKeyPair(t *testing.T) {
	for _, n := range []int{0, 1, 16, 31} {
		if kp, err := session.DeriveKeyPair(secret('a', n), "p"); err == nil {
			t.Errorf("DeriveKeyPair accepted a %d-byte secret: %+v", n, kp)
		}
	}
	a := keyPair(t, secret('a', 32), "issuer session")
	if len(a.Hash) != 64 || len(a.Block) != 32 {
		t.Fatalf("key lengths %d/%d, want 64/32", len(a.Hash), len(a.Block))
	}
	if again := keyPair(t, secret('a', 32), "issuer session"); !reflect.DeepEqual(a, again) {
		t.Errorf("DeriveKeyPair is not deterministic")
	}
	others := map[string]session.KeyPair{
		"other purpose":      keyPair(t, secret('a', 32), "authorization request"),
		"empty purpose":      keyPair(t, secret('a', 32), ""),
		"other secret":       keyPair(t, secret('b', 32), "issuer session"),
		"longer same prefix": keyPair(t, secret('a', 33), "issuer session"),
	}
	for name, o := range others {
		if bytes.Equal(a.Hash, o.Hash) || bytes.Equal(a.Block, o.Block) {
			t.Errorf("%s: derived the same keys", name)
		}
	}
	if bytes.Equal(a.Hash[:32], a.Block) || bytes.Contains(a.Hash, secret('a', 16)) {
		t.Errorf("HMAC and AES keys are related to each other or to the secret")
	}
}

func TestNewCodecRejects(t *testing.T) {
	good := keyPair(t, secret('k', 32), "p")
	tests := []struct {
		name   string
		maxAge time.Duration
		keys   []session.KeyPair
	}{
		{"no keys", time.Minute, nil},
		{"short hash key", time.Minute, []session.KeyPair{{Hash: make([]byte, 31), Block: make([]byte, 32)}}},
		{"AES-128 block key", time.Minute, []session.KeyPair{{Hash: make([]byte, 64), Block: make([]byte, 16)}}},
		{"AES-192 block key", time.Minute, []session.KeyPair{{Hash: make([]byte, 64), Block: make([]byte, 24)}}},
		{"no block key", time.Minute, []session.KeyPair{{Hash: make([]byte, 64)}}},
		{"bad second key", time.Minute, []session.KeyPair{good, {Hash: make([]byte, 64), Block: make([]byte, 31)}}},
		// securecookie treats 0 as "never expires" and counts whole seconds.
		{"zero maxAge", 0, []session.KeyPair{good}},
		{"sub-second maxAge", 999 * time.Millisecond, []session.KeyPair{good}},
		{"negative maxAge", -time.Hour, []session.KeyPair{good}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := session.NewCodec(tc.maxAge, tc.keys...); err == nil {
				t.Errorf("NewCodec accepted it: %+v", c)
			}
		})
	}
}

type payload struct {
	Subject string            `json:"sub"`
	AuthAt  int64             `json:"auth_at"`
	Scopes  []string          `json:"scopes,omitempty"`
	Extra   map[string]string `json:"extra,omitempty"`
}

func TestCodecRoundTrip(t *testing.T) {
	c := codec(t, time.Hour, keyPair(t, secret('k', 32), "p"))
	tests := []struct {
		name  string
		value payload
	}{
		{"zero", payload{}},
		{"full", payload{Subject: "u-alice", AuthAt: 1700000000, Scopes: []string{"openid", "email"}, Extra: map[string]string{"nonce": "n-0S6_WzA2Mj"}}},
		{"unicode and separators", payload{Subject: "ü|\x00\"<>&|日本", Extra: map[string]string{"|": "|"}}},
		{"large but under the limit", payload{Subject: strings.Repeat("x", 4000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := c.Encode("gh_session", tc.value)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if strings.Contains(enc, "u-alice") || strings.Contains(enc, "openid") {
				t.Errorf("encoded value shows its plaintext: %q", enc)
			}
			for _, r := range enc {
				// RFC 6265 §4.1.1 cookie-octet, and URL-safe for query use.
				if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '=') {
					t.Fatalf("encoded value has %q, not base64url", r)
				}
			}
			var got payload
			if err := c.Decode("gh_session", enc, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.value) {
				t.Errorf("round trip gave %+v, want %+v", got, tc.value)
			}
			// Encryption uses a fresh IV: the same value never encodes the same.
			if enc2, _ := c.Encode("gh_session", tc.value); enc2 == enc {
				t.Errorf("two encodings are identical")
			}
		})
	}
}

func TestCodecBindsName(t *testing.T) {
	c := codec(t, time.Hour, keyPair(t, secret('k', 32), "p"))
	enc, err := c.Encode("gh_authreq", payload{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"gh_session", "GH_AUTHREQ", "gh_authre", "gh_authreq ", "__Host-gh_authreq", ""} {
		var got payload
		if err := c.Decode(other, enc, &got); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("value for gh_authreq decoded as %q: err %v, got %+v", other, err, got)
		}
	}
}

func TestCodecRejectsTampering(t *testing.T) {
	c := codec(t, time.Hour, keyPair(t, secret('k', 32), "p"))
	enc, err := c.Encode("n", payload{Subject: "alice", AuthAt: 1})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.URLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(f func([]byte) []byte) string {
		return base64.URLEncoding.EncodeToString(f(bytes.Clone(raw)))
	}
	flip := func(i int) string { return reencode(func(b []byte) []byte { b[i] ^= 1; return b }) }
	tests := map[string]string{
		"empty":            "",
		"garbage":          "not a cookie",
		"not base64":       enc[:10] + "!" + enc[11:],
		"truncated":        enc[:len(enc)-4],
		"appended":         enc + "AAAA",
		"timestamp bit":    flip(0),
		"ciphertext bit":   flip(len(raw) / 2),
		"MAC bit":          flip(len(raw) - 1),
		"MAC removed":      reencode(func(b []byte) []byte { return b[:macStart(t, b)] }),
		"no separators":    base64.URLEncoding.EncodeToString([]byte("abc")),
		"other codec's":    mustEncode(t, codec(t, time.Hour, keyPair(t, secret('z', 32), "p")), "n", payload{Subject: "alice"}),
		"over 8192 bytes":  enc + strings.Repeat("A", 8192),
		"swapped MAC":      swapMAC(t, raw, mustEncode(t, c, "n", payload{Subject: "mallory"})),
		"later timestamp":  reencode(func(b []byte) []byte { b[0]++; return b }),
		"padding stripped": strings.TrimRight(enc, "="),
	}
	if !strings.HasSuffix(enc, "=") {
		delete(tests, "padding stripped")
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			if v == enc {
				t.Fatal("test value equals the original")
			}
			var got payload
			if err := c.Decode("n", v, &got); !errors.Is(err, session.ErrInvalid) {
				t.Errorf("Decode = %v, want ErrInvalid", err)
			}
			if !reflect.DeepEqual(got, payload{}) {
				t.Errorf("a rejected value filled dst: %+v", got)
			}
		})
	}
}

func mustEncode(t *testing.T, c *session.Codec, name string, v any) string {
	t.Helper()
	enc, err := c.Encode(name, v)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// swapMAC puts the MAC of another value (under the same key) on raw.
func swapMAC(t *testing.T, raw []byte, other string) string {
	t.Helper()
	o, err := base64.URLEncoding.DecodeString(other)
	if err != nil {
		t.Fatal(err)
	}
	b := append(bytes.Clone(raw[:macStart(t, raw)]), o[macStart(t, o):]...)
	return base64.URLEncoding.EncodeToString(b)
}

// macStart is where the MAC begins in a decoded "date|value|mac"; the
// binary MAC itself may contain '|'.
func macStart(t *testing.T, b []byte) int {
	t.Helper()
	parts := bytes.SplitN(b, []byte("|"), 3)
	if len(parts) != 3 {
		t.Fatalf("not date|value|mac: %q", b)
	}
	return len(parts[0]) + len(parts[1]) + 2
}

func TestCodecRejectsWrongType(t *testing.T) {
	c := codec(t, time.Hour, keyPair(t, secret('k', 32), "p"))
	enc := mustEncode(t, c, "n", payload{Subject: "alice"})
	var n int
	if err := c.Decode("n", enc, &n); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("Decode into an int = %v, want ErrInvalid", err)
	}
}

func TestCodecSizeLimit(t *testing.T) {
	c := codec(t, time.Hour, keyPair(t, secret('k', 32), "p"))
	// Browsers drop cookies over ~4 KiB; securecookie's limit here is 8192
	// encoded bytes, reached by ~6 KiB of JSON.
	if enc, err := c.Encode("n", payload{Subject: strings.Repeat("x", 7000)}); err == nil {
		t.Errorf("Encode accepted a %d-byte value", len(enc))
	}
}

// seal builds a value the way securecookie does (base64url of
// "date|base64url(iv+AES-CTR(json))|HMAC-SHA256(name|date|value)"), with a
// timestamp of our choosing: securecookie's clock cannot be set from
// outside, and waiting out even a 1 s maxAge takes up to 3 s.
func seal(t *testing.T, kp session.KeyPair, name string, ts int64, v any) string {
	t.Helper()
	inner, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// What Codec seals: the value and the time it was encoded.
	plain, err := json.Marshal(map[string]any{"t": ts, "v": json.RawMessage(inner)})
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(kp.Block)
	if err != nil {
		t.Fatal(err)
	}
	ivct := make([]byte, aes.BlockSize+len(plain))
	if _, err := rand.Read(ivct[:aes.BlockSize]); err != nil {
		t.Fatal(err)
	}
	cipher.NewCTR(block, ivct[:aes.BlockSize]).XORKeyStream(ivct[aes.BlockSize:], plain)
	value := base64.URLEncoding.EncodeToString(ivct)
	mac := hmac.New(sha256.New, kp.Hash)
	fmt.Fprintf(mac, "%s|%d|%s", name, ts, value)
	return base64.URLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%s|%s", ts, value, mac.Sum(nil)))
}

func TestCodecExpiry(t *testing.T) {
	kp := keyPair(t, secret('k', 32), "p")
	const maxAge = 60 * time.Second
	c := codec(t, maxAge, kp)
	now := time.Now().Unix()
	// Margins of 2 s keep clear of a second boundary during the test.
	tests := []struct {
		name string
		ts   int64
		ok   bool
	}{
		{"just now", now, true},
		{"well within maxAge", now - 58, true},
		{"just past maxAge", now - 62, false},
		{"a day old", now - 86400, false},
		{"epoch", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got payload
			err := c.Decode("n", seal(t, kp, "n", tc.ts, payload{Subject: "alice"}), &got)
			switch {
			case tc.ok && (err != nil || got.Subject != "alice"):
				t.Errorf("Decode = %v, %+v; want alice", err, got)
			case !tc.ok && !errors.Is(err, session.ErrInvalid):
				t.Errorf("Decode = %v, want ErrInvalid", err)
			}
		})
	}
	// seal is only trusted because it agrees with Encode: a value sealed
	// for another name or key must fail like a real one.
	var got payload
	if err := c.Decode("m", seal(t, kp, "n", now, payload{}), &got); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("sealed value decoded under another name: %v", err)
	}
	if err := c.Decode("n", seal(t, keyPair(t, secret('z', 32), "p"), "n", now, payload{}), &got); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("value sealed with another key decoded: %v", err)
	}
}

// TestCodecClock: values expire by the codec's clock, not the wall
// clock, and one encoded too far in the future is refused.
func TestCodecClock(t *testing.T) {
	kp := keyPair(t, secret('k', 32), "p")
	base := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return base.Add(d) } }
	enc, err := codec(t, time.Hour, kp).WithClock(at(0)).Encode("n", payload{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Duration
		ok   bool
	}{
		{"at once", 0, true},
		{"just within maxAge", time.Hour, true},
		{"past maxAge", time.Hour + time.Second, false},
		{"slightly before it was encoded (clock skew)", -30 * time.Second, true},
		{"long before it was encoded", -2 * time.Minute, false},
	} {
		var got payload
		err := codec(t, time.Hour, kp).WithClock(at(tc.at)).Decode("n", enc, &got)
		if ok := err == nil && got.Subject == "alice"; ok != tc.ok {
			t.Errorf("%s: Decode = %v, %+v; want ok %v", tc.name, err, got, tc.ok)
		}
	}
	// The wall clock is years before the codec's: a wall-clock check
	// would refuse nothing here, and the codec's clock must.
	var got payload
	if err := codec(t, time.Hour, kp).WithClock(at(2*time.Hour)).Decode("n", enc, &got); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("expired by the codec's clock but accepted: %v", err)
	}
}

func TestCodecKeyRotation(t *testing.T) {
	oldKP := keyPair(t, secret('o', 32), "p")
	newKP := keyPair(t, secret('n', 32), "p")
	oldOnly := codec(t, time.Hour, oldKP)
	newOnly := codec(t, time.Hour, newKP)
	rotated := codec(t, time.Hour, newKP, oldKP)
	otherPurpose := codec(t, time.Hour, keyPair(t, secret('n', 32), "other"), keyPair(t, secret('o', 32), "other"))

	fromOld := mustEncode(t, oldOnly, "n", payload{Subject: "old"})
	fromRotated := mustEncode(t, rotated, "n", payload{Subject: "new"})
	tests := []struct {
		name    string
		c       *session.Codec
		enc     string
		wantSub string // "" = must fail
	}{
		{"old value, rotated codec", rotated, fromOld, "old"},
		{"old value, new key only", newOnly, fromOld, ""},
		{"rotated codec encodes with the newest key", newOnly, fromRotated, "new"},
		{"rotated value, old key only", oldOnly, fromRotated, ""},
		{"same secrets, other purpose", otherPurpose, fromOld, ""},
		{"same secrets, other purpose (new)", otherPurpose, fromRotated, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got payload
			err := tc.c.Decode("n", tc.enc, &got)
			if tc.wantSub == "" {
				if !errors.Is(err, session.ErrInvalid) {
					t.Errorf("Decode = %v, %+v; want ErrInvalid", err, got)
				}
				return
			}
			if err != nil || got.Subject != tc.wantSub {
				t.Errorf("Decode = %v, %+v; want subject %q", err, got, tc.wantSub)
			}
		})
	}
}

func TestCookieOptions(t *testing.T) {
	tests := []struct {
		name     string
		opts     session.CookieOptions
		value    string
		maxAge   time.Duration
		want     http.Cookie
		wantName string
	}{
		// RFC 6265bis §4.1.3.2: __Host- requires Secure, Path=/ and no Domain.
		{"secure", session.CookieOptions{Secure: true, Path: "/"}, "v", time.Hour,
			http.Cookie{Name: "__Host-gh", Value: "v", Path: "/", MaxAge: 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}, "__Host-gh"},
		{"secure ignores another path", session.CookieOptions{Secure: true, Path: "/auth"}, "v", time.Hour,
			http.Cookie{Name: "__Host-gh", Value: "v", Path: "/", MaxAge: 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}, "__Host-gh"},
		{"secure session cookie", session.CookieOptions{Secure: true}, "v", 0,
			http.Cookie{Name: "__Host-gh", Value: "v", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}, "__Host-gh"},
		{"secure delete", session.CookieOptions{Secure: true}, "v", -time.Second,
			http.Cookie{Name: "__Host-gh", Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}, "__Host-gh"},
		{"plain http keeps its path", session.CookieOptions{Path: "/auth"}, "v", 90 * time.Second,
			http.Cookie{Name: "gh", Value: "v", Path: "/auth", MaxAge: 90, HttpOnly: true, SameSite: http.SameSiteLaxMode}, "gh"},
		{"plain http default path", session.CookieOptions{}, "v", 1500 * time.Millisecond,
			http.Cookie{Name: "gh", Value: "v", Path: "/", MaxAge: 1, HttpOnly: true, SameSite: http.SameSiteLaxMode}, "gh"},
		{"plain http delete", session.CookieOptions{Path: "/auth"}, "v", -time.Hour,
			http.Cookie{Name: "gh", Value: "", Path: "/auth", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}, "gh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := tc.opts.Name("gh"); n != tc.wantName {
				t.Errorf("Name = %q, want %q", n, tc.wantName)
			}
			got := tc.opts.Cookie("gh", tc.value, tc.maxAge)
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("Cookie =\n%#v\nwant\n%#v", *got, tc.want)
			}
			if got.Domain != "" {
				t.Errorf("cookie has Domain %q; cookies must be host-only", got.Domain)
			}
			// What a browser sees.
			line := got.String()
			if tc.maxAge < 0 && !strings.Contains(line, "Max-Age=0") {
				t.Errorf("deleting cookie %q lacks Max-Age=0", line)
			}
			if tc.opts.Secure && !strings.HasPrefix(line, "__Host-gh=") {
				t.Errorf("secure cookie %q lacks the __Host- prefix", line)
			}
		})
	}
}
