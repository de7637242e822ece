package clients

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Errors of client management. ErrUnknown is shared with lookups.
var (
	// ErrStatic: the client comes from the configuration, which is
	// read-only at run time.
	ErrStatic = errors.New("the client is defined in the configuration and cannot be changed at run time")
	// ErrNoSecret: a public client has no secret to rotate.
	ErrNoSecret = errors.New("the client is public and has no secret")
	// ErrRotationInProgress: a secret rotation was started and is neither
	// completed nor cancelled.
	ErrRotationInProgress = errors.New("a secret rotation is already in progress; complete or cancel it first")
	// ErrNoRotation: complete or cancel without a rotation in progress.
	ErrNoRotation = errors.New("no secret rotation is in progress")
	// ErrBusy: concurrent changes kept winning over this one.
	ErrBusy = errors.New("the client is being changed concurrently; try again")
)

// RegistryOptions tune a Registry. Zero values take defaults.
type RegistryOptions struct {
	// CacheTTL is how long a stored client is served from memory before it
	// is read again: the staleness another instance sharing the store may
	// show after a change here. Changes made through this registry are
	// seen at once by it. Default 10 s; negative disables the cache.
	CacheTTL time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// IDTokenAlgorithms are the signing algorithms the server has keys
	// for: a client created or changed at run time may name only one of
	// them as its id_token_signed_response_alg. Default RS256 and ES256,
	// the token package's default keys.
	IDTokenAlgorithms []string
}

const (
	defaultClientCacheTTL = 10 * time.Second
	// maxCachedClients bounds the cache. Only clients that exist are
	// cached, so it cannot be filled with made-up ids.
	maxCachedClients = 10000
	// maxUpdateAttempts bounds read-modify-write retries on ErrConflict.
	maxUpdateAttempts = 5
)

// Registry is the Source of a server whose clients can be managed at
// run time: clients from the configuration first (read-only;
// their ids are reserved), then clients kept in the store, created by the
// admin API or by dynamic client registration. It also manages the stored
// clients.
//
// Lookups run on every authorization and token request, so stored clients
// are cached for a short time (RegistryOptions.CacheTTL). Unknown ids
// are not cached: a client created on another instance works at once.
type Registry struct {
	static    Static
	staticIDs []string // sorted
	store     store.Store
	scopes    []string
	// idTokenAlgs: what id_token_signed_response_alg may name.
	idTokenAlgs []string
	ttl         time.Duration
	now         func() time.Time

	mu    sync.Mutex
	cache map[string]cachedClient
	// gen changes whenever this registry writes a client, so a lookup
	// that read the store before the write does not cache what it read.
	gen uint64
}

type cachedClient struct {
	client  *Client
	fetched time.Time
}

// NewRegistry serves static first, then the clients in st.
// supportedScopes are the scopes clients may be allowed.
func NewRegistry(static Static, st store.Store, supportedScopes []string, opts RegistryOptions) *Registry {
	if opts.CacheTTL == 0 {
		opts.CacheTTL = defaultClientCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ids := make([]string, 0, len(static))
	for id := range static {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return &Registry{
		static: static, staticIDs: ids, store: st, scopes: slices.Clone(supportedScopes),
		idTokenAlgs: runTimeIDTokenAlgs(opts.IDTokenAlgorithms),
		ttl:         opts.CacheTTL, now: opts.Now, cache: map[string]cachedClient{},
	}
}

// Client implements Source.
func (r *Registry) Client(ctx context.Context, id string) (*Client, error) {
	if c, ok := r.static[id]; ok {
		return c, nil
	}
	now := r.now()
	r.mu.Lock()
	e, ok := r.cache[id]
	gen := r.gen
	r.mu.Unlock()
	if ok && now.Sub(e.fetched) < r.ttl && !now.Before(e.fetched) {
		return e.client, nil
	}
	rec, err := r.store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		r.forget(id)
		return nil, ErrUnknown
	} else if err != nil {
		return nil, err
	}
	c, err := r.toClient(&rec)
	if err != nil {
		return nil, fmt.Errorf("stored client %q is invalid: %w", id, err)
	}
	if r.ttl > 0 {
		r.mu.Lock()
		if r.gen == gen {
			if len(r.cache) >= maxCachedClients {
				r.evictLocked(now)
			}
			r.cache[id] = cachedClient{client: c, fetched: now}
		}
		r.mu.Unlock()
	}
	return c, nil
}

// evictLocked drops expired entries, or everything if none has expired.
func (r *Registry) evictLocked(now time.Time) {
	for id, e := range r.cache {
		if now.Sub(e.fetched) >= r.ttl {
			delete(r.cache, id)
		}
	}
	if len(r.cache) >= maxCachedClients {
		clear(r.cache)
	}
}

// stamp is the time of a write, as precise as the store keeps it, so
// what a write returns equals what a later read returns.
func (r *Registry) stamp() time.Time {
	return r.now().UTC().Truncate(time.Millisecond)
}

// forget drops id from the cache after a write.
func (r *Registry) forget(id string) {
	r.mu.Lock()
	delete(r.cache, id)
	r.gen++
	r.mu.Unlock()
}

// toClient turns a stored record into a ready Client.
func (r *Registry) toClient(rec *store.Client) (*Client, error) {
	c := clientOf(rec)
	if err := c.Prepare(r.scopes); err != nil {
		return nil, err
	}
	return c, nil
}

// IsStatic reports whether id belongs to a client from the configuration.
func (r *Registry) IsStatic(id string) bool {
	_, ok := r.static[id]
	return ok
}

// Get describes the client with that id, read afresh from the store.
// ErrUnknown when there is none.
func (r *Registry) Get(ctx context.Context, id string) (Info, error) {
	if c, ok := r.static[id]; ok {
		return staticInfo(c), nil
	}
	rec, err := r.store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Info{}, ErrUnknown
	} else if err != nil {
		return Info{}, err
	}
	return infoOf(&rec), nil
}

