package throttle

import (
	"crypto/sha256"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"time"
)

// Subject keys. Accounts, names as typed and devices share the login
// Counters' subject table, so each kind has a prefix of its own and no
// key of one kind can be mistaken for another.

// AccountKey is the subject key of a known account.
func AccountKey(userID string) string { return "user:" + userID }

// FactorKey is the subject key of a user's second-factor codes, counted
// apart from their password so neither can be guessed on the other's
// budget.
func FactorKey(userID string) string { return "factor:" + userID }

// UsernameKey is the subject key of a name nobody has: the name as typed,
// case-folded and trimmed as usernames are, so unknown names are
// throttled exactly like real ones and a lock reveals nothing.
func UsernameKey(typed string) string { return "name:" + strings.ToLower(strings.TrimSpace(typed)) }

// DeviceKey is the subject key of a device cookie, given the random nonce
// it carries: a digest, so the table never holds cookie material.
func DeviceKey(nonce string) string {
	sum := sha256.Sum256([]byte("gatehouse device\x00" + nonce))
	return "device:" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// ClientKey is the subject key of a client at client authentication.
func ClientKey(clientID string) string { return "client:" + clientID }

// AddressKey is the counter key of a client IP address: an IPv6 address
// by its /64, the block one host usually controls (and can hop around
// in), anything else as it is. "" stays "": not counted.
func AddressKey(ip string) string {
	if a := net.ParseIP(ip); a != nil && a.To4() == nil {
		return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip
}

// RetryAfter is the Retry-After header value (RFC 9110 §10.2.3) for a
// wait, sent with 429 Too Many Requests (RFC 6585 §4): whole seconds,
// rounded up, so a client that waits that long is admitted.
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
