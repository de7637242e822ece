package factor

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: RFC 6238 with SHA-1, 6 digits and 30 s steps, what every
// authenticator app understands; one step either side is accepted for
// clock drift (RFC 6238 §5.2).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1
	// SecretSize is the shared secret's length: 160 bits, as RFC 4226 §4
	// recommends.
	SecretSize = 20
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// ErrWrongCode means a code matched no accepted time step.
var ErrWrongCode = errors.New("factor: wrong code")

// NewTOTP makes a new TOTP secret for accountName at issuer, returning the
// raw secret and its otpauth:// URL for authenticator apps.
func NewTOTP(issuer, accountName string) (secret []byte, url string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: accountName, Period: totpPeriod,
		SecretSize: SecretSize, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, "", err
	}
	secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(key.Secret())
	return secret, key.URL(), err
}

// TOTPURL is the otpauth:// URL of an existing secret.
func TOTPURL(issuer, accountName string, secret []byte) (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: accountName, Period: totpPeriod,
		Secret: secret, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", err
	}
	return key.URL(), nil
}

// ManualKey is the secret as typed into an app by hand: base32 in groups
// of four.
func ManualKey(secret []byte) string {
	b := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	var out strings.Builder
	for i := 0; i < len(b); i += 4 {
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(b[i:min(i+4, len(b))])
	}
	return out.String()
}

// QRPNG renders an otpauth URL as a QR code PNG, size pixels square,
// on the server (no outside service sees the secret).
func QRPNG(url string, size int) ([]byte, error) {
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		return nil, err
	}
	img, err := key.Image(size, size)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Step is the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / totpPeriod }

// CheckTOTP returns the time step whose code code is, among now's step and
// one either side; ErrWrongCode when none. Whether that step was used
// before is for the caller (store.FactorStore.UseFactorStep) to decide.
func CheckTOTP(secret []byte, code string, now time.Time) (int64, error) {
	code = NormalizeCode(code)
	if len(code) != totpDigits.Length() {
		return 0, ErrWrongCode
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	step := Step(now)
	found := int64(0)
	// Every candidate is computed and compared in constant time, so the
	// answer's timing does not say which step matched.
	for s := step - totpSkew; s <= step+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(b32, time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found == 0 {
			found = s
		}
	}
	if found == 0 {
		return 0, ErrWrongCode
	}
	return found, nil
}

// TOTPCode is the code of secret at t (for tests and tools).
func TOTPCode(secret []byte, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret), t, totpOpts)
}

// NormalizeCode drops the spaces and dashes people type into codes and
// folds case.
func NormalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}
