package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustNew(t *testing.T, keys ...[]byte) *Sealer {
	t.Helper()
	s, err := New(keys...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	s := mustNew(t, GenerateKey())
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty plaintext, nil ad", nil, nil},
		{"empty plaintext, ad", []byte{}, []byte("kid-1")},
		{"short", []byte("hello"), []byte("kid-1")},
		{"binary", []byte{0, 1, 2, 255, 254}, []byte{0}},
		{"large", bytes.Repeat([]byte("x"), 1<<16), []byte("secret/name")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := s.Seal(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if got, want := len(sealed), 1+4+12+len(tt.plaintext)+16; got != want {
				t.Errorf("sealed length = %d, want %d", got, want)
			}
			if sealed[0] != 1 {
				t.Errorf("version byte = %d, want 1", sealed[0])
			}
			if len(tt.plaintext) >= 8 && bytes.Contains(sealed, tt.plaintext) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := s.Open(sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Error("Open returned different plaintext")
			}
		})
	}
}

func TestSealFormat(t *testing.T) {
	key := GenerateKey()
	s := mustNew(t, key)
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	sum := sha256.Sum256(key)
	if !bytes.Equal(a[1:5], sum[:4]) {
		t.Errorf("key id = %x, want %x", a[1:5], sum[:4])
	}
	if bytes.Equal(a[5:17], b[5:17]) {
		t.Error("two seals used the same nonce")
	}
	if bytes.Equal(a, b) {
		t.Error("sealing is deterministic")
	}
}

func TestOpenFailures(t *testing.T) {
	s := mustNew(t, GenerateKey())
	other := mustNew(t, GenerateKey())
	sealed, err := s.Seal([]byte("private key bytes"), []byte("kid-A"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		ad     []byte
		want   error
	}{
		{"wrong associated data", s, sealed, []byte("kid-B"), ErrAuthFailed},
		{"missing associated data", s, sealed, nil, ErrAuthFailed},
		{"tampered ciphertext", s, flip(len(sealed) - 20), []byte("kid-A"), ErrAuthFailed},
		{"tampered tag", s, flip(len(sealed) - 1), []byte("kid-A"), ErrAuthFailed},
		{"tampered nonce", s, flip(6), []byte("kid-A"), ErrAuthFailed},
		{"tampered key id", s, flip(2), []byte("kid-A"), ErrUnknownKey},
		{"tampered version", s, flip(0), []byte("kid-A"), ErrMalformed},
		{"truncated", s, sealed[:20], []byte("kid-A"), ErrMalformed},
		{"empty", s, nil, []byte("kid-A"), ErrMalformed},
		{"extended", s, append(bytes.Clone(sealed), 0), []byte("kid-A"), ErrAuthFailed},
		{"other key", other, sealed, []byte("kid-A"), ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.sealer.Open(tt.sealed, tt.ad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if pt != nil {
				t.Error("Open returned plaintext along with an error")
			}
		})
	}
}

// A key id collision between two configured keys must not stop the right
// key from opening the value.
func TestKeyIDCollision(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	s := mustNew(t, k2, k1)
	s.keys[1].id = s.keys[0].id // simulate a 32-bit prefix collision
	old := mustNew(t, k1)
	old.keys[0].id = s.keys[0].id
	sealed, _ := old.Seal([]byte("v"), []byte("ad"))
	got, err := s.Open(sealed, []byte("ad"))
	if err != nil || string(got) != "v" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := GenerateKey(), GenerateKey()
	oldS := mustNew(t, oldKey)
	sealedOld, _ := oldS.Seal([]byte("sealed under old"), []byte("ad"))

	rotated := mustNew(t, newKey, oldKey)
	sealedNew, _ := rotated.Seal([]byte("sealed under new"), []byte("ad"))
	newOnly := mustNew(t, newKey)

	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		want   string
		err    error
	}{
		{"rotated opens old", rotated, sealedOld, "sealed under old", nil},
		{"rotated opens new", rotated, sealedNew, "sealed under new", nil},
		{"old-only cannot open new", oldS, sealedNew, "", ErrUnknownKey},
		{"new-only opens new", newOnly, sealedNew, "sealed under new", nil},
		{"new-only cannot open old", newOnly, sealedOld, "", ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, []byte("ad"))
			if !errors.Is(err, tt.err) {
				t.Fatalf("Open error = %v, want %v", err, tt.err)
			}
			if string(got) != tt.want {
				t.Errorf("Open = %q, want %q", got, tt.want)
			}
		})
	}
	sum := sha256.Sum256(newKey)
	if !bytes.Equal(sealedNew[1:5], sum[:4]) {
		t.Error("rotated Sealer did not seal with its first key")
	}
}