// List returns up to limit clients after the cursor after ("" for the
// first page): the static clients by id, then the stored ones in the
// store's id order. next is the cursor of the following page, or "" when
// this page is the last. A page can be shorter than limit and still have
// a next.
func (r *Registry) List(ctx context.Context, after string, limit int) (page []Info, next string, err error) {
	if limit <= 0 {
		return nil, "", errors.New("limit must be positive")
	}
	storeAfter := after
	if after == "" || r.IsStatic(after) {
		// Static clients come first; a static cursor continues among them.
		i := 0
		if after != "" {
			i, _ = slices.BinarySearch(r.staticIDs, after)
			i++
		}
		for ; i < len(r.staticIDs) && len(page) < limit; i++ {
			page = append(page, staticInfo(r.static[r.staticIDs[i]]))
		}
		storeAfter = ""
		if len(page) == limit {
			more := i < len(r.staticIDs)
			if !more {
				recs, err := r.store.ListClients(ctx, "", 1)
				if err != nil {
					return nil, "", err
				}
				more = len(recs) > 0
			}
			if more {
				next = page[len(page)-1].ID
			}
			return page, next, nil
		}
	}
	// One record more than needed tells whether another page follows.
	// Stored clients shadowed by static ones are skipped, so the store is
	// read again past them until the page is full or the store exhausted;
	// there are never more of them than static clients.
	cursor := storeAfter
	for {
		want := limit - len(page) + 1
		recs, err := r.store.ListClients(ctx, cursor, want)
		if err != nil {
			return nil, "", err
		}
		for i := range recs {
			if r.IsStatic(recs[i].ID) {
				continue
			}
			if len(page) == limit {
				return page, page[limit-1].ID, nil
			}
			page = append(page, infoOf(&recs[i]))
		}
		if len(recs) < want {
			return page, "", nil
		}
		cursor = recs[len(recs)-1].ID
	}
}

// Create stores a new client from the admin API. Confidential clients get
// a generated secret, returned here and never again.
func (r *Registry) Create(ctx context.Context, md Metadata) (Info, string, error) {
	if md.Name == "" {
		return Info{}, "", metadataErr("client_name", "is required")
	}
	rec, secret, err := r.create(ctx, md, "")
	if err != nil {
		return Info{}, "", err
	}
	return infoOf(&rec), secret, nil
}

// create validates md and stores it under a new id. A non-empty
// regTokenHash makes it a dynamically registered client.
func (r *Registry) create(ctx context.Context, md Metadata, regTokenHash string) (store.Client, string, error) {
	md.normalize()
	if err := md.Validate(r.scopes); err != nil {
		return store.Client{}, "", err
	}
	if err := checkIDTokenAlg(&md, r.idTokenAlgs); err != nil {
		return store.Client{}, "", err
	}
	now := r.stamp()
	rec := store.Client{CreatedAt: now, UpdatedAt: now, Dynamic: regTokenHash != "", RegistrationAccessTokenHash: regTokenHash}
	setMetadata(&rec, md)
	var secret string
	if !md.Type.Public() && md.TokenEndpointAuthMethod != AuthMethodPrivateKeyJWT {
		var hash string
		secret, hash = newSecret()
		rec.SecretHashes = []string{hash}
	}
	// 128 random bits collide with nothing; the retries only make that
	// explicit, and keep the ids of static clients reserved.
	for range 3 {
		rec.ID = clientIDPrefix + randomText(16)
		if r.IsStatic(rec.ID) {
			continue
		}
		// The same checks a lookup runs, before anything is stored. A
		// failure is the server's fault, not the request's: %v keeps it
		// from reading as a *MetadataError.
		if _, err := r.toClient(&rec); err != nil {
			return store.Client{}, "", fmt.Errorf("new client fails its own validation: %v", err)
		}
		err := r.store.CreateClient(ctx, rec)
		if errors.Is(err, store.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return store.Client{}, "", err
		}
		rec.Revision = 1
		r.forget(rec.ID)
		return rec, secret, nil
	}
	return store.Client{}, "", errors.New("could not find a free client id")
}

