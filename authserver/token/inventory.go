package token

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeyInfo describes one published signing key: public facts only.
type KeyInfo struct {
	KID       string    `json:"kid"`
	Algorithm string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	// SignsFrom is when the key starts (or started) signing; before then
	// it is published only (pre-publication).
	SignsFrom time.Time `json:"signs_from"`
	// RetiresAt is when it leaves the JWKS; zero while nothing replaced it.
	RetiresAt time.Time `json:"retires_at,omitzero"`
	// Signing: the key signs now for its algorithm.
	Signing bool `json:"signing"`
}

// Keys lists the keys of the last Load, by algorithm, newest first.
func (m *KeyManager) Keys() []KeyInfo {
	ks := m.cur.Load()
	if ks == nil {
		return nil
	}
	now := m.now()
	var out []KeyInfo
	for _, alg := range m.algs {
		current := ks.signer(alg, now)
		for _, k := range ks.signing[alg] {
			s := ks.sched[k.rec.ID]
			out = append(out, KeyInfo{KID: k.rec.ID, Algorithm: alg, CreatedAt: k.rec.CreatedAt,
				SignsFrom: s.start, RetiresAt: s.retire, Signing: k == current})
		}
	}
	return out
}

// Ready reports an error unless every configured algorithm has a key that
// signs now.
func (m *KeyManager) Ready() error {
	ks := m.cur.Load()
	if ks == nil {
		return fmt.Errorf("%w: keys not loaded", ErrNoSigningKey)
	}
	var missing []string
	now := m.now()
	for _, alg := range m.algs {
		if ks.signer(alg, now) == nil {
			missing = append(missing, alg)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w for %s", ErrNoSigningKey, strings.Join(missing, ", "))
	}
	return nil
}
