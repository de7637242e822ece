package identity_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

// cheap keeps hashing in tests to well under a millisecond.
var cheap = identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestHashPasswordRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		password string
		params   identity.Argon2idParams
		wrong    []string
	}{
		{"ascii", "correct horse battery staple", cheap,
			[]string{"correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple ", ""}},
		{"empty", "", cheap, []string{" ", "\x00"}},
		{"unicode", "pässwörd-日本語", cheap, []string{"passwort-日本語", "pässwörd-日本"}},
		{"long", strings.Repeat("long-password-", 200), cheap, []string{strings.Repeat("long-password-", 199)}},
		{"nul byte", "a\x00b", cheap, []string{"a", "a\x00c"}},
		{"parallel lanes, short salt and key", "s3cret",
			identity.Argon2idParams{Memory: 32, Iterations: 2, Parallelism: 4, SaltLength: 8, KeyLength: 16},
			[]string{"s3creT"}},
		{"long key", "s3cret",
			identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 32, KeyLength: 128},
			[]string{"s3cre"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			phc, err := identity.HashPassword(tc.password, tc.params)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			want := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", tc.params.Memory, tc.params.Iterations, tc.params.Parallelism)
			if !strings.HasPrefix(phc, want) {
				t.Fatalf("hash %q does not start with %q", phc, want)
			}
			h, err := identity.ParsePasswordHash(phc)
			if err != nil {
				t.Fatalf("ParsePasswordHash(%q): %v", phc, err)
			}
			if h.Params != tc.params {
				t.Errorf("parsed params %+v, want %+v", h.Params, tc.params)
			}
			if !h.Matches(tc.password) {
				t.Errorf("hash does not match its own password")
			}
			for _, w := range tc.wrong {
				if h.Matches(w) {
					t.Errorf("hash matches wrong password %q", w)
				}
			}
			// A fresh salt every time: equal passwords give different hashes.
			again, err := identity.HashPassword(tc.password, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if again == phc {
				t.Errorf("two hashes of the same password are identical (salt not random?)")
			}
		})
	}
}

// TestHashPasswordEncoding recomputes the key from the salt HashPassword
// chose, with argon2.IDKey directly, and checks the exact PHC encoding:
// unpadded standard base64 (PHC string format), fields in order.
func TestHashPasswordEncoding(t *testing.T) {
	const password = "encode me"
	phc, err := identity.HashPassword(password, cheap)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(phc, "$")
	if len(parts) != 6 {
		t.Fatalf("%q has %d $-separated parts, want 6", phc, len(parts))
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) != int(cheap.SaltLength) {
		t.Fatalf("salt %q: %v (len %d)", parts[4], err, len(salt))
	}
	key := argon2.IDKey([]byte(password), salt, cheap.Iterations, cheap.Memory, cheap.Parallelism, cheap.KeyLength)
	want := "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	if phc != want {
		t.Errorf("HashPassword = %q\nwant           %q", phc, want)
	}
}

// Known answers computed independently with the reference implementation
// (the phc-winner-argon2 `argon2` command, Debian package argon2), e.g.
//
//	echo -n 'correct horse battery staple' | argon2 gatehouse-salt16 -id -t 1 -m 6 -p 1 -l 32 -e
var knownAnswers = []struct {
	password, phc string
	params        identity.Argon2idParams
}{
	{"correct horse battery staple",
		"$argon2id$v=19$m=64,t=1,p=1$Z2F0ZWhvdXNlLXNhbHQxNg$s8MkXTpePuBAluHXfKpdrQITwzbHnR9pBr4eXn1dtkk",
		identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
	{"pässwörd",
		"$argon2id$v=19$m=256,t=3,p=2$MDEyMzQ1Njc4OWFiY2RlZg$CQ12HefeKriBj4mVR959Lw",
		identity.Argon2idParams{Memory: 256, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 16}},
	{"p",
		"$argon2id$v=19$m=64,t=1,p=1$OGJ5dGVzISE$qDj3k9sJCRBGJoCJmUFvFw",
		identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 8, KeyLength: 16}},
}

