package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size in bytes of a key-encryption key (AES-256).
const KeySize = 32

const (
	version1   byte = 1
	keyIDSize       = 4
	headerSize      = 1 + keyIDSize // authenticated prefix: version and key id
	nonceSize       = 12
	tagSize         = 16
	minSealed       = headerSize + nonceSize + tagSize
)

// Errors returned by Open. They are distinct so an operator can tell a
// missing KEK (configuration) from a corrupted or misused value.
var (
	// ErrMalformed means the value is too short or has an unknown version.
	ErrMalformed = errors.New("seal: malformed sealed value")
	// ErrUnknownKey means the value was sealed under a KEK that is not
	// configured in this Sealer.
	ErrUnknownKey = errors.New("seal: sealed with a key that is not configured")
	// ErrAuthFailed means authentication failed: the value was tampered
	// with or the associated data differs from the one used to seal it.
	ErrAuthFailed = errors.New("seal: message authentication failed")
)

// Sealer encrypts and decrypts values with AES-256-GCM. It is safe for
// concurrent use.
type Sealer struct {
	keys []sealKey // keys[0] seals; all open
}

type sealKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD // GCM with random 96-bit nonces prepended by Seal
}

// New returns a Sealer for the given keys, each exactly KeySize bytes. The
// first key seals; every key can open. Identical keys are accepted and
// counted once. The keys are not retained beyond the AES key schedule, so
// the caller may clear its copies.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key given")
	}
	s := &Sealer{}
	seen := make([][]byte, 0, len(keys))
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		dup := false
		for _, prev := range seen {
			if subtle.ConstantTimeCompare(prev, k) == 1 {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		seen = append(seen, k)
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i, err)
		}
		sum := sha256.Sum256(k)
		sk := sealKey{aead: aead}
		copy(sk.id[:], sum[:keyIDSize])
		s.keys = append(s.keys, sk)
	}
	return s, nil
}

// Seal encrypts plaintext under the first key, binding it to
// associatedData, which must be presented again to Open.
func (s *Sealer) Seal(plaintext, associatedData []byte) ([]byte, error) {
	if s == nil || len(s.keys) == 0 {
		return nil, errors.New("seal: Sealer has no key")
	}
	k := &s.keys[0]
	out := make([]byte, headerSize, minSealed+len(plaintext))
	out[0] = version1
	copy(out[1:headerSize], k.id[:])
	// The AEAD generates the nonce and prepends it to ciphertext||tag, which
	// lands right after the header.
	return k.aead.Seal(out, nil, plaintext, additional(out[:headerSize], associatedData)), nil
}

// Open authenticates and decrypts a value produced by Seal, with the key the
// value names. It fails unless associatedData equals the one used to seal.
func (s *Sealer) Open(sealed, associatedData []byte) ([]byte, error) {
	if s == nil || len(s.keys) == 0 {
		return nil, errors.New("seal: Sealer has no key")
	}
	if len(sealed) < minSealed || sealed[0] != version1 {
		return nil, ErrMalformed
	}
	header := sealed[:headerSize]
	ad := additional(header, associatedData)
	found := false
	for i := range s.keys {
		k := &s.keys[i]
		if !bytes.Equal(k.id[:], header[1:]) {
			continue
		}
		// Distinct keys may share a 4-byte id; try each that matches.
		found = true
		if pt, err := k.aead.Open(nil, nil, sealed[headerSize:], ad); err == nil {
			return pt, nil
		}
	}
	if !found {
		return nil, ErrUnknownKey
	}
	return nil, ErrAuthFailed
}

// String describes the Sealer without revealing key material, so that a
// Sealer accidentally logged with %v prints nothing sensitive.
func (s *Sealer) String() string {
	if s == nil {
		return "seal.Sealer(nil)"
	}
	return fmt.Sprintf("seal.Sealer(%d keys)", len(s.keys))
}

// GoString is like String, for %#v.
func (s *Sealer) GoString() string { return s.String() }

// additional returns header||associatedData. The header has a fixed length,
// so the concatenation is unambiguous.
func additional(header, associatedData []byte) []byte {
	ad := make([]byte, 0, len(header)+len(associatedData))
	ad = append(ad, header...)
	return append(ad, associatedData...)
}

// GenerateKey returns a new random KeySize-byte key from crypto/rand.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	// crypto/rand.Read never returns an error (it crashes the program
	// irrecoverably instead, since Go 1.24).
	_, _ = rand.Read(k)
	return k
}

// keyFormatHint says what ParseKey accepts. It is part of every ParseKey
// error; the input itself never is.
const keyFormatHint = "want 32 bytes as base64 (standard or URL alphabet, padding optional) or 64 hex digits"

// ParseKey decodes a KeySize-byte key written as base64 (standard or URL
// alphabet, with or without padding) or as 64 hexadecimal digits.
// Surrounding whitespace is ignored. Errors describe the expected format and
// never include the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("seal: empty key; " + keyFormatHint)
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	decodedLen := -1
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) == KeySize {
			return k, nil
		}
		decodedLen = len(k)
	}
	if decodedLen >= 0 {
		return nil, fmt.Errorf("seal: key decodes to %d bytes; %s", decodedLen, keyFormatHint)
	}
	return nil, errors.New("seal: key is neither valid base64 nor hex; " + keyFormatHint)
}

// Interface guard: %v and %s print String, never the keys.
var _ fmt.Stringer = (*Sealer)(nil)
