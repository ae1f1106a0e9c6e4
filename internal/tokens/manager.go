// Package tokens hands out a valid access token for an identity: from an LRU
// of decrypted connections, from the store on a miss, and through one
// refresh per connection when the token is about to expire. A refreshed pair
// is persisted before anyone is given the new access token, because Fitbit
// has already burnt the old refresh token.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

var (
	// ErrNotConnected: the identity has no connection with the provider.
	ErrNotConnected = errors.New("not connected")
	// ErrNeedsReauth: the provider refused the refresh token; the user must
	// connect again.
	ErrNeedsReauth = errors.New("the provider no longer accepts this connection's refresh token: connect again")
)

// StoreError wraps a failure of the token store: the request cannot be
// served now, but nothing was lost.
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return "token store: " + e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }

// Refresh outcomes, as reported to the Observer.
const (
	ResultOK           = "ok"            // the provider issued a new pair and it is stored
	ResultPeer         = "peer"          // another request or instance had already refreshed
	ResultInvalidGrant = "invalid_grant" // refresh token dead: needs_reauth
	ResultTransient    = "transient"     // timeout, 5xx, 429: old pair kept
	ResultError        = "error"         // other provider error: old pair kept
	ResultStoreError   = "store_error"   // new pair held in memory, not yet stored
)

// Observer receives refresh outcomes (metrics). took is the token-endpoint
// round trip, zero when it was not called.
type Observer interface {
	Refreshed(result string, took time.Duration)
}

// Config configures a Manager.
type Config struct {
	Provider       *provider.Client
	Store          tokenstore.Store
	CacheSize      int           // connections kept decrypted in memory; default 10000
	Skew           time.Duration // refresh this long before expiry; default 5m
	RefreshTimeout time.Duration // one refresh, all attempts; default 30s
	Logger         *zap.Logger
	Observer       Observer
	Now            func() time.Time
}

// Manager is safe for concurrent use. One Manager serves one provider
// registration.
type Manager struct {
	cfg      Config
	name     string
	cache    *cache
	flight   singleflight.Group
	log      atomic.Pointer[zap.Logger]
	observer atomic.Pointer[Observer]
}

// Entry is an immutable snapshot of a connection as the proxy uses it.
type Entry = entry

type entry struct {
	rec     *tokenstore.Record // never mutated once cached
	auth    string             // "Bearer <access token>", built once
	unsaved bool               // refreshed, but the store refused the write
}

// Record is the connection behind the entry. Callers must not modify it.
func (e *entry) Record() *tokenstore.Record { return e.rec }

// Authorization is the value of the Authorization header to send.
func (e *entry) Authorization() string { return e.auth }

// AccessToken is the token inside Authorization.
func (e *entry) AccessToken() string { return e.rec.AccessToken }

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.Skew <= 0 {
		cfg.Skew = 5 * time.Minute
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{cfg: cfg, name: cfg.Provider.Reg.Name, cache: newCache(cfg.CacheSize)}
	m.SetLogger(cfg.Logger)
	m.SetObserver(cfg.Observer)
	return m
}

// SetLogger replaces the logger; a Manager outlives the config (and logger)
// that made it.
func (m *Manager) SetLogger(l *zap.Logger) {
	if l == nil {
		l = zap.NewNop()
	}
	m.log.Store(l)
}

// SetObserver replaces the refresh observer (nil for none).
func (m *Manager) SetObserver(o Observer) { m.observer.Store(&o) }

// Provider is the registration this manager serves.
func (m *Manager) Provider() *provider.Client { return m.cfg.Provider }

// Get returns a connection whose access token is valid for at least the
// configured skew, refreshing it if needed. Errors: ErrNotConnected,
// ErrNeedsReauth, *StoreError, or a *provider.TokenError from the refresh.
func (m *Manager) Get(ctx context.Context, identity string) (*Entry, error) {
	e := m.cache.get(identity)
	if e == nil {
		var err error
		if e, err = m.load(ctx, identity); err != nil {
			return nil, err
		}
	}
	switch {
	case e.rec.Status == tokenstore.StatusNeedsReauth:
		return e, ErrNeedsReauth
	case e.unsaved || !m.fresh(e.rec):
		return m.Refresh(ctx, identity, e.rec.AccessToken)
	}
	return e, nil
}

