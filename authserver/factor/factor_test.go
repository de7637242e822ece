package factor

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 key of RFC 6238 Appendix B.
var rfcSecret = []byte("12345678901234567890")

func TestTOTPCodeMatchesRFC6238Vectors(t *testing.T) {
	// RFC 6238 Appendix B gives 8 digits; 6-digit codes are their last six
	// (RFC 4226 §5.3 truncation modulo 10^6).
	for _, c := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := TOTPCode(rfcSecret, time.Unix(c.unix, 0))
		if err != nil || got != c.want {
			t.Errorf("TOTPCode at %d = %q, %v; want %q", c.unix, got, err, c.want)
		}
	}
}

func TestCheckTOTP(t *testing.T) {
	now := time.Unix(1111111109, 0) // step 37037036
	step := Step(now)
	code := func(d int64) string {
		c, err := TOTPCode(rfcSecret, time.Unix((step+d)*30, 0))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cases := []struct {
		name     string
		code     string
		wantStep int64
	}{
		{"current step", code(0), step},
		{"previous step (drift)", code(-1), step - 1},
		{"next step (drift)", code(1), step + 1},
		{"with a space", code(0)[:3] + " " + code(0)[3:], step},
		{"two steps ago", code(-2), 0},
		{"two steps ahead", code(2), 0},
		{"empty", "", 0},
		{"too short", code(0)[:5], 0},
		{"too long", code(0) + "1", 0},
		{"letters", "abcdef", 0},
		{"oversized", strings.Repeat("1", 10000), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CheckTOTP(rfcSecret, c.code, now)
			if c.wantStep == 0 {
				if !errors.Is(err, ErrWrongCode) {
					t.Fatalf("CheckTOTP = %d, %v; want ErrWrongCode", got, err)
				}
				return
			}
			if err != nil || got != c.wantStep {
				t.Fatalf("CheckTOTP = %d, %v; want step %d", got, err, c.wantStep)
			}
		})
	}
}

func TestNewTOTPRoundTrip(t *testing.T) {
	secret, url, err := NewTOTP("auth.example.com", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != SecretSize {
		t.Fatalf("secret is %d bytes, want %d", len(secret), SecretSize)
	}
	if !strings.HasPrefix(url, "otpauth://totp/") || !strings.Contains(url, "issuer=auth.example.com") {
		t.Fatalf("url = %q", url)
	}
	again, err := TOTPURL("auth.example.com", "alice", secret)
	if err != nil || again != url {
		t.Fatalf("TOTPURL = %q, %v; want %q", again, err, url)
	}
	other, _, _ := NewTOTP("auth.example.com", "alice")
	if bytes.Equal(secret, other) {
		t.Fatal("two secrets are equal")
	}
	img, err := QRPNG(url, 200)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(bytes.NewReader(img))
	if err != nil || decoded.Bounds().Dx() != 200 {
		t.Fatalf("QR PNG: %v, bounds %v", err, decoded.Bounds())
	}
	// The manual key decodes to the same secret.
	if k := ManualKey(rfcSecret); k != "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ" {
		t.Fatalf("ManualKey = %q", k)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes := NewRecoveryCodes()
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if seen[c] {
			t.Fatalf("code %q twice", c)
		}
		seen[c] = true
		if len(c) != 19 || !LooksLikeRecoveryCode(c) {
			t.Fatalf("code %q has the wrong shape", c)
		}
		if hashes[i] != HashRecoveryCode(c) || strings.Contains(hashes[i], c) {
			t.Fatalf("hash of %q is %q", c, hashes[i])
		}
		// Typed in capitals, without dashes, it is the same code.
		if HashRecoveryCode(strings.ToUpper(strings.ReplaceAll(c, "-", " "))) != hashes[i] {
			t.Fatalf("normalised %q hashes differently", c)
		}
	}
	for _, notCode := range []string{"123456", "", "abcd-efgh-jkmn-pqr", "abcd-efgh-jkmn-pqr0", "abcd-efgh-jkmn-pqrs-t"} {
		if LooksLikeRecoveryCode(notCode) {
			t.Errorf("LooksLikeRecoveryCode(%q) = true", notCode)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"off", "optional", "required"} {
		if p, err := ParsePolicy(s); err != nil || string(p) != s {
			t.Errorf("ParsePolicy(%q) = %q, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "on", "Required", "optional "} {
		if _, err := ParsePolicy(s); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", s)
		}
	}
	if Policy("").Or(Required) != Required || Off.Or(Required) != Off {
		t.Error("Or")
	}
	if Off.Asks() || !Optional.Asks() || !Required.Asks() {
		t.Error("Asks")
	}
}
