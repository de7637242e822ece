package token

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// When keys sign and retire, and their ids: derived from the stored keys
// alone, so every instance sharing a store agrees.

// newestOf returns the newest stored key of alg by (CreatedAt, ID).
func newestOf(recs []store.SigningKey, alg string) store.SigningKey {
	var newest store.SigningKey
	for _, r := range recs {
		if r.Algorithm == alg && (newest.ID == "" || compareAge(r, newest) > 0) {
			newest = r
		}
	}
	return newest
}

// compareAge orders keys by (CreatedAt, ID), the order every process agrees
// on.
func compareAge(a, b store.SigningKey) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// schedules derives when each stored key signs and retires, per algorithm,
// oldest key first:
//
//   - A key created while an older key of its algorithm was signing is a
//     successor: it starts signing prePublication after its creation. Any
//     other key (the first, or one created because none could sign) starts
//     at once.
//   - A key stops signing when a newer one starts, and retires retention
//     later (or at its stored RetireAt, whichever is first); with no
//     retention only the stored RetireAt retires it.
//
// Only stored fields go in, so every process derives the same schedule
// whichever of them created the keys.
func schedules(recs []store.SigningKey, prePublication, retention time.Duration) map[string]keySchedule {
	byAlg := map[string][]store.SigningKey{}
	for _, r := range recs {
		byAlg[r.Algorithm] = append(byAlg[r.Algorithm], r)
	}
	out := make(map[string]keySchedule, len(recs))
	for _, keys := range byAlg {
		slices.SortFunc(keys, compareAge)
		starts := make([]time.Time, len(keys))
		for i, k := range keys {
			starts[i] = k.CreatedAt
			for j := range i {
				if !starts[j].After(k.CreatedAt) && canSign(keys[j], k.CreatedAt) {
					starts[i] = k.CreatedAt.Add(prePublication)
					break
				}
			}
		}
		for i, k := range keys {
			sched := keySchedule{start: starts[i], retire: k.RetireAt}
			var superseded time.Time
			for j := i + 1; j < len(keys); j++ {
				at := later(starts[j], starts[i])
				if canSign(keys[j], at) && (superseded.IsZero() || at.Before(superseded)) {
					superseded = at
				}
			}
			if retention > 0 && !superseded.IsZero() {
				if r := superseded.Add(retention); sched.retire.IsZero() || r.Before(sched.retire) {
					sched.retire = r
				}
			}
			out[k.ID] = sched
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// kidFor derives the kid of the next key of alg from the kids of all stored
// keys of alg (retired or not), so that processes with the same view of the
// store derive the same kid.
func kidFor(salt []byte, alg string, recs []store.SigningKey) string {
	var ids []string
	for _, r := range recs {
		if r.Algorithm == alg {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	mac := hmac.New(sha256.New, salt)
	mac.Write([]byte("gatehouse token kid v1\x00"))
	mac.Write([]byte(alg))
	for _, id := range ids {
		mac.Write([]byte{0})
		mac.Write([]byte(id))
	}
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:12])
}

func retired(r store.SigningKey, now time.Time) bool {
	return !r.RetireAt.IsZero() && !now.Before(r.RetireAt)
}

// canSign reports whether the stored limits of r allow signing at now.
func canSign(r store.SigningKey, now time.Time) bool {
	return (r.NotAfter.IsZero() || now.Before(r.NotAfter)) && !retired(r, now)
}

// retired reports whether the key kid is retired at now by its schedule.
func (ks *keySet) retired(kid string, now time.Time) bool {
	r := ks.sched[kid].retire
	return !r.IsZero() && !now.Before(r)
}

// signer returns the key that signs for alg at now: the newest one that has
// started signing and is neither past NotAfter nor retired.
func (ks *keySet) signer(alg string, now time.Time) *managedKey {
	if ks == nil {
		return nil
	}
	for _, k := range ks.signing[alg] {
		if !now.Before(ks.sched[k.rec.ID].start) && canSign(k.rec, now) && !ks.retired(k.rec.ID, now) {
			return k
		}
	}
	return nil
}
