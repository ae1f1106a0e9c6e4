// Package tokens hands out a valid access token for an identity: from an LRU
// of decrypted connections, from the store on a miss, and through one
// refresh per connection — across every instance sharing the store — when
// the token is about to expire. A refreshed pair is persisted before anyone
// is given the new access token, because the provider has already burnt the
// old refresh token (see refresh.go for the protocol).
package tokens

import (
	"context"
	"errors"
	"sync"
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

// Result is the outcome of a refresh, as reported to the Observer (the
// result label of the refresh metrics).
type Result string

// Refresh results.
const (
	ResultOK           Result = "ok"            // the provider issued a new pair and it is stored
	ResultPeer         Result = "peer"          // another request or instance had already refreshed
	ResultRecovered    Result = "recovered"     // a refresh that died mid-way was completed
	ResultInvalidGrant Result = "invalid_grant" // refresh token dead: needs_reauth
	ResultTransient    Result = "transient"     // timeout, 5xx, 429 past the retry budget: old pair kept
	ResultError        Result = "error"         // other provider error: old pair kept
	ResultStoreError   Result = "store_error"   // the store failed; a new pair is held in memory
)

// Observer receives refresh outcomes (metrics). took is the token-endpoint
// time, zero when it was not called.
type Observer interface {
	Refreshed(result Result, took time.Duration)
}

// Store is what the manager needs of the token store: the connections and
// their change feed, and entries for the durable retries of revocations
// (revoke.go). Any tokenstore.Store has it.
type Store interface {
	tokenstore.ConnectionStore
	tokenstore.ChangeFeed
	PutEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) error
	GetEntry(ctx context.Context, kind, id string) ([]byte, error)
	DeleteEntry(ctx context.Context, kind, id string) error
	ListEntries(ctx context.Context, kind string, limit int) ([][]byte, error)
}

// DefaultSkew is how long before expiry a token is refreshed by default.
const DefaultSkew = 5 * time.Minute

// Config configures a Manager.
type Config struct {
	Provider       *provider.Client
	Store          Store
	CacheSize      int           // connections kept decrypted in memory; default 10000
	Skew           time.Duration // refresh this long before expiry; default 5m
	RefreshTimeout time.Duration // one refresh, lock wait and retries included; default 60s
	// RetryBudget bounds the retries of a token-endpoint call that failed
	// transiently (no answer, timeout, 429, 5xx); each retry re-sends the
	// identical request, which Fitbit's grace window answers with the same
	// pair if the first one was processed. Default 20s.
	RetryBudget time.Duration
	// Recover enables the provider's refresh-token recovery endpoint when a
	// refresh token is refused after a rotation may have been lost.
	Recover bool
	// RevokeAttempts and RevokeWindow bound the revocation of a
	// disconnected connection whose provider failed transiently: at most
	// this many attempts (default 10), within this long of the first
	// (default 24h), then it is given up and logged. See revoke.go.
	RevokeAttempts int
	RevokeWindow   time.Duration
	// Instance names this process in write-ahead markers (diagnostics).
	Instance string
	Logger   *zap.Logger
	Observer Observer
	// Now is the clock of the connections: expiries, refresh markers,
	// revocation schedules, cache ages. Durations of real waits (the retry
	// budget, token-endpoint latency, the change feed's staleness) are
	// measured on the wall clock, beside the timers they wait with.
	// Default time.Now.
	Now func() time.Time
	// Context bounds background work (persisting held pairs); default
	// context.Background().
	Context context.Context
	// MaxAge: a cached connection older than this is compared with the
	// store in the background (the request goes on with it), in case the
	// change feed missed a change of it (see changes.go). Default
	// DefaultMaxAge.
	MaxAge time.Duration
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
	watcher  atomic.Pointer[Watcher]
	// skewWarned: the warning that the tokens live no longer than the skew
	// has been given (lifetime.go).
	skewWarned sync.Once
}

