package authserver

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// The core's rule for signing keys: a key stays published, and verifies,
// until every token it signed has expired. KeySchedule.KeyOptions derives
// the retention that keeps it, and New refuses a KeyManager whose
// retention does not.

// Defaults of a KeySchedule's zero fields.
const (
	DefaultKeyRotationInterval = 30 * 24 * time.Hour
	DefaultKeyPrePublication   = 24 * time.Hour
	DefaultKeyReloadInterval   = token.DefaultReloadInterval
	// keyRetentionMargin is added to the shortest safe retention by
	// default: verifiers' clock leeway, and a reload that runs late.
	keyRetentionMargin = 5 * time.Minute
)

// KeySchedule says when signing keys rotate, how often instances reload
// them and how long a replaced key stays published. Zero fields take the
// defaults. Errors name the fields by the settings in parentheses (the
// Caddy configuration's names).
type KeySchedule struct {
	// RotationInterval (key_rotation_interval) is how long a key signs
	// before a successor takes over. Default DefaultKeyRotationInterval.
	RotationInterval time.Duration
	// PrePublication (key_prepublication) is how long a successor is
	// published before it signs, so other instances and relying parties'
	// JWKS caches have it first. Default DefaultKeyPrePublication, or half
	// RotationInterval if that is shorter. It must be shorter than
	// RotationInterval and longer than ReloadInterval.
	PrePublication time.Duration
	// ReloadInterval (key_reload_interval) is how often Run re-reads the
	// keys, which bounds how long instances disagree about them. Default
	// DefaultKeyReloadInterval.
	ReloadInterval time.Duration
	// Retention (key retention) is how long a replaced key stays published
	// after its successor starts signing. Default: the longest lifetime of
	// a token the server signs, plus ReloadInterval (another instance may
	// sign with the old key until its next reload), plus a margin. Less
	// than that lifetime plus ReloadInterval is refused.
	Retention time.Duration
}

// KeyOptions applies the defaults, checks the schedule, and returns the
// options (all but Algorithms and Now) of the KeyManager for a Server that
// will be configured with lifetimes l and the clients of src.
func (k KeySchedule) KeyOptions(l Lifetimes, src clients.Source) (token.KeyOptions, error) {
	rotation := cmp.Or(k.RotationInterval, DefaultKeyRotationInterval)
	reload := cmp.Or(k.ReloadInterval, DefaultKeyReloadInterval)
	pre := k.PrePublication
	if pre == 0 {
		pre = min(DefaultKeyPrePublication, rotation/2)
	}
	switch {
	case rotation < 0 || pre < 0 || reload < 0:
		return token.KeyOptions{}, errors.New("key_rotation_interval, key_prepublication and key_reload_interval must be positive")
	case k.Retention < 0:
		return token.KeyOptions{}, errors.New("key retention must not be negative")
	case pre >= rotation:
		return token.KeyOptions{}, fmt.Errorf("key_prepublication (%v) must be shorter than key_rotation_interval (%v)", pre, rotation)
	case pre <= reload:
		return token.KeyOptions{}, fmt.Errorf("key_prepublication (%v) must be longer than key_reload_interval (%v), or other instances would see tokens signed with keys they have not loaded", pre, reload)
	}
	longest, err := longestTokenLifetime(l, src)
	if err != nil {
		return token.KeyOptions{}, err
	}
	retention := k.Retention
	if retention == 0 {
		retention = longest.d + reload + keyRetentionMargin
	}
	if err := longest.check(retention, reload); err != nil {
		return token.KeyOptions{}, err
	}
	return token.KeyOptions{RotationInterval: rotation, PrePublication: pre, ReloadInterval: reload, Retention: retention}, nil
}

// checkKeyRetention refuses keys whose retention would let tokens they
// signed outlive them. A zero retention keeps replaced keys for ever.
func checkKeyRetention(keys *token.KeyManager, l Lifetimes, src clients.Source) error {
	if keys.Retention() == 0 {
		return nil
	}
	longest, err := longestTokenLifetime(l, src)
	if err != nil {
		return err
	}
	return longest.check(keys.Retention(), keys.ReloadInterval())
}

// tokenLifetime is the longest a token the server signs stays valid, and
// the setting that makes it so.
type tokenLifetime struct {
	d       time.Duration
	setting string
}

func longestTokenLifetime(l Lifetimes, src clients.Source) (tokenLifetime, error) {
	l.setDefaults()
	longest := tokenLifetime{l.AccessToken, "access_token_lifetime"}
	for _, c := range []tokenLifetime{
		{l.IDToken, "id_token_lifetime"},
		// Back-channel logout tokens are signed too.
		{logoutTokenLifetime, "the logout token lifetime"},
	} {
		if c.d > longest.d {
			longest = c
		}
	}
	bound, ok := clients.BoundOf(src)
	if !ok {
		return tokenLifetime{}, fmt.Errorf("the client source (%T) does not say how long its clients' access tokens can live (clients.LifetimeBound), so no key retention can be shown to outlast them", src)
	}
	if bound > longest.d {
		longest = tokenLifetime{bound, "a client's access_token_lifetime"}
	}
	return longest, nil
}

// check refuses a retention shorter than the lifetime plus one reload
// interval: a key replaced on another instance may sign here until the
// next reload, and what it signs then must still verify until it expires.
func (t tokenLifetime) check(retention, reload time.Duration) error {
	if retention < t.d+reload {
		return fmt.Errorf("key retention (%v) must be at least %s (%v) plus key_reload_interval (%v), or keys would retire while tokens they signed are still valid", retention, t.setting, t.d, reload)
	}
	return nil
}
