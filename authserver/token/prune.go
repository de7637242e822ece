package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// DeleteRetired deletes from the store the keys that are retired at now:
// unpublished, and, with the Retention the server derives from its longest
// token lifetime, past the expiry of every token they signed. It returns
// how many it deleted. The Server calls it from its garbage collection,
// on one instance at a time.
//
// The schedule of every key is derived from all stored keys (schedules),
// so a deletion must not change it for the keys that stay: for each
// algorithm it deletes the longest run of oldest retired keys whose
// absence leaves every remaining key's start and retirement where they
// were (the newest retired key usually stays, as the predecessor that
// makes its successor's start a pre-published one). Instances that read
// the store before or after the deletion, or restart after it, therefore
// agree on which key signs and when the next rotation is due. The newest
// key of an algorithm is never deleted, so a kid derived later (kidFor)
// cannot repeat a deleted one: the set it is derived from always holds a
// key newer than any deleted key.
func (m *KeyManager) DeleteRetired(ctx context.Context) (int, error) {
	if m.algErr != nil {
		return 0, m.algErr
	}
	if m.st == nil {
		return 0, errors.New("token: KeyManager needs a store")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	recs, err := m.st.ListSigningKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("token: listing signing keys: %w", err)
	}
	ids := deletableKeys(recs, m.prePublication, m.retention, m.now())
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := m.st.DeleteSigningKeys(ctx, ids)
	if err != nil {
		return n, fmt.Errorf("token: deleting retired signing keys: %w", err)
	}
	return n, nil
}

// deletableKeys returns the ids of the keys DeleteRetired may delete at
// now, oldest first.
func deletableKeys(recs []store.SigningKey, prePublication, retention time.Duration, now time.Time) []string {
	full := schedules(recs, prePublication, retention)
	isRetired := func(s keySchedule) bool { return !s.retire.IsZero() && !now.Before(s.retire) }
	byAlg := map[string][]store.SigningKey{}
	for _, r := range recs {
		byAlg[r.Algorithm] = append(byAlg[r.Algorithm], r)
	}
	var out []string
	for _, keys := range byAlg {
		slices.SortFunc(keys, compareAge)
		// The oldest keys that are retired, never the newest key.
		run := 0
		for run < len(keys)-1 && isRetired(full[keys[run].ID]) {
			run++
		}
		for ; run > 0; run-- {
			rest := keys[run:]
			if sameSchedules(full, schedules(rest, prePublication, retention), rest, isRetired) {
				break
			}
		}
		for _, k := range keys[:run] {
			out = append(out, k.ID)
		}
	}
	return out
}

// sameSchedules reports whether after gives the keys the schedule before
// gave them: the same retirement, and for keys not retired the same start.
// (A retired key's start no longer decides anything about it.)
func sameSchedules(before, after map[string]keySchedule, keys []store.SigningKey, isRetired func(keySchedule) bool) bool {
	for _, k := range keys {
		b, a := before[k.ID], after[k.ID]
		if !a.retire.Equal(b.retire) || (!isRetired(b) && !a.start.Equal(b.start)) {
			return false
		}
	}
	return true
}
