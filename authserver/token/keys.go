package token

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/authserver/seal"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// ErrNoSigningKey means the KeyManager has no usable key for the requested
// algorithm: Load has not run, the algorithm is not configured, or every key
// of that algorithm is past its NotAfter.
var ErrNoSigningKey = errors.New("token: no usable signing key")

// KidSaltSecretName is the store secret (see store.Store.GetOrCreateSecret)
// holding the per-deployment salt from which new kids are derived.
const KidSaltSecretName = "token/kid-salt"

// maxCachedSigners bounds the per-key cache of go-jose signers, one per
// distinct typ header value.
const maxCachedSigners = 8

// DefaultReloadInterval is the KeyOptions.ReloadInterval of a zero value.
const DefaultReloadInterval = time.Minute

// KeyOptions configures a KeyManager.
type KeyOptions struct {
	// Algorithms to keep a signing key for. Empty means DefaultAlgorithms.
	// Supported: ES256, RS256, PS256, EdDSA.
	Algorithms []string
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// RotationInterval is how long a key signs before Load replaces it
	// with a new one (scheduled rotation). Zero disables the schedule:
	// keys are then replaced only by Rotate or when they reach NotAfter.
	RotationInterval time.Duration
	// PrePublication is how long a key that replaces a signing key is
	// published in the JWKS before it signs, so every instance's next Load
	// and every relying party's JWKS cache has it before a token signed
	// with it arrives. It must be shorter than RotationInterval. Zero:
	// a new key signs at once.
	PrePublication time.Duration
	// ReloadInterval is how often the KeyManager's owner calls Load
	// (authserver.Server.Run does): how long this process may go on
	// signing with a key after another one started its successor, and so
	// part of what Retention must cover. Zero means DefaultReloadInterval.
	ReloadInterval time.Duration
	// Retention is how long a key stays published, and verifies, after its
	// successor started signing: at least the longest lifetime of any token
	// it signed, plus the time other instances may take to reload. Zero:
	// replaced keys stay until their RetireAt (forever if none).
	Retention time.Duration
}

// KeyManager holds the JWS signing keys: it generates them when missing,
// keeps them sealed in the store, signs with them and publishes their
// public halves. Sign, JWKS and VerificationKeys are safe for concurrent
// use and lock-free; Load may run concurrently with them and swaps in the
// new key set atomically.
type KeyManager struct {
	st     store.Store
	sealer *seal.Sealer
	algs   []string
	algErr error
	now    func() time.Time

	rotation, prePublication, retention, reload time.Duration

	// mu serialises Load and Rotate within the process.
	// Across processes, agreement comes from deterministic kids and the
	// store's unique key on kid; see Load.
	mu  sync.Mutex
	cur atomic.Pointer[keySet]
}

// keySet is an immutable snapshot of the keys as of one Load.
type keySet struct {
	byKID   map[string]*managedKey   // every key not retired at Load
	signing map[string][]*managedKey // configured alg -> its keys, newest first
	sched   map[string]keySchedule   // kid -> when it signs and retires
	jwks    []byte                   // {"keys":[...]} of byKID, public members only
}

// keySchedule is when a key may sign and when it is retired, derived from
// every stored key (see schedules).
type keySchedule struct {
	start  time.Time // may sign from then on, until a newer key starts
	retire time.Time // unpublished and no longer verifies from then on; zero: never
}

// managedKey is one opened signing key. Everything but the signer cache is
// immutable after construction; a managedKey is reused across Loads when
// its record is unchanged, keeping the cache warm.
type managedKey struct {
	rec  store.SigningKey // as stored (Sealed included, to detect changes)
	priv crypto.Signer
	pub  jose.JSONWebKey // public key with kid, alg and use

	sigMu   sync.RWMutex
	signers map[string]jose.Signer // typ -> signer
}

// NewKeyManager returns a KeyManager that keeps its keys in st, sealed with
// s. Call Load before use.
func NewKeyManager(st store.Store, s *seal.Sealer, opts KeyOptions) *KeyManager {
	m := &KeyManager{st: st, sealer: s, now: opts.Now,
		rotation: opts.RotationInterval, prePublication: opts.PrePublication, retention: opts.Retention,
		reload: cmp.Or(opts.ReloadInterval, DefaultReloadInterval)}
	if m.now == nil {
		m.now = time.Now
	}
	switch {
	case m.rotation < 0 || m.prePublication < 0 || m.retention < 0 || m.reload < 0:
		m.algErr = errors.New("token: key rotation interval, pre-publication, reload interval and retention must not be negative")
	case m.rotation > 0 && m.prePublication >= m.rotation:
		m.algErr = fmt.Errorf("token: key pre-publication (%v) must be shorter than the rotation interval (%v)", m.prePublication, m.rotation)
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms()
	}
	for _, a := range algs {
		if !isSigningAlg(a) {
			m.algErr = fmt.Errorf("token: unsupported signing algorithm %q (supported: ES256, RS256, PS256, EdDSA)", a)
			break
		}
		if !slices.Contains(m.algs, a) {
			m.algs = append(m.algs, a)
		}
	}
	return m
}