// Entry is an immutable snapshot of a connection as the proxy uses it.
type Entry = entry

type entry struct {
	rec     *tokenstore.Record // never mutated once cached
	auth    string             // "Bearer <access token>", built once
	unsaved bool               // refreshed, but the store refused the write
	at      int64              // unix nanoseconds when it was last known to match the store (set by the cache)
	// revalidating is set while the entry, older than MaxAge, is compared
	// with the store.
	revalidating atomic.Bool
}

// Record is the connection behind the entry, slimmed to what proxying
// needs (tokens, expiry, status, user) unless the pair is unsaved. Callers
// must not modify it.
func (e *entry) Record() *tokenstore.Record { return e.rec }

// Authorization is the value of the Authorization header to send.
func (e *entry) Authorization() string { return e.auth }

// AccessToken is the token inside Authorization.
func (e *entry) AccessToken() string { return e.rec.AccessToken }

// newEntry makes the cache entry of rec. A saved record is cached slim —
// what the hot path and the refresh checks read, the access token sharing
// the Authorization value's bytes — since 100,000 cached identities make the
// garbage collector scan every pointer of them. An unsaved pair is kept
// whole: it is written to the store from here.
func newEntry(rec *tokenstore.Record, unsaved bool) *Entry {
	auth := "Bearer " + rec.AccessToken
	if !unsaved {
		rec = &tokenstore.Record{
			Provider:     rec.Provider,
			UserID:       rec.UserID,
			AccessToken:  auth[len("Bearer "):],
			RefreshToken: rec.RefreshToken,
			Expiry:       rec.Expiry,
			Status:       rec.Status,
			Version:      rec.Version,
		}
	}
	return &entry{rec: rec, auth: auth, unsaved: unsaved}
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.RefreshTimeout <= 0 {
		cfg.RefreshTimeout = 60 * time.Second
	}
	if cfg.RetryBudget <= 0 {
		cfg.RetryBudget = 20 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	m := &Manager{cfg: cfg, name: cfg.Provider.Reg.Name, cache: newCache(cfg.CacheSize, cfg.Now)}
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

func (m *Manager) key(identity string) tokenstore.Key { return tokenstore.KeyOf(m.name, identity) }

// Get returns a connection whose access token is valid for at least the
// configured skew, refreshing it if needed. Errors: ErrNotConnected,
// ErrNeedsReauth, *StoreError, or a *provider.TokenError from the refresh.
//
// With the connection cached and fresh — the hot path — it takes no lock
// shared with other identities and reads no storage.
func (m *Manager) Get(ctx context.Context, identity string) (*Entry, error) {
	now := m.cfg.Now()
	e := m.cache.get(identity, now)
	if e == nil {
		var err error
		if e, err = m.load(ctx, identity, now); err != nil {
			return nil, err
		}
	} else if now.UnixNano()-e.at > int64(m.cfg.MaxAge) && !e.unsaved {
		m.revalidate(identity, e, now)
	}
	switch {
	case e.rec.Status == tokenstore.StatusNeedsReauth:
		return e, ErrNeedsReauth
	case e.unsaved || !now.Add(m.cfg.Skew).Before(e.rec.Expiry):
		return m.Refresh(ctx, identity, e)
	}
	return e, nil
}

func (m *Manager) fresh(rec *tokenstore.Record) bool {
	return m.cfg.Now().Add(m.cfg.Skew).Before(rec.Expiry)
}

// load reads a connection from the store into the cache; concurrent misses
// for one identity share one read, and one record of the use (lastused.go).
func (m *Manager) load(ctx context.Context, identity string, now time.Time) (*Entry, error) {
	if identity == "" {
		return nil, ErrNotConnected
	}
	v, err, _ := m.flight.Do("load\x00"+identity, func() (any, error) {
		// The slot exists before the store is read, so that a change of the
		// connection published meanwhile finds it and voids this read.
		s := m.cache.slot(identity)
		gen := s.gen.Load()
		key := m.key(identity)
		rec, err := m.cfg.Store.LoadConnection(ctx, key)
		if err != nil {
			m.cache.removeEmpty(identity, s)
			return nil, m.storeErr(key, err)
		}
		e := m.cache.fill(s, gen, newEntry(rec, false))
		m.touch(ctx, identity, now)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Entry), nil
}

// storeErr maps a failed read of key's connection: ErrNotConnected, an
// error matching tokenstore.ErrUnreadable (logged here, once per read, with
// its cause: retrying cannot help, and callers answer it as such), or a
// *StoreError.
func (m *Manager) storeErr(key tokenstore.Key, err error) error {
	switch {
	case errors.Is(err, tokenstore.ErrNotFound):
		return ErrNotConnected
	case errors.Is(err, tokenstore.ErrUnreadable):
		m.log.Load().Error("the stored connection cannot be read; the user must connect again (which replaces it) or disconnect (which deletes it)",
			zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash), zap.Error(err))
		return err
	}
	return &StoreError{Err: err}
}

// Connect stores a new connection from the connect flow, replacing any
// existing one of the identity, and caches it. It holds the connection's
// lock, so it cannot interleave with a refresh on any instance.
//
// A stored record that cannot be read is replaced: the fresh consent is the
// user's way out of it, and whatever refresh token it held is superseded by
// this consent's code exchange. A pending revocation of the same provider
// user is cancelled first, as it would revoke the new grant; the previous
// grant of another provider account is revoked in the background (see
// revoke.go).
func (m *Manager) Connect(ctx context.Context, identity string, rec *tokenstore.Record) error {
	key := m.key(identity)
	rec.Provider, rec.IdentityHash = key.Provider, key.IdentityHash
	lock, err := m.cfg.Store.LockConnection(ctx, key)
	if err != nil {
		return &StoreError{Err: err}
	}
	defer lock.Unlock(ctx)
	rec.Version = 0
	var from tokenstore.Status // for the watcher
	cur, err := m.cfg.Store.LoadConnection(ctx, key)
	switch {
	case err == nil:
		rec.Version, from = cur.Version, cur.Status
	case errors.Is(err, tokenstore.ErrNotFound):
	case errors.Is(err, tokenstore.ErrUnreadable):
		from = Unreadable
		// Its version cannot be read to compare-and-set over it: delete it
		// (under the lock) and create the connection anew.
		m.log.Load().Warn("replacing a stored connection that cannot be read with the new consent; its tokens cannot be revoked",
			zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash), zap.Error(err))
		if err := m.cfg.Store.DeleteConnection(ctx, key); err != nil {
			return &StoreError{Err: err}
		}
	default:
		return &StoreError{Err: err}
	}
	if err := m.cancelRevoke(ctx, rec); err != nil {
		return &StoreError{Err: err}
	}
	if err := m.cfg.Store.SaveConnection(ctx, rec); err != nil {
		return &StoreError{Err: err}
	}
	m.cache.put(identity, newEntry(rec, false))
	m.checkLifetime(rec.Expiry)
	m.revokeReplaced(ctx, cur, rec)
	m.publish(ctx, key)
	m.changed(ctx, key.IdentityHash, rec.UserID, from, rec.Status)
	return nil
}

// Lookup reads the stored connection without refreshing (for status pages).
func (m *Manager) Lookup(ctx context.Context, identity string) (*tokenstore.Record, error) {
	if e := m.cache.get(identity, m.cfg.Now()); e != nil && e.unsaved {
		return e.rec, nil
	}
	key := m.key(identity)
	rec, err := m.cfg.Store.LoadConnection(ctx, key)
	if err != nil {
		return nil, m.storeErr(key, err)
	}
	return rec, nil
}

// Disconnect deletes identity's connection and revokes it at the provider.
// The deletion happens whatever the provider answers (gone, refusing, down)
// and even if ctx is cancelled once the lock is held; the Disconnection says
// separately whether the provider revoked the tokens. A revocation that
// failed transiently is queued for the background sweep before the record
// goes. An unreadable record is deleted, unrevoked. It is idempotent: no
// connection is not an error. Errors: *StoreError (nothing was deleted).
func (m *Manager) Disconnect(ctx context.Context, identity string) (Disconnection, error) {
	return m.disconnect(ctx, m.key(identity), identity)
}

// disconnect is Disconnect of key, whose identity is "" when unknown (an
// operator's disconnect by hash of a connection not cached here: the
// change it publishes evicts it wherever it is cached).
func (m *Manager) disconnect(ctx context.Context, key tokenstore.Key, identity string) (Disconnection, error) {
	lock, err := m.cfg.Store.LockConnection(ctx, key)
	if err != nil {
		return Disconnection{}, &StoreError{Err: err}
	}
	ctx = context.WithoutCancel(ctx) // from here a disconnect runs to its end; the provider client has its timeout
	defer lock.Unlock(ctx)
	log := m.log.Load().With(zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash))
	var d Disconnection
	from, userID := Unreadable, ""
	rec, err := m.cfg.Store.LoadConnection(ctx, key)
	switch {
	case errors.Is(err, tokenstore.ErrNotFound):
		m.uncache(identity)
		m.publish(ctx, key) // a peer may still cache it, if an earlier publication was lost
		return d, nil
	case errors.Is(err, tokenstore.ErrUnreadable):
		log.Warn("deleting a stored connection that cannot be read; its tokens cannot be revoked", zap.Error(err))
		d.Reason, d.Message = RevokeUnreadable, "the stored connection could not be read, so there was no token to revoke at "+m.cfg.Provider.Reg.Title()
	case err != nil:
		return d, &StoreError{Err: err}
	default:
		from, userID = rec.Status, rec.UserID
		log = log.With(zap.String("user_id", rec.UserID))
		d.Revoked = true
		if d.Reason, d.Message = m.revokeOutcome(m.cfg.Provider.Revoke(ctx, revokeToken(rec))); d.Reason != "" {
			d.Revoked = false
		}
		if d.Reason == RevokeUnavailable {
			now := m.cfg.Now()
			p := &pendingRevoke{Provider: m.name, UserID: rec.UserID, IdentityHash: rec.IdentityHash, Token: revokeToken(rec),
				Cause: causeDisconnect, Since: now, NextAt: now, Attempts: 1, LastError: d.Message}
			if err := m.queueRevoke(ctx, p); err != nil {
				log.Error("could not queue the retry of a failed revocation; deleting the connection all the same", zap.Error(err))
			} else {
				d.RetryQueued = true
			}
		}
	}
	d.Existed, d.UserID = true, userID
	if err := m.cfg.Store.DeleteConnection(ctx, key); err != nil {
		return Disconnection{}, &StoreError{Err: err}
	}
	m.uncache(identity)
	m.publish(ctx, key)
	log.Info("disconnected", zap.Bool("revoked", d.Revoked), zap.String("reason", string(d.Reason)), zap.String("detail", d.Message), zap.Bool("retry_queued", d.RetryQueued))
	m.changed(ctx, key.IdentityHash, userID, from, "")
	return d, nil
}

// Cached reports how many connections are held in memory.
func (m *Manager) Cached() int { return m.cache.len() }

// Peek returns identity's connection if it is held in memory, nil if not:
// no storage read, no refresh, whatever its age or expiry. It is for
// facts about the connection (whose account it is), not for its token.
func (m *Manager) Peek(identity string) *Entry { return m.cache.get(identity, m.cfg.Now()) }

func (m *Manager) observe(result Result, took time.Duration) {
	if o := *m.observer.Load(); o != nil {
		o.Refreshed(result, took)
	}
}