// Update changes a stored client: edit receives its current metadata and
// changes it in place. The result is validated as a whole; nothing is
// stored when edit or validation fails. Public clients cannot become
// confidential or the reverse, since that would need a secret to appear
// or vanish. Concurrent changes are retried on fresh data.
func (r *Registry) Update(ctx context.Context, id string, edit func(*Metadata) error) (Info, error) {
	rec, err := r.modify(ctx, id, func(rec *store.Client) error {
		md := metadataOf(rec)
		if err := edit(&md); err != nil {
			return err
		}
		if md.Name == "" {
			return metadataErr("client_name", "is required")
		}
		if md.Type.Valid() && md.Type.Public() != Type(rec.Type).Public() {
			return metadataErr("type", "cannot change between a public and a confidential type; create a new client instead")
		}
		md.normalize()
		if (md.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT) != (rec.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT) && !Type(rec.Type).Public() {
			return metadataErr("token_endpoint_auth_method", "cannot change between private_key_jwt and a client secret; create a new client instead")
		}
		if err := md.Validate(r.scopes); err != nil {
			return err
		}
		if err := checkIDTokenAlg(&md, r.idTokenAlgs); err != nil {
			return err
		}
		setMetadata(rec, md)
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	return infoOf(&rec), nil
}

// Delete deletes a stored client; its grants are revoked and its consents
// removed at the same time, so none of its tokens works after.
func (r *Registry) Delete(ctx context.Context, id string) error {
	if r.IsStatic(id) {
		return ErrStatic
	}
	err := r.store.DeleteClient(ctx, id, r.now())
	r.forget(id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknown
	}
	return err
}

// StartSecretRotation issues a new secret for a confidential client and
// returns it (once). Until the rotation is completed or cancelled both
// the old and the new secret are accepted, so the app can be redeployed
// with the new one without downtime.
func (r *Registry) StartSecretRotation(ctx context.Context, id string) (Info, string, error) {
	var secret string
	rec, err := r.modify(ctx, id, func(rec *store.Client) error {
		switch {
		case Type(rec.Type).Public(), rec.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT:
			return ErrNoSecret
		case rec.PendingSecretHash != "":
			return ErrRotationInProgress
		}
		var hash string
		secret, hash = newSecret()
		rec.PendingSecretHash = hash
		return nil
	})
	if err != nil {
		return Info{}, "", err
	}
	return infoOf(&rec), secret, nil
}

// CompleteSecretRotation makes the new secret the only one: the old
// secret stops working at once.
func (r *Registry) CompleteSecretRotation(ctx context.Context, id string) (Info, error) {
	rec, err := r.modify(ctx, id, func(rec *store.Client) error {
		if err := rotationInProgress(rec); err != nil {
			return err
		}
		rec.SecretHashes = []string{rec.PendingSecretHash}
		rec.PendingSecretHash = ""
		return nil
	})
	return infoOf(&rec), err
}

// CancelSecretRotation discards the new secret; the old one stays.
func (r *Registry) CancelSecretRotation(ctx context.Context, id string) (Info, error) {
	rec, err := r.modify(ctx, id, func(rec *store.Client) error {
		if err := rotationInProgress(rec); err != nil {
			return err
		}
		rec.PendingSecretHash = ""
		return nil
	})
	return infoOf(&rec), err
}

func rotationInProgress(rec *store.Client) error {
	switch {
	case Type(rec.Type).Public():
		return ErrNoSecret
	case rec.PendingSecretHash == "":
		return ErrNoRotation
	}
	return nil
}

// modify is the read-modify-write of every change to a stored client:
// edit changes a fresh copy, and the store applies it only if nobody
// changed the client meanwhile; otherwise it starts over on the newer
// record. Nothing is written when edit fails.
func (r *Registry) modify(ctx context.Context, id string, edit func(*store.Client) error) (store.Client, error) {
	if r.IsStatic(id) {
		return store.Client{}, ErrStatic
	}
	defer r.forget(id)
	for range maxUpdateAttempts {
		rec, err := r.store.GetClient(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return store.Client{}, ErrUnknown
		} else if err != nil {
			return store.Client{}, err
		}
		if err := edit(&rec); err != nil {
			return store.Client{}, err
		}
		rec.UpdatedAt = r.stamp()
		if _, err := r.toClient(&rec); err != nil {
			return store.Client{}, fmt.Errorf("changed client fails its own validation: %v", err)
		}
		err = r.store.UpdateClient(ctx, rec)
		switch {
		case err == nil:
			rec.Revision++
			return rec, nil
		case errors.Is(err, store.ErrConflict):
			continue
		case errors.Is(err, store.ErrNotFound):
			return store.Client{}, ErrUnknown
		default:
			return store.Client{}, err
		}
	}
	return store.Client{}, ErrBusy
}

// Interface guards
var _ Source = (*Registry)(nil)
