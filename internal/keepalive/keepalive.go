// Package keepalive keeps idle connections alive and clears out dead ones,
// in the background, once across every instance sharing a store.
//
// A provider may expire a refresh token that goes unused: Google does after
// six months (https://developers.google.com/identity/protocols/oauth2#expiration),
// and then the user must consent again. A connection that serves requests
// is refreshed whenever its access token runs out, so its refresh token is
// used at least that often; one that serves none is refreshed by nobody. A
// pass refreshes each connection whose refresh token was last used (its
// last refresh, else its connection: tokens.LastActive) longer ago than
// Idle, through the token manager's refresh protocol (tokens.Manager's
// KeepAlive: the connection's lock, the record read again, write-ahead,
// persisted before use), never a second path that redeems a refresh token.
//
// The measure of idleness is the last refresh, not the last request, on
// purpose: it is what the provider counts, and it is already stored, so the
// request path writes nothing to keep it.
//
// A pass also deletes connections that need re-authorization (the provider
// refused their refresh token) whose last refresh is older than PurgeAfter,
// when set: their tokens are dead, and the user has been told to connect
// again for that long.
//
// Cluster safety: each pass is taken by one instance, the one that adds the
// pass's lease entry (tokenstore.Entries.AddEntry: exactly one concurrent
// caller adds); and each connection is judged again under its lock, so an
// instance whose lease ran out mid-pass refreshes nothing twice.
package keepalive

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Store is what a pass needs of the token store.
type Store interface {
	ListConnections(ctx context.Context, q tokenstore.ListQuery) ([]tokenstore.Key, string, error)
	LoadConnection(ctx context.Context, key tokenstore.Key) (*tokenstore.Record, error)
	LockConnection(ctx context.Context, key tokenstore.Key) (tokenstore.Lock, error)
	DeleteConnection(ctx context.Context, key tokenstore.Key) error
	PublishChange(ctx context.Context, key tokenstore.Key) error
	AddEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) (bool, error)
}

// Refresher is the token manager of one provider registration.
type Refresher interface {
	KeepAlive(ctx context.Context, idHash string, idleSince time.Time) (*tokenstore.Record, error)
}

var _ Refresher = (*tokens.Manager)(nil)

// Keeper runs the passes.
type Keeper struct {
	Store Store
	// Managers are the token managers by provider registration name; a
	// connection of a provider not here is left alone.
	Managers map[string]Refresher
	// Idle: refresh connections whose refresh token was last used longer
	// ago than this; 0 refreshes none.
	Idle time.Duration
	// PurgeAfter: delete connections needing re-authorization whose last
	// refresh is older than this; 0 deletes none.
	PurgeAfter time.Duration
	Now        func() time.Time
	Log        *zap.Logger
}

// Result is what one pass did.
type Result struct {
	// Seen counts the connections looked at. KeptAlive counts idle ones
	// refreshed: by this pass, or by a peer that got the lock first.
	// Purged counts the deleted ones, Failed those whose refresh or
	// deletion failed (a refused refresh token marks the connection
	// needs_reauth, as any refresh does).
	Seen, KeptAlive, Purged, Failed int
}

// leaseKind is the entry kind of the passes' lease.
const leaseKind = "keepalive"

// Run makes a pass every interval (the first after one interval), when
// this instance takes the interval's lease, until ctx is done.
func (k *Keeper) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			won, err := k.Store.AddEntry(ctx, leaseKind, "lease", nil, k.now().Add(interval))
			if err != nil || !won {
				continue
			}
			res, err := k.Pass(ctx)
			k.log().Info("keep-alive pass", zap.Int("seen", res.Seen), zap.Int("kept_alive", res.KeptAlive),
				zap.Int("purged", res.Purged), zap.Int("failed", res.Failed), zap.Error(err))
		}
	}
}

// Pass walks every connection once.
func (k *Keeper) Pass(ctx context.Context) (Result, error) {
	var res Result
	if k.Idle <= 0 && k.PurgeAfter <= 0 {
		return res, nil
	}
	q := tokenstore.ListQuery{Limit: tokenstore.MaxListLimit}
	for {
		keys, next, err := k.Store.ListConnections(ctx, q)
		if err != nil {
			return res, err
		}
		for _, key := range keys {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			res.Seen++
			k.one(ctx, key, &res)
		}
		if next == "" {
			return res, nil
		}
		q.After = next
	}
}

// one looks at one connection. The look without the lock only picks
// candidates; the refresh protocol (or purge, under the lock) decides.
func (k *Keeper) one(ctx context.Context, key tokenstore.Key, res *Result) {
	m := k.Managers[key.Provider]
	if m == nil {
		return
	}
	rec, err := k.Store.LoadConnection(ctx, key)
	if err != nil {
		return // gone, or unreadable (reported by check), or the store failed
	}
	now := k.now()
	switch {
	case rec.Status == tokenstore.StatusNeedsReauth:
		if k.PurgeAfter > 0 && now.Sub(tokens.LastActive(rec)) > k.PurgeAfter {
			switch purged, err := k.purge(ctx, key, now); {
			case err != nil:
				res.Failed++
				k.log().Warn("keep-alive: could not purge a connection needing re-authorization", zap.String("provider", key.Provider),
					zap.String("identity_hash", key.IdentityHash), zap.Error(err))
			case purged:
				res.Purged++
			}
		}
	case k.Idle > 0 && now.Sub(tokens.LastActive(rec)) > k.Idle:
		after, err := m.KeepAlive(ctx, key.IdentityHash, now.Add(-k.Idle))
		if err != nil {
			res.Failed++
			if !errors.Is(err, tokens.ErrNeedsReauth) {
				k.log().Warn("keep-alive: refresh failed", zap.String("provider", key.Provider),
					zap.String("identity_hash", key.IdentityHash), zap.Error(err))
			}
			return
		}
		if tokens.LastActive(after).After(tokens.LastActive(rec)) {
			res.KeptAlive++
		}
	}
}

// purge deletes key's connection if, read again under its lock, it still
// needs re-authorization and has for longer than PurgeAfter.
func (k *Keeper) purge(ctx context.Context, key tokenstore.Key, now time.Time) (bool, error) {
	lock, err := k.Store.LockConnection(ctx, key)
	if err != nil {
		return false, err
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	rec, err := k.Store.LoadConnection(ctx, key)
	if err != nil {
		return false, nil
	}
	if rec.Status != tokenstore.StatusNeedsReauth || now.Sub(tokens.LastActive(rec)) <= k.PurgeAfter {
		return false, nil // reconnected meanwhile
	}
	if err := k.Store.DeleteConnection(ctx, key); err != nil {
		return false, err
	}
	_ = k.Store.PublishChange(ctx, key) // caches elsewhere drop it; a lost one only delays that
	k.log().Info("keep-alive: deleted a connection that needed re-authorization", zap.String("provider", key.Provider),
		zap.String("identity_hash", key.IdentityHash), zap.Time("last_refreshed", tokens.LastActive(rec)))
	return true, nil
}

func (k *Keeper) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

func (k *Keeper) log() *zap.Logger {
	if k.Log != nil {
		return k.Log
	}
	return zap.NewNop()
}