func TestNewBadKeys(t *testing.T) {
	good := GenerateKey()
	tests := []struct {
		name    string
		keys    [][]byte
		wantErr string // substring; "" means success
	}{
		{"no keys", nil, "no key"},
		{"empty key", [][]byte{{}}, "key 0 is 0 bytes, want 32"},
		{"16-byte key", [][]byte{make([]byte, 16)}, "key 0 is 16 bytes, want 32"},
		{"31-byte key", [][]byte{make([]byte, 31)}, "key 0 is 31 bytes"},
		{"33-byte key", [][]byte{make([]byte, 33)}, "key 0 is 33 bytes"},
		{"64-byte key", [][]byte{make([]byte, 64)}, "key 0 is 64 bytes"},
		{"bad second key", [][]byte{good, make([]byte, 24)}, "key 1 is 24 bytes"},
		{"one good key", [][]byte{good}, ""},
		{"duplicate keys", [][]byte{good, bytes.Clone(good)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.keys...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
			if s != nil {
				t.Error("New returned a Sealer with an error")
			}
		})
	}
}

func TestSealerDoesNotLeakKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xAB}, KeySize)
	s := mustNew(t, key)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s)} {
		if strings.Contains(strings.ToLower(out), "abab") {
			t.Errorf("formatted Sealer leaks key material: %s", out)
		}
	}
	// Mutating the caller's slice after New must not change the Sealer.
	sealed, _ := s.Seal([]byte("x"), nil)
	clear(key)
	if _, err := s.Open(sealed, nil); err != nil {
		t.Errorf("Open after clearing caller's key: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i*7 + 0xf8) // includes bytes that encode to + / - _
	}
	std := base64.StdEncoding.EncodeToString(key)
	if !strings.ContainsAny(std, "+/") {
		t.Fatal("test key does not exercise the standard alphabet")
	}
	const secretMarker = "SECRETMARKER"
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" means success
	}{
		{"std padded", std, ""},
		{"std raw", base64.RawStdEncoding.EncodeToString(key), ""},
		{"url padded", base64.URLEncoding.EncodeToString(key), ""},
		{"url raw", base64.RawURLEncoding.EncodeToString(key), ""},
		{"hex lower", hex.EncodeToString(key), ""},
		{"hex upper", strings.ToUpper(hex.EncodeToString(key)), ""},
		{"surrounding whitespace", "  " + std + "\n", ""},
		{"empty", "", "empty key"},
		{"blank", " \t\n", "empty key"},
		{"base64 of 16 bytes", base64.StdEncoding.EncodeToString(key[:16]), "decodes to 16 bytes"},
		{"base64 of 33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1)), "decodes to 33 bytes"},
		{"hex of 31 bytes", hex.EncodeToString(key[:31]), "32 bytes"},
		{"hex 64 chars with non-hex", strings.Repeat("g", 64), "32 bytes"},
		{"garbage", secretMarker + "!!!" + secretMarker, "neither valid base64 nor hex"},
		{"mixed alphabets", strings.Replace(base64.URLEncoding.EncodeToString(key), "-", "+", 1) + "_", "32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				if !bytes.Equal(got, key) {
					t.Errorf("ParseKey = %x, want %x", got, key)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKey succeeded, want error containing %q", tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q does not contain %q", msg, tt.wantErr)
			}
			if !strings.Contains(msg, "base64") || !strings.Contains(msg, "hex") {
				t.Errorf("error %q does not say which formats are expected", msg)
			}
			if trimmed := strings.TrimSpace(tt.in); len(trimmed) >= 8 && strings.Contains(msg, trimmed) {
				t.Errorf("error echoes the input: %q", msg)
			}
			if strings.Contains(msg, secretMarker) {
				t.Errorf("error echoes part of the input: %q", msg)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	if len(a) != KeySize || len(b) != KeySize {
		t.Fatalf("GenerateKey lengths %d, %d", len(a), len(b))
	}
	if bytes.Equal(a, b) {
		t.Fatal("GenerateKey returned the same key twice")
	}
	if _, err := New(a); err != nil {
		t.Fatalf("generated key rejected: %v", err)
	}
}

func BenchmarkSeal(b *testing.B) {
	s, _ := New(GenerateKey())
	pt := make([]byte, 256)
	for b.Loop() {
		_, _ = s.Seal(pt, []byte("kid"))
	}
}