func TestKnownAnswers(t *testing.T) {
	for _, ka := range knownAnswers {
		t.Run(ka.phc, func(t *testing.T) {
			h, err := identity.ParsePasswordHash(ka.phc)
			if err != nil {
				t.Fatalf("ParsePasswordHash: %v", err)
			}
			if h.Params != ka.params {
				t.Errorf("params %+v, want %+v", h.Params, ka.params)
			}
			if !h.Matches(ka.password) {
				t.Errorf("reference hash does not match %q", ka.password)
			}
			if h.Matches(ka.password + "x") {
				t.Errorf("reference hash matches a wrong password")
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, p := range []identity.Argon2idParams{
		identity.DefaultParams(), cheap,
		{Memory: 8, Iterations: 1, Parallelism: 1, SaltLength: 8, KeyLength: 16},
		{Memory: 1024 * 1024, Iterations: 64, Parallelism: 64, SaltLength: 64, KeyLength: 128},
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
}

func TestHashPasswordRejectsBadParams(t *testing.T) {
	tests := []struct {
		name string
		p    identity.Argon2idParams
	}{
		{"zero iterations (argon2 would panic)", identity.Argon2idParams{Memory: 64, Iterations: 0, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"zero parallelism (argon2 would panic)", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 0, SaltLength: 16, KeyLength: 32}},
		{"4 GiB memory", identity.Argon2idParams{Memory: 4 * 1024 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"just over 1 GiB", identity.Argon2idParams{Memory: 1024*1024 + 1, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"memory below 8 KiB per lane", identity.Argon2idParams{Memory: 15, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}},
		{"65 iterations", identity.Argon2idParams{Memory: 64, Iterations: 65, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{"65 lanes", identity.Argon2idParams{Memory: 65 * 8, Iterations: 1, Parallelism: 65, SaltLength: 16, KeyLength: 32}},
		{"7-byte salt", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 7, KeyLength: 32}},
		{"15-byte key", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 15}},
		{"129-byte key", identity.Argon2idParams{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 129}},
		{"zero value", identity.Argon2idParams{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err == nil {
				t.Errorf("Validate(%+v) = nil, want an error", tc.p)
			}
			start := time.Now()
			phc, err := identity.HashPassword("pw", tc.p)
			if err == nil {
				t.Fatalf("HashPassword(%+v) = %q, want an error", tc.p, phc)
			}
			// Refused before hashing, not after spending the cost.
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("refusal took %v", d)
			}
		})
	}
}

// validSalt and validKey are 8 and 16 bytes, the smallest accepted.
const (
	validSalt = "OGJ5dGVzISE"
	validKey  = "qDj3k9sJCRBGJoCJmUFvFw"
)

func TestParsePasswordHashRejects(t *testing.T) {
	b64 := base64.RawStdEncoding.EncodeToString
	phc := func(params string) string { return "$argon2id$v=19$" + params + "$" + validSalt + "$" + validKey }
	tests := []struct{ name, phc string }{
		{"empty", ""},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + validSalt + "$" + validKey},
		{"upper-case algorithm", "$ARGON2ID$v=19$m=64,t=1,p=1$" + validSalt + "$" + validKey},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"sha256 form", "sha256:" + strings.Repeat("ab", 32)},
		{"plain text", "hunter2"},
		{"no leading $", "argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$" + validKey},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + validSalt + "$" + validKey},
		{"version 20", "$argon2id$v=20$m=64,t=1,p=1$" + validSalt + "$" + validKey},
		{"empty version", "$argon2id$v=$m=64,t=1,p=1$" + validSalt + "$" + validKey},
		{"version omitted", "$argon2id$m=64,t=1,p=1$" + validSalt + "$" + validKey},
		{"hash missing", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt},
		{"hash empty", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$"},
		{"salt empty", "$argon2id$v=19$m=64,t=1,p=1$$" + validKey},
		{"trailing part", phc("m=64,t=1,p=1") + "$"},
		{"params empty", phc("")},
		{"param without value", phc("m,t=1,p=1")},
		{"param empty value", phc("m=,t=1,p=1")},
		{"unknown parameter", phc("m=64,t=1,p=1,x=1")},
		{"keyid parameter", phc("m=64,t=1,p=1,keyid=abc")},
		{"repeated parameter", phc("m=64,m=64,t=1,p=1")},
		{"repeated parameter hiding an out-of-range one", phc("m=4194304,t=1,p=1,m=64")},
		{"memory missing", phc("t=1,p=1")},
		{"iterations missing", phc("m=64,p=1")},
		{"parallelism missing", phc("m=64,t=1")},
		{"spaces", phc("m=64, t=1, p=1")},
		{"negative memory", phc("m=-1,t=1,p=1")},
		{"hex memory", phc("m=0x40,t=1,p=1")},
		{"memory 4 GiB", phc("m=4194304,t=1,p=1")},
		{"memory just over 1 GiB", phc("m=1048577,t=1,p=1")},
		{"memory overflows uint32", phc("m=4294967360,t=1,p=1")},
		{"memory 0", phc("m=0,t=1,p=1")},
		{"memory 7", phc("m=7,t=1,p=1")},
		{"memory below 8 per lane", phc("m=31,t=1,p=4")},
		{"iterations 0", phc("m=64,t=0,p=1")},
		{"iterations 65", phc("m=64,t=65,p=1")},
		{"iterations huge", phc("m=64,t=4294967295,p=1")},
		{"parallelism 0", phc("m=64,t=1,p=0")},
		{"parallelism 65", phc("m=1024,t=1,p=65")},
		{"parallelism 256 (uint8 wraps to 0)", phc("m=64,t=1,p=256")},
		{"parallelism 257 (uint8 wraps to 1)", phc("m=64,t=1,p=257")},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!!!!!!!!$" + validKey},
		{"salt padded", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "=$" + validKey},
		{"salt url-safe alphabet", "$argon2id$v=19$m=64,t=1,p=1$" + b64([]byte("12345678")) + "_-$" + validKey},
		{"salt 7 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + b64([]byte("7bytes!")) + "$" + validKey},
		{"hash not base64", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$qDj3k9sJCRBG*oCJmUFvFw"},
		{"hash 15 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$" + b64(make([]byte, 15))},
		{"hash 129 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$" + b64(make([]byte, 129))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := identity.ParsePasswordHash(tc.phc)
			if !errors.Is(err, identity.ErrMalformedHash) {
				t.Fatalf("ParsePasswordHash(%q) = %+v, %v; want ErrMalformedHash", tc.phc, h, err)
			}
			if h != nil {
				t.Errorf("got a hash together with an error")
			}
		})
	}
}

// TestParsePasswordHashAcceptsBounds guards against off-by-one limits:
// parsing does no hashing, so the largest costs are cheap to check here.
func TestParsePasswordHashAcceptsBounds(t *testing.T) {
	b64 := base64.RawStdEncoding.EncodeToString
	tests := []struct {
		name, phc string
		want      identity.Argon2idParams
	}{
		{"smallest", "$argon2id$v=19$m=8,t=1,p=1$" + validSalt + "$" + validKey,
			identity.Argon2idParams{Memory: 8, Iterations: 1, Parallelism: 1, SaltLength: 8, KeyLength: 16}},
		{"largest", "$argon2id$v=19$m=1048576,t=64,p=64$" + b64(make([]byte, 64)) + "$" + b64(make([]byte, 128)),
			identity.Argon2idParams{Memory: 1048576, Iterations: 64, Parallelism: 64, SaltLength: 64, KeyLength: 128}},
		{"8 KiB per lane", "$argon2id$v=19$m=32,t=1,p=4$" + validSalt + "$" + validKey,
			identity.Argon2idParams{Memory: 32, Iterations: 1, Parallelism: 4, SaltLength: 8, KeyLength: 16}},
		{"parameters in another order", "$argon2id$v=19$p=1,t=2,m=64$" + validSalt + "$" + validKey,
			identity.Argon2idParams{Memory: 64, Iterations: 2, Parallelism: 1, SaltLength: 8, KeyLength: 16}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := identity.ParsePasswordHash(tc.phc)
			if err != nil {
				t.Fatalf("ParsePasswordHash(%q): %v", tc.phc, err)
			}
			if h.Params != tc.want {
				t.Errorf("params %+v, want %+v", h.Params, tc.want)
			}
		})
	}
}