func (m *Manager) fresh(rec *tokenstore.Record) bool {
	return m.cfg.Now().Add(m.cfg.Skew).Before(rec.Expiry)
}

// load reads a connection from the store into the cache; concurrent misses
// for one identity share one read.
func (m *Manager) load(ctx context.Context, identity string) (*Entry, error) {
	v, err, _ := m.flight.Do("load\x00"+identity, func() (any, error) {
		rec, err := m.cfg.Store.LoadConnection(ctx, m.name, identity)
		if err != nil {
			return nil, m.storeErr(err)
		}
		return m.cache.putIfAbsent(identity, newEntry(rec, false)), nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Entry), nil
}

func (m *Manager) storeErr(err error) error {
	if errors.Is(err, tokenstore.ErrNotFound) {
		return ErrNotConnected
	}
	return &StoreError{Err: err}
}

func newEntry(rec *tokenstore.Record, unsaved bool) *Entry {
	return &entry{rec: rec, auth: "Bearer " + rec.AccessToken, unsaved: unsaved}
}

// Refresh makes sure the connection's access token is no longer stale (the
// one the caller holds, or saw rejected), sharing one refresh among all
// concurrent callers of one identity. The refresh runs to its end even if
// every caller gives up: abandoning it after the provider rotated the pair
// would lose the refresh token.
func (m *Manager) Refresh(ctx context.Context, identity, stale string) (*Entry, error) {
	ch := m.flight.DoChan("refresh\x00"+identity, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.RefreshTimeout)
		defer cancel()
		return m.refresh(rctx, identity, stale)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			e, _ := r.Val.(*Entry)
			return e, r.Err
		}
		return r.Val.(*Entry), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *Manager) refresh(ctx context.Context, identity, stale string) (*Entry, error) {
	// A pair refreshed earlier whose write failed lives only here: store it
	// before anything else, and never refresh over it.
	if e := m.cache.get(identity); e != nil && e.unsaved {
		if err := m.cfg.Store.SaveConnection(ctx, e.rec); err != nil {
			m.observe(ResultStoreError, 0)
			return nil, &StoreError{Err: err}
		}
		e = newEntry(e.rec, false)
		m.cache.put(identity, e)
		if m.fresh(e.rec) {
			return e, nil
		}
	}

	// Re-read: another request or instance may have refreshed already.
	rec, err := m.cfg.Store.LoadConnection(ctx, m.name, identity)
	if err != nil {
		if errors.Is(err, tokenstore.ErrNotFound) {
			m.cache.remove(identity)
		}
		return nil, m.storeErr(err)
	}
	if rec.Status == tokenstore.StatusNeedsReauth {
		e := newEntry(rec, false)
		m.cache.put(identity, e)
		return e, ErrNeedsReauth
	}
	if rec.AccessToken != stale && m.fresh(rec) {
		e := newEntry(rec, false)
		m.cache.put(identity, e)
		m.observe(ResultPeer, 0)
		return e, nil
	}

	log := m.log.Load().With(zap.String("provider", m.name), zap.String("identity_hash", rec.IdentityHash), zap.String("user_id", rec.UserID))
	start := m.cfg.Now()
	grant, err := m.cfg.Provider.Refresh(ctx, rec.RefreshToken)
	took := m.cfg.Now().Sub(start)
	if err != nil {
		if provider.IsInvalidGrant(err) {
			// The connection may have changed while the request was out (the
			// user reconnected, superseding this refresh token, or a peer
			// refreshed): never overwrite a newer pair with the dead one.
			if cur, lerr := m.cfg.Store.LoadConnection(ctx, m.name, identity); lerr == nil && cur.RefreshToken != rec.RefreshToken {
				e := newEntry(cur, false)
				m.cache.put(identity, e)
				if cur.Status == tokenstore.StatusNeedsReauth {
					return e, ErrNeedsReauth
				}
				m.observe(ResultPeer, took)
				return e, nil
			}
			m.observe(ResultInvalidGrant, took)
			log.Warn("refresh token rejected; connection needs reauthorization", zap.Error(err))
			dead := rec.Clone()
			dead.Status = tokenstore.StatusNeedsReauth
			if serr := m.cfg.Store.SaveConnection(ctx, dead); serr != nil {
				log.Error("could not mark connection needs_reauth", zap.Error(serr))
			}
			e := newEntry(dead, false)
			m.cache.put(identity, e)
			return e, ErrNeedsReauth
		}
		result := ResultError
		if provider.IsTransient(err) {
			result = ResultTransient
		}
		m.observe(result, took)
		log.Error("refresh failed; keeping the current pair", zap.Error(err))
		return nil, err
	}

	next := rec.Clone()
	next.AccessToken, next.RefreshToken, next.Expiry = grant.AccessToken, grant.RefreshToken, grant.Expiry
	if grant.TokenType != "" {
		next.TokenType = grant.TokenType
	}
	if len(grant.Scopes) > 0 {
		next.Scopes = grant.Scopes
	}
	if grant.UserID != "" {
		next.UserID = grant.UserID
	}
	next.RefreshedAt = m.cfg.Now()
	next.Status = tokenstore.StatusOK
	if err := m.save(ctx, next); err != nil {
		// The provider has rotated the pair: the old refresh token is dead and
		// the new one exists only here. Keep it, refuse to use it until stored.
		m.cache.put(identity, newEntry(next, true))
		m.observe(ResultStoreError, took)
		log.Error("refreshed pair could not be stored; holding it in memory and retrying on next use", zap.Error(err))
		return nil, &StoreError{Err: err}
	}
	e := newEntry(next, false)
	m.cache.put(identity, e)
	m.observe(ResultOK, took)
	log.Info("refreshed access token", zap.Time("expiry", next.Expiry))
	return e, nil
}

