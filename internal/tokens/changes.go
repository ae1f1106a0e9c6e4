package tokens

// Keeping the caches of several instances honest. Each instance caches
// decrypted connections and serves a cached, fresh token without reading
// the store (the hot path). When an instance connects, replaces (reconnects)
// or disconnects a connection, or marks it needs_reauth, it publishes the
// connection's key on the store's change feed (tokenstore.ChangeFeed), and
// every instance evicts that entry, so that its next request reads the
// store. Revalidating every cached entry against the store instead would
// cost O(cached connections) reads per interval — 100,000 users, 100,000
// reads — where the feed costs one read per change.
//
// A refresh is not published: the pair a peer refreshed is the same
// connection, and an instance still holding the old access token goes on
// using it until the provider refuses it or it nears expiry; either way it
// refreshes, which rereads the store under the connection's lock and picks
// up the peer's pair (refresh.go, step 2) without a second rotation.
//
// What a missed change would cost, and what stops it:
//   - the feed lost changes (trimmed past a slow subscriber, a store reset,
//     a subscriber away longer than the feed looks back): Next says so, and
//     every entry is evicted;
//   - the feed cannot be read: after feedStaleAfter intervals every entry is
//     evicted, and again every as long while it stays unreadable, so no
//     entry is used longer than that unconfirmed;
//   - the publisher could not publish (the store failed between the write
//     and the publication, or the process died there): publication is
//     retried in the background, and every entry is revalidated against the
//     store, off the hot path, once it is older than Config.MaxAge.
//
// An instance that starts subscribes before it has been asked for much, and
// evicts whatever it cached before its subscription began.

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

const (
	// DefaultMaxAge bounds how long a cached entry is used without being
	// compared with the store, if the change feed missed its change.
	DefaultMaxAge = 10 * time.Minute
	// feedStaleAfter: an instance that has not read the change feed for this
	// many intervals stops trusting its cache.
	feedStaleAfter = 5
	// publishTimeout bounds one publication.
	publishTimeout = 5 * time.Second
)

// publish tells the other instances that key's connection changed (see the
// top of this file). The change is stored already, so a failure is not the
// caller's: it is logged and retried in the background, for as long as a
// peer could still be using an entry from before the change (MaxAge).
func (m *Manager) publish(ctx context.Context, key tokenstore.Key) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	err := m.cfg.Store.PublishChange(pctx, key)
	cancel()
	if err == nil {
		return
	}
	m.log.Load().Warn("could not tell the other instances about a changed connection; retrying in the background",
		zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash), zap.Error(err))
	go m.publishLater(key, m.cfg.Now().Add(m.cfg.MaxAge))
}

func (m *Manager) publishLater(key tokenstore.Key, until time.Time) {
	ctx := m.cfg.Context
	for backoff := time.Second; m.cfg.Now().Before(until); backoff = min(2*backoff, 30*time.Second) {
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		err := m.cfg.Store.PublishChange(pctx, key)
		cancel()
		if err == nil {
			m.log.Load().Info("told the other instances about a changed connection", zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash))
			return
		}
	}
	m.log.Load().Warn("gave up telling the other instances about a changed connection; their caches revalidate it within the cache's maximum age",
		zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash), zap.Duration("max_age", m.cfg.MaxAge))
}

// revalidate compares identity's cached entry e, older than MaxAge, with the
// store in the background; meanwhile e goes on being used. A changed or
// deleted connection replaces or evicts e; an unchanged one gets a new
// entry with a new age. A store failure leaves e to be tried again.
func (m *Manager) revalidate(identity string, e *Entry, now time.Time) {
	if !e.revalidating.CompareAndSwap(false, true) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(m.cfg.Context, m.cfg.RefreshTimeout)
		defer cancel()
		m.touch(ctx, identity, now) // it is in use: see lastused.go
		rec, err := m.cfg.Store.LoadConnection(ctx, m.key(identity))
		switch {
		case errors.Is(err, tokenstore.ErrNotFound):
			m.cache.evictEntry(identity, e)
		case err != nil:
			e.revalidating.Store(false)
		default:
			// If e is no longer the entry, whoever replaced it knew better.
			m.cache.replace(identity, e, newEntry(rec, false))
		}
	}()
}

// FollowChanges applies feed to the caches of managers (one per provider
// registration, all over the store of feed) until ctx is done: each change
// evicts its connection's entry. interval is how long one read waits (a
// store that cannot be woken is polled that often, see
// tokenstore.ChangeSubscription) and how long to wait after a failure; at
// most tokenstore.MaxChangeWait.
func FollowChanges(ctx context.Context, feed tokenstore.ChangeFeed, interval time.Duration, managers ...*Manager) {
	if len(managers) == 0 {
		return
	}
	byName := make(map[string]*Manager, len(managers))
	for _, m := range managers {
		byName[m.name] = m
	}
	log := func() *zap.Logger { return managers[0].log.Load() }
	evictAll := func(why string) {
		n := 0
		for _, m := range managers {
			n += m.cache.evictAll()
		}
		if n > 0 {
			log().Warn("evicted every cached connection: "+why, zap.Int("evicted", n))
		}
	}
	var sub tokenstore.ChangeSubscription
	// When the cache last reflected the store. It is measured against
	// intervals of real waits (Next's, sleep's), so on the wall clock, not
	// on the managers' Config.Now.
	trusted := time.Now()
	failing := false
	fail := func(err error) {
		if !failing {
			failing = true
			log().Warn("cannot read the change feed of the token store; other instances' disconnects and reconnects are not seen meanwhile",
				zap.Error(err))
		}
		if time.Since(trusted) > feedStaleAfter*interval {
			evictAll("the change feed has been unreadable too long to trust them")
			trusted = time.Now()
		}
		sleep(ctx, interval)
	}
	for ctx.Err() == nil {
		if sub == nil {
			s, err := feed.SubscribeChanges(ctx)
			if err != nil {
				fail(err)
				continue
			}
			// Entries cached before the subscription began may have missed
			// a change.
			sub = s
			evictAll("subscribed to the change feed")
			trusted = time.Now()
		}
		keys, err := sub.Next(ctx, interval)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, tokenstore.ErrChangesMissed):
			evictAll("the change feed may have lost changes")
		case err != nil:
			fail(err)
			continue
		}
		if failing {
			failing = false
			log().Info("reading the change feed of the token store again")
		}
		trusted = time.Now()
		for _, k := range keys {
			if m := byName[k.Provider]; m != nil && m.cache.evictHash(k.IdentityHash) {
				m.log.Load().Debug("a connection changed on another instance; evicted it from the cache",
					zap.String("provider", k.Provider), zap.String("identity_hash", k.IdentityHash))
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