// Algorithms returns the algorithms the KeyManager signs with, in
// configuration order (for discovery metadata such as
// id_token_signing_alg_values_supported).
func (m *KeyManager) Algorithms() []string { return slices.Clone(m.algs) }

// ReloadInterval is how often Load is meant to be called
// (KeyOptions.ReloadInterval, defaulted).
func (m *KeyManager) ReloadInterval() time.Duration { return m.reload }

// Retention is how long a replaced key stays published
// (KeyOptions.Retention; zero: until its stored RetireAt, if any).
func (m *KeyManager) Retention() time.Duration { return m.retention }

// Load reads every key from the store, opens those not yet retired and
// makes sure each configured algorithm has a usable signing key, generating
// and storing one where it is missing. With a RotationInterval it also
// starts a scheduled rotation that is due: a successor to a key that has
// signed for RotationInterval-PrePublication. Call it at startup and then
// periodically: that picks up keys other processes created and rotates on
// schedule, so instances converge within the period.
//
// A key that cannot be opened (KEK not configured, tampered record) or
// whose private key does not match its algorithm makes Load fail rather
// than be skipped: silently generating a replacement would hide a
// configuration mistake and break every token signed with the old key.
// Retired keys are not opened at all.
//
// Concurrent generation: a new key's kid is HMAC-SHA-256(salt, alg and the
// sorted kids of every stored key of that algorithm), truncated to 12 bytes
// and base64url-encoded, where salt is a random per-deployment secret from
// the store. Processes that saw the same keys derive the same kid, so of
// several processes starting (or rotating) at once exactly one
// CreateSigningKey succeeds and the others get store.ErrAlreadyExists,
// discard their key and adopt the winner's on the re-read that follows. A
// process that saw more keys found a usable (or pending) one and generates
// nothing. (With random kids, a process that finished its re-read before
// another inserted would never learn of the second key until its next Load.)
// When a key starts signing is derived from the stored keys alone (see
// schedules), so processes agree on it too, whichever of them created it.
func (m *KeyManager) Load(ctx context.Context) error {
	return m.load(ctx, false)
}

// Rotate starts a rotation now, whatever the schedule: every configured
// algorithm without a successor already waiting gets a new key, published
// at once and signing after PrePublication, when the current key stops
// signing. The current key stays published for Retention after that.
// Concurrent Rotates, in this process or others, create one key per
// algorithm between them.
func (m *KeyManager) Rotate(ctx context.Context) error {
	return m.load(ctx, true)
}

func (m *KeyManager) load(ctx context.Context, force bool) error {
	if m.algErr != nil {
		return m.algErr
	}
	if m.st == nil || m.sealer == nil {
		return errors.New("token: KeyManager needs a store and a Sealer")
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	recs, ks, err := m.read(ctx)
	if err != nil {
		return err
	}
	create := m.toCreate(recs, ks, force)
	if len(create) == 0 {
		m.cur.Store(ks)
		return nil
	}
	salt, err := m.kidSalt(ctx)
	if err != nil {
		return err
	}
	for _, alg := range create {
		// A new key must sort after every key of its algorithm, or a
		// successor created within a second of its predecessor could be
		// taken for the older one.
		created := m.now().UTC().Truncate(time.Second)
		if newest := newestOf(recs, alg); newest.ID != "" && !created.After(newest.CreatedAt) {
			created = newest.CreatedAt.Truncate(time.Second).Add(time.Second)
		}
		if err := m.createKey(ctx, alg, kidFor(salt, alg, recs), created); err != nil {
			return err
		}
	}
	_, ks, err = m.read(ctx)
	if err != nil {
		return err
	}
	if still := m.missing(ks); len(still) > 0 {
		return fmt.Errorf("%w for %s after generating one", ErrNoSigningKey, still[0])
	}
	m.cur.Store(ks)
	return nil
}

// toCreate returns the algorithms that need a new key: those with no key
// that can sign now, and those whose signing key is due for rotation (all
// of them when force) and has no successor waiting.
func (m *KeyManager) toCreate(recs []store.SigningKey, ks *keySet, force bool) []string {
	now := m.now()
	var out []string
	for _, alg := range m.algs {
		cur := ks.signer(alg, now)
		if cur == nil {
			out = append(out, alg)
			continue
		}
		if !force && m.rotation <= 0 {
			continue
		}
		newest := newestOf(recs, alg)
		if sched, ok := ks.sched[newest.ID]; !ok || now.Before(sched.start) {
			continue // a successor is waiting (or retired, which signer rules out)
		}
		if force || !now.Before(ks.sched[cur.rec.ID].start.Add(m.rotation-m.prePublication)) {
			out = append(out, alg)
		}
	}
	return out
}

// missing returns the configured algorithms without a key usable for
// signing now.
func (m *KeyManager) missing(ks *keySet) []string {
	now := m.now()
	var out []string
	for _, alg := range m.algs {
		if ks.signer(alg, now) == nil {
			out = append(out, alg)
		}
	}
	return out
}

// read lists the store and builds a key set from it, reusing already
// opened keys whose record has not changed.
func (m *KeyManager) read(ctx context.Context) ([]store.SigningKey, *keySet, error) {
	recs, err := m.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("token: listing signing keys: %w", err)
	}
	now := m.now()
	prev := m.cur.Load()
	ks := &keySet{
		byKID:   make(map[string]*managedKey, len(recs)),
		signing: make(map[string][]*managedKey, len(m.algs)),
		sched:   schedules(recs, m.prePublication, m.retention),
	}
	for _, r := range recs {
		if ks.retired(r.ID, now) {
			continue
		}
		if _, dup := ks.byKID[r.ID]; dup {
			return nil, nil, fmt.Errorf("token: store returned signing key %q twice", r.ID)
		}
		var k *managedKey
		if prev != nil {
			if old := prev.byKID[r.ID]; old != nil && sameRecord(old.rec, r) {
				k = old
			}
		}
		if k == nil {
			if k, err = m.open(r); err != nil {
				return nil, nil, err
			}
		}
		ks.byKID[r.ID] = k
	}

	all := make([]*managedKey, 0, len(ks.byKID))
	for _, k := range ks.byKID {
		all = append(all, k)
	}
	// Newest first by (CreatedAt, ID): the order every process agrees on.
	slices.SortFunc(all, func(a, b *managedKey) int { return compareAge(b.rec, a.rec) })
	for _, k := range all {
		if slices.Contains(m.algs, k.rec.Algorithm) {
			ks.signing[k.rec.Algorithm] = append(ks.signing[k.rec.Algorithm], k)
		}
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(all))}
	for _, k := range all {
		set.Keys = append(set.Keys, k.pub)
	}
	if ks.jwks, err = json.Marshal(set); err != nil {
		return nil, nil, fmt.Errorf("token: encoding JWK set: %w", err)
	}
	return recs, ks, nil
}

