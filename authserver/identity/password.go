package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2idParams are the cost parameters of an argon2id hash (RFC 9106).
type Argon2idParams struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32
	KeyLength   uint32
}

// DefaultParams follow RFC 9106 §4's second recommended option scaled to
// a login server: 64 MiB, t=3 (about 100–150 ms on one core of our
// machines). Verification uses whatever parameters a hash carries.
func DefaultParams() Argon2idParams {
	return Argon2idParams{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}
}

// Upper bounds on the parameters accepted from a stored hash, so a hostile
// or mistyped configuration cannot make a single verification take
// gigabytes or minutes.
const (
	maxMemoryKiB   = 1024 * 1024 // 1 GiB
	maxIterations  = 64
	maxParallelism = 64
	maxKeyLength   = 128
)

var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("identity: password does not match")
	// ErrMalformedHash means the stored hash is not a supported PHC string.
	ErrMalformedHash = errors.New("identity: malformed argon2id hash")
)

// checkCost bounds m, t and p. Argon2 needs m >= 8*p KiB (RFC 9106 §3.1).
func checkCost(p Argon2idParams) error {
	switch {
	case p.Parallelism < 1 || p.Parallelism > maxParallelism:
		return fmt.Errorf("parallelism %d out of range 1..%d", p.Parallelism, maxParallelism)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Parallelism), maxMemoryKiB)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d out of range 1..%d", p.Iterations, maxIterations)
	}
	return nil
}

// Validate reports whether p is within what ParsePasswordHash accepts.
func (p Argon2idParams) Validate() error {
	if err := checkCost(p); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if p.SaltLength < 8 || p.KeyLength < 16 || p.KeyLength > maxKeyLength {
		return fmt.Errorf("identity: want a salt of at least 8 bytes and a key of 16..%d bytes", maxKeyLength)
	}
	return nil
}

// HashPassword returns an argon2id PHC string for password:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<parallelism>$<salt>$<hash>.
// Parameters that ParsePasswordHash would refuse are refused up front, so
// a mistyped cost neither panics in argon2 (t=0, p=0) nor burns gigabytes
// or minutes before failing.
func HashPassword(password string, p Argon2idParams) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// PasswordHash is a parsed argon2id PHC string.
type PasswordHash struct {
	Params Argon2idParams
	salt   []byte
	key    []byte
}

// ParsePasswordHash parses and bounds-checks an argon2id PHC string.
func ParsePasswordHash(phc string) (*PasswordHash, error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, fmt.Errorf("%w: want $argon2id$v=19$m=...,t=...,p=...$salt$hash", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	var p Argon2idParams
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%w: bad parameter %q", ErrMalformedHash, kv)
		}
		// The PHC string format allows each parameter once; a repeat
		// would make the string ambiguous.
		if seen[k] {
			return nil, fmt.Errorf("%w: repeated parameter %q", ErrMalformedHash, k)
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: bad parameter %q", ErrMalformedHash, kv)
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Iterations = uint32(n)
		case "p":
			if n > maxParallelism {
				return nil, fmt.Errorf("%w: parallelism %d above %d", ErrMalformedHash, n, maxParallelism)
			}
			p.Parallelism = uint8(n)
		default:
			return nil, fmt.Errorf("%w: unknown parameter %q", ErrMalformedHash, k)
		}
	}
	if err := checkCost(p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return nil, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	key, err := enc.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLength {
		return nil, fmt.Errorf("%w: bad hash", ErrMalformedHash)
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	return &PasswordHash{Params: p, salt: salt, key: key}, nil
}

// Matches reports whether password hashes to h, comparing in constant time.
func (h *PasswordHash) Matches(password string) bool {
	got := argon2.IDKey([]byte(password), h.salt, h.Params.Iterations, h.Params.Memory, h.Params.Parallelism, h.Params.KeyLength)
	return subtle.ConstantTimeCompare(got, h.key) == 1
}
