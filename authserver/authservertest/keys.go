package authservertest

import (
	"context"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// The fixture's signing keys are fixed, so every fixture (and every run)
// signs with the same keys under the same kids, and no test pays for RSA
// key generation. They are test keys and nothing else: they are written
// with the "TESTING KEY" label (replaced when parsed, as in Go's own
// crypto tests) so that secret scanners do not take them for real ones.
const (
	// KeyIDES256 and KeyIDRS256 are the kids of the fixture's keys.
	KeyIDES256 = "authservertest-es256"
	KeyIDRS256 = "authservertest-rs256"
)

const es256PEM = `-----BEGIN TESTING KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg2nrrPB5JnsOXsuq5
D9DCrdM4O89fpRZZjh7ZtWOdhF+hRANCAAStqRoWyi18IjKNCeEpPjPMLnzjjAkD
MipugIOOe44NE+beK0M1nienONXXrSKczldsnyur1l80C2pz8nFA36pZ
-----END TESTING KEY-----
`

const rs256PEM = `-----BEGIN TESTING KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCoikJOA6AFqyMI
Km8ytl2JVxw6Ow8Z0+4f5+xItovWeHqpPLBRCEQURdUcrzCC5iQ++rK58paN6yU4
6qATKRjx0jZdWsTSPxyH7BXu+5vw9u/ywB5JntVNuL+GFuNd27sKn8JPcNw3UQBD
zRrZ7ruptNaf5jLzU5s3krF5VOF0coyoq5x93nMIpoWB8FfVl/LW8FLW+Xw1vlf3
BAW7gfvq1OYlQH2BDjTKKKst8dDgx5hlQ7j8dnk3SeT8wVWMOVzdFVvVBy66Kcl/
UBYuCM+CstJR3tLlPHyhNYFl9xkZoR19CMenW5myA7t+xDcPdFP7KdvcV8m+BXrn
MB7oIXZRAgMBAAECgf96iQrr7XbKqEIwDaoLFMusrsi3DXlNLehTCiugMhg5Nh74
LEeEop3cn2jyEe0TPn/byilnSBht1iiZ2PvI8nhQWKVt+jBfK8NyjxLjTctyxhZu
R3+9xt0OROP6eWmVM8wpTT3YxBVXomyu3tBG4mtOV0wztQoWHxMatGyT6kKAhhna
mFp1tVJyK3m2RyDj4inHL6t6vJZ8EoD2MDZMpKOJKyDSWnZlS08f62FNa59oaifI
Dtdj7V4VhMChITOSBH+d6EJh89O03SN6wqaItYqiKEBX+pE0n2LGwI3UvYxHsozH
pzkPQVvgpvXrY4x+76CyEWunC8aK7rZ+MuBOxIECgYEA1Q1H/paBCvGpXoDBMzgC
kPXL0sPXq/1HaC+Ydq9+7S1HIN6gGbo3ZbYgj0ECZ3c3U1eMkliLEFUPN/nyBtzA
k6w4iiK9Iju9OsovXMcnKrAMgw1NBHHyr0jUcS8Bb7z03YuPbKEQOvf3Da+gWlBh
BVmkM4K0uy3b1bVMOxqWPkECgYEAyoPov1qktnLPLxNnaSfL+1xHIR1nhfzB6bb+
qV5kdBp83jgJu/oQd4HAPKFjvNyIGiVR43zd0Q5mOfW7xLJD6NAGbIxYi9hsbTmm
phXAs6c480kRJ8VhZwPx4zoqRBGL/UQ8UUagEglK96OtcqdeyQjA0BsZ9Sr0gxV4
yX06VBECgYAla7LEhbzepjmgbq8Ahwr0WSfWui1MeS0soId/+S0rDXPb0x59xlZq
mAW6A6ofcDIYgl0fa0vpr3b/1vfquqVcirhXkuhzddiz1cVh310Cw28/KXvolvcQ
UJN32dC/xomfzB6B7vxBz0Hmdn2Mv2d7IBaWMZP6+IAPVkuwaegPwQKBgQCq8AjH
bCVX8zS6UbCZ7AObmdpYM0+soxqywcnXAFvePHVlxPtCdeLsXNL82mUrhyJCn3mt
gTpiObtD9Q2XC7mSi/TALv6WnAl5cI4f5oCPo/jIMcaPQWXj5EqKOBBxADafgrc/
C1QVpU5oFPpUqr2xBvhpMFcKwEU/WCJqQI+5YQKBgQC5inRfV5WA8NT4vwE+l/uQ
YTklNhNqeiBZjHo01dOaDiMH34W29US3VGaP5biosz07MKKUm0PVSrKsiz0gYkUJ
VlLMTN4hzmRyV6UMIQh6/3vhvoEYs0FIypevepQ1/G3YfJGwymG/vjTSSUoS8Lkn
s9htoLAE57BAbAd7u83GPQ==
-----END TESTING KEY-----
`

// sealKey seals the keys in each fixture's store. Fixed, like the keys.
var sealKey = sha256.Sum256([]byte("authservertest seal key"))

// keysCreatedAt is when the fixture's keys were made: before Epoch, so
// they sign from the fixture's first instant on.
var keysCreatedAt = Epoch().Add(-24 * time.Hour)

// pkcs8 returns the DER of a "TESTING KEY" PEM block.
func pkcs8(testingPEM string) []byte {
	b, _ := pem.Decode([]byte(strings.ReplaceAll(testingPEM, "TESTING KEY", "PRIVATE KEY")))
	if b == nil {
		panic("authservertest: bad key PEM")
	}
	return b.Bytes
}

// storeKeys puts the fixed signing keys in st, sealed with sealer, as
// token.KeyManager would have stored keys it generated.
func storeKeys(ctx context.Context, st store.Store, sealer *seal.Sealer) error {
	for _, k := range []struct{ kid, alg, pem string }{
		{KeyIDES256, "ES256", es256PEM},
		{KeyIDRS256, "RS256", rs256PEM},
	} {
		sealed, err := sealer.Seal(pkcs8(k.pem), []byte(k.kid))
		if err != nil {
			return err
		}
		if err := st.CreateSigningKey(ctx, store.SigningKey{ID: k.kid, Algorithm: k.alg, Sealed: sealed, CreatedAt: keysCreatedAt}); err != nil {
			return fmt.Errorf("authservertest: storing key %s: %w", k.kid, err)
		}
	}
	return nil
}