func sameRecord(a, b store.SigningKey) bool {
	return a.ID == b.ID && a.Algorithm == b.Algorithm &&
		a.CreatedAt.Equal(b.CreatedAt) && a.NotAfter.Equal(b.NotAfter) &&
		a.RetireAt.Equal(b.RetireAt) && bytes.Equal(a.Sealed, b.Sealed)
}

// open unseals a stored key and checks it matches its algorithm.
func (m *KeyManager) open(r store.SigningKey) (*managedKey, error) {
	if !verifiableAlgs[r.Algorithm] || !isSigningAlg(r.Algorithm) {
		return nil, fmt.Errorf("token: signing key %q has unsupported algorithm %q", r.ID, r.Algorithm)
	}
	der, err := m.sealer.Open(r.Sealed, []byte(r.ID))
	if err != nil {
		return nil, fmt.Errorf("token: opening signing key %q: %w", r.ID, err)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: signing key %q: parsing PKCS#8: %w", r.ID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok || !keyFitsAlg(priv.Public(), r.Algorithm) {
		return nil, fmt.Errorf("token: signing key %q does not match its algorithm %s", r.ID, r.Algorithm)
	}
	rec := r
	rec.Sealed = bytes.Clone(r.Sealed)
	return &managedKey{
		rec:  rec,
		priv: priv,
		pub: jose.JSONWebKey{
			Key:       priv.Public(),
			KeyID:     r.ID,
			Algorithm: r.Algorithm,
			Use:       "sig",
		},
	}, nil
}

// createKey generates a key for alg, seals it with kid as associated data
// and stores it. A store.ErrAlreadyExists means another process created the
// same kid first, which is success: the caller re-reads. Rotation needs no
// NotAfter or RetireAt: when a key signs and retires follows from the keys
// around it (see schedules), and stored keys are never changed.
func (m *KeyManager) createKey(ctx context.Context, alg, kid string, created time.Time) error {
	priv, err := generateKey(alg)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("token: encoding %s key: %w", alg, err)
	}
	sealed, err := m.sealer.Seal(der, []byte(kid))
	clear(der)
	if err != nil {
		return fmt.Errorf("token: sealing %s key: %w", alg, err)
	}
	err = m.st.CreateSigningKey(ctx, store.SigningKey{
		ID:        kid,
		Algorithm: alg,
		Sealed:    sealed,
		// Seconds are enough to order keys and survive any backend's
		// timestamp precision.
		CreatedAt: created,
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("token: storing %s key: %w", alg, err)
	}
	return nil
}

// kidSalt returns the deployment's kid salt, creating it on first use.
func (m *KeyManager) kidSalt(ctx context.Context) ([]byte, error) {
	candidate := make([]byte, 32)
	_, _ = rand.Read(candidate)
	sealed, err := m.sealer.Seal(candidate, []byte(KidSaltSecretName))
	if err != nil {
		return nil, fmt.Errorf("token: sealing kid salt: %w", err)
	}
	got, err := m.st.GetOrCreateSecret(ctx, KidSaltSecretName, m.now(), sealed)
	if err != nil {
		return nil, fmt.Errorf("token: kid salt: %w", err)
	}
	salt, err := m.sealer.Open(got, []byte(KidSaltSecretName))
	if err != nil {
		return nil, fmt.Errorf("token: opening kid salt: %w", err)
	}
	return salt, nil
}
