package factor

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 10

// recoveryAlphabet avoids letters easily misread (no 0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// recoveryLength is a code's length: 16 characters of a 31-letter
// alphabet, about 79 bits, so a stored hash cannot be reversed by search
// and guessing online is hopeless even before the throttle.
const recoveryLength = 16

// NewRecoveryCodes returns RecoveryCodeCount fresh codes as shown to the
// user (groups of four joined by dashes) and their hashes as stored.
func NewRecoveryCodes() (codes, hashes []string) {
	for range RecoveryCodeCount {
		var b strings.Builder
		for i := range recoveryLength {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[randIndex(len(recoveryAlphabet))])
		}
		codes = append(codes, b.String())
		hashes = append(hashes, HashRecoveryCode(b.String()))
	}
	return codes, hashes
}

// HashRecoveryCode is the stored form of a code as typed: hex SHA-256 of
// the normalised code.
func HashRecoveryCode(code string) string {
	sum := sha256.Sum256([]byte("gatehouse recovery code\x00" + NormalizeCode(code)))
	return hex.EncodeToString(sum[:])
}

// LooksLikeRecoveryCode reports whether a typed code has a recovery
// code's shape (rather than a TOTP code's).
func LooksLikeRecoveryCode(code string) bool {
	c := NormalizeCode(code)
	if len(c) != recoveryLength {
		return false
	}
	for _, r := range c {
		if !strings.ContainsRune(recoveryAlphabet, r) {
			return false
		}
	}
	return true
}

// randIndex is a uniform random index below n (n < 256), by rejection.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand does not fail (Go 1.24+)
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
