package session_test

// Fuzz targets of the cookie codec. Run one for longer with, e.g.:
//
//	go test -run '^$' -fuzz '^FuzzCodecDecode$' -fuzztime 10m ./authserver/session

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/authserver/session"
)

// fuzzValue has the shape of the issuer's session cookie value.
type fuzzValue struct {
	ID       string   `json:"i"`
	Subject  string   `json:"s"`
	AuthTime int64    `json:"a"`
	Groups   []string `json:"g,omitempty"`
}

// FuzzCodecDecode: a value that decodes was sealed by this codec's keys
// for this very name (never another name, never other keys), and it
// survives a fresh encode and decode unchanged.
func FuzzCodecDecode(f *testing.F) {
	c, err := session.NewCodec(time.Hour, fuzzKeys(f, 1), fuzzKeys(f, 2))
	if err != nil {
		f.Fatal(err)
	}
	other, err := session.NewCodec(time.Hour, fuzzKeys(f, 3))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"gatehouse_session", "ar"} {
		for _, v := range []fuzzValue{{ID: "gh_sid_x", Subject: "alice", AuthTime: 1}, {Subject: "bob", Groups: []string{"a", "b"}}} {
			enc, err := c.Encode(name, v)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(name, enc)
			f.Add(name, enc[:len(enc)-1])
			f.Add(name+"x", enc)
		}
	}
	f.Add("n", "")
	f.Add("n", "MTc5NTY1ODA5NHxub3QtYS1jb29raWV8AA==")
	f.Fuzz(func(t *testing.T, name, encoded string) {
		var v fuzzValue
		if c.Decode(name, encoded, &v) != nil {
			return
		}
		var w fuzzValue
		if c.Decode(name+"\x00", encoded, &w) == nil || other.Decode(name, encoded, &w) == nil {
			t.Fatalf("%q decodes under another name or other keys", encoded)
		}
		again, err := c.Encode(name, v)
		if err != nil {
			t.Fatalf("a decoded value does not encode again: %v", err)
		}
		var back fuzzValue
		if err := c.Decode(name, again, &back); err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("round trip changed %+v into %+v (%v)", v, back, err)
		}
	})
}

// FuzzCodecRoundTrip: anything encodable comes back exactly, in a value
// that is safe as a cookie value, and only under its own name.
func FuzzCodecRoundTrip(f *testing.F) {
	c, err := session.NewCodec(time.Hour, fuzzKeys(f, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add("gatehouse_gate|https://app.example", "gh_sid_abc", "alice", int64(1700000000), "admins")
	f.Add("", "", "", int64(-1), "")
	f.Add("ar", "\xff\xfe", "ü\u2028", int64(1<<62), strings.Repeat("g", 5000))
	f.Add("ar", "\xff\xfe", "a\xc3", int64(0), "<>&")
	f.Fuzz(func(t *testing.T, name, id, subject string, authTime int64, group string) {
		v := fuzzValue{ID: id, Subject: subject, AuthTime: authTime, Groups: []string{group}}
		enc, err := c.Encode(name, v)
		if err != nil {
			return // too long for a cookie
		}
		if strings.Trim(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=") != "" {
			t.Fatalf("encoded value %q is not cookie-safe", enc)
		}
		var back fuzzValue
		if err := c.Decode(name, enc, &back); err != nil {
			t.Fatalf("own value does not decode: %v", err)
		}
		// JSON carries strings as valid UTF-8: invalid bytes come back
		// replaced, which is why callers check parameters before sealing.
		want := v
		want.ID, want.Subject, want.Groups = jsonText(id), jsonText(subject), []string{jsonText(group)}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("round trip changed %+v into %+v", want, back)
		}
		if c.Decode(name+"|other", enc, &back) == nil {
			t.Fatal("decoded under another name")
		}
	})
}

// jsonText is s as encoding/json carries it: each byte of invalid UTF-8
// becomes U+FFFD.
func jsonText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func fuzzKeys(tb testing.TB, b byte) session.KeyPair {
	kp, err := session.DeriveKeyPair([]byte(strings.Repeat(string(rune('a'+b)), 32)), "fuzz")
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}