// save writes rec, retrying briefly: the pair it holds cannot be fetched again.
func (m *Manager) save(ctx context.Context, rec *tokenstore.Record) error {
	var err error
	backoff := 50 * time.Millisecond
	for attempt := 0; attempt < 5; attempt++ {
		if err = m.cfg.Store.SaveConnection(ctx, rec); err == nil {
			return nil
		}
		select {
		case <-time.After(backoff):
			backoff *= 2
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d attempts: %v)", ctx.Err(), attempt+1, err)
		}
	}
	return err
}

// Save stores a new connection (from the connect flow) and caches it.
func (m *Manager) Save(ctx context.Context, identity string, rec *tokenstore.Record) error {
	if err := m.cfg.Store.SaveConnection(ctx, rec); err != nil {
		return &StoreError{Err: err}
	}
	m.cache.put(identity, newEntry(rec, false))
	return nil
}

// Lookup reads the stored connection without refreshing (for status pages).
func (m *Manager) Lookup(ctx context.Context, identity string) (*tokenstore.Record, error) {
	if e := m.cache.get(identity); e != nil && e.unsaved {
		return e.rec, nil
	}
	rec, err := m.cfg.Store.LoadConnection(ctx, m.name, identity)
	if err != nil {
		return nil, m.storeErr(err)
	}
	return rec, nil
}

// Disconnect revokes the connection at the provider and deletes it. It is
// idempotent: no connection is not an error.
func (m *Manager) Disconnect(ctx context.Context, identity string) (existed bool, err error) {
	rec, err := m.cfg.Store.LoadConnection(ctx, m.name, identity)
	if errors.Is(err, tokenstore.ErrNotFound) {
		m.cache.remove(identity)
		return false, nil
	}
	if err != nil {
		return false, &StoreError{Err: err}
	}
	token := rec.RefreshToken
	if token == "" {
		token = rec.AccessToken
	}
	if err := m.cfg.Provider.Revoke(ctx, token); err != nil {
		return true, err
	}
	if err := m.cfg.Store.DeleteConnection(ctx, m.name, identity); err != nil {
		return true, &StoreError{Err: err}
	}
	m.cache.remove(identity)
	m.log.Load().Info("disconnected", zap.String("provider", m.name), zap.String("identity_hash", rec.IdentityHash), zap.String("user_id", rec.UserID))
	return true, nil
}

// Cached reports how many connections are held in memory.
func (m *Manager) Cached() int { return m.cache.len() }

func (m *Manager) observe(result string, took time.Duration) {
	if o := *m.observer.Load(); o != nil {
		o.Refreshed(result, took)
	}
}
