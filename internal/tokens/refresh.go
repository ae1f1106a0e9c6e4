package tokens

// The refresh protocol. Fitbit refresh tokens are single-use: once the token
// endpoint has answered, the old refresh token is dead and the new pair
// exists only in that answer. So, for one connection, across every instance
// sharing the store:
//
//  1. take the connection's lock (LockConnection; its lease is renewed
//     while held) — one refresh at a time, anywhere;
//  2. re-read the record: if another instance refreshed meanwhile, use its
//     pair (the version and the access token tell);
//  3. write-ahead: save the record with a RefreshMarker naming the refresh
//     token about to be redeemed;
//  4. call the token endpoint, retrying transient failures (no answer,
//     timeout, 429, 5xx) with the identical request within a budget:
//     Fitbit answers an identical request inside its grace window with the
//     same pair, so a retry never burns a second one;
//  5. save the new pair with the marker cleared (compare-and-set on the
//     version read in 2), and only then hand out the new access token.
//
// A marker found by whoever holds the lock next belongs to a refresh that
// died between 3 and 5 (a crash, a lost lease, a store outage): it is
// recovered by repeating the identical request (4), and if the provider
// refuses the old token, through its recovery endpoint when enabled, else
// the connection is marked needs_reauth. RecoverUnfinished finds such
// markers without waiting for the next request, which could come after the
// grace window. A new pair the store refuses to take is held in memory,
// never used, and written again with backoff until it is stored.

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Refresh makes sure the connection's access token is no longer stale (the
// one the caller holds, or saw rejected), sharing one refresh among all
// concurrent callers of one connection in this process, and taking the
// connection's lock against other processes. The refresh runs to its end
// even if every caller gives up: abandoning it after the provider rotated
// the pair would lose the refresh token.
func (m *Manager) Refresh(ctx context.Context, identity, stale string) (*Entry, error) {
	key := m.key(identity)
	ch := m.flight.DoChan(flightKey(key), func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.RefreshTimeout)
		defer cancel()
		return m.refresh(rctx, key, identity, stale)
	})
	select {
	case r := <-ch:
		e, _ := r.Val.(*Entry)
		if e == nil && r.Err == nil {
			// Defensive: every path of refresh returns an entry or an error.
			return nil, &StoreError{Err: errors.New("refresh ended without a result; retry")}
		}
		return e, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func flightKey(key tokenstore.Key) string { return "refresh\x00" + key.String() }

// refresh runs the protocol for key. identity is "" when unknown (the
// recovery sweep): then nothing is cached.
func (m *Manager) refresh(ctx context.Context, key tokenstore.Key, identity, stale string) (*Entry, error) {
	lock, err := m.cfg.Store.LockConnection(ctx, key)
	if err != nil {
		m.observe(ResultStoreError, 0)
		return nil, &StoreError{Err: err}
	}
	defer lock.Unlock(context.WithoutCancel(ctx))

	// A pair refreshed earlier whose write failed lives only here: store it
	// before anything else, and never refresh over it.
	if held := m.heldEntry(identity); held != nil {
		e, err := m.saveHeld(ctx, key, identity, held)
		if err != nil {
			m.observe(ResultStoreError, 0)
			return nil, err
		}
		if e.rec.Refreshing == nil && m.fresh(e.rec) {
			return e, nil
		}
	}

	rec, err := m.cfg.Store.LoadConnection(ctx, key)
	if err != nil {
		if (errors.Is(err, tokenstore.ErrNotFound) || errors.Is(err, tokenstore.ErrUnreadable)) && identity != "" {
			m.cache.remove(identity)
		}
		return nil, m.storeErr(key, err)
	}
	if rec.Status == tokenstore.StatusNeedsReauth {
		return m.cached(identity, rec), ErrNeedsReauth
	}
	if rec.Refreshing == nil && rec.AccessToken != stale && m.fresh(rec) {
		m.observe(ResultPeer, 0)
		return m.cached(identity, rec), nil
	}
	e, err := m.redeem(ctx, key, identity, rec, lock)
	if err == nil && !e.unsaved && !m.fresh(e.rec) {
		// A recovered pair can be stale already: replayed from the grace
		// window long after it was issued (its holder died, the lock took a
		// while to go stale). Rotate once more before anyone uses it.
		if rec, err = m.cfg.Store.LoadConnection(ctx, key); err != nil {
			return nil, m.storeErr(key, err)
		}
		return m.redeem(ctx, key, identity, rec, lock)
	}
	return e, err
}

// redeem runs steps 3 to 5 for rec, whose lock the caller holds.
func (m *Manager) redeem(ctx context.Context, key tokenstore.Key, identity string, rec *tokenstore.Record, lock tokenstore.Lock) (*Entry, error) {
	log := m.log.Load().With(zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash), zap.String("user_id", rec.UserID))
	recovering := rec.Refreshing != nil && rec.Refreshing.TokenHash == tokenstore.TokenHash(rec.RefreshToken)
	marked := rec
	if recovering {
		log.Warn("found an unfinished refresh; repeating its identical request",
			zap.Time("started", rec.Refreshing.Since), zap.String("by", rec.Refreshing.Instance))
	} else {
		marked = rec.Clone()
		marked.Refreshing = &tokenstore.RefreshMarker{Since: m.cfg.Now(), TokenHash: tokenstore.TokenHash(rec.RefreshToken), Instance: m.cfg.Instance}
		if err := m.cfg.Store.SaveConnection(ctx, marked); err != nil {
			// Nothing was sent: the old pair is intact.
			m.observe(ResultStoreError, 0)
			log.Error("could not write the refresh marker; not refreshing", zap.Error(err))
			return nil, &StoreError{Err: err}
		}
	}

	start := time.Now()
	client := m.cfg.Provider
	// Before a retry that follows only answered failures (nothing can have
	// been issued yet), move the marker's Since up: a recovery then counts a
	// replayed pair's lifetime from the attempt that may really have issued it.
	beforeRetry := func(ctx context.Context) {
		mk := marked.Clone()
		mk.Refreshing.Since = m.cfg.Now()
		if m.cfg.Store.SaveConnection(ctx, mk) == nil {
			marked = mk
		}
	}
	grant, unanswered, err := m.withRetries(ctx, log, beforeRetry, func(ctx context.Context) (*provider.Grant, error) {
		return client.Refresh(ctx, marked.RefreshToken)
	})
	// A pair answered after an unanswered attempt (or for a refresh that
	// died) may be a grace-window replay of an earlier issue: its lifetime
	// started then, not now.
	issuedFrom := unanswered
	if recovering {
		issuedFrom = rec.Refreshing.Since
	}
	recovered := recovering
	if err != nil && provider.IsInvalidGrant(err) && m.cfg.Recover {
		log.Warn("refresh token refused; asking the provider's recovery endpoint", zap.Error(err))
		grant, _, err = m.withRetries(ctx, log, nil, func(ctx context.Context) (*provider.Grant, error) {
			return client.Recover(ctx, marked.RefreshToken)
		})
		recovered, issuedFrom = err == nil, time.Time{}
	}
	took := time.Since(start)
	select {
	case <-lock.Lost():
		log.Warn("lost the connection lock during the refresh; the version check decides whose pair stands")
	default:
	}
	if err != nil {
		return m.failed(ctx, key, identity, marked, err, took, log)
	}
	result := ResultOK
	if recovered {
		result = ResultRecovered
	}
	return m.persist(ctx, key, identity, marked, grant, issuedFrom, result, took, log)
}

// withRetries calls f until it succeeds, fails for good, or the retry
// budget or ctx runs out; f must send the identical request each time. It
// also returns when the first attempt that got no answer was sent (zero if
// every attempt was answered): the provider may have acted on it.
// beforeRetry, if set, runs before each retry while every earlier attempt
// was answered.
func (m *Manager) withRetries(ctx context.Context, log *zap.Logger, beforeRetry func(context.Context), f func(context.Context) (*provider.Grant, error)) (*provider.Grant, time.Time, error) {
	deadline := time.Now().Add(m.cfg.RetryBudget)
	backoff := 250 * time.Millisecond
	var unanswered time.Time
	for attempt := 1; ; attempt++ {
		sent := m.cfg.Now()
		g, err := f(ctx)
		if err == nil || !provider.IsTransient(err) {
			return g, unanswered, err
		}
		if te := (*provider.TokenError)(nil); errors.As(err, &te) && te.Status == 0 && unanswered.IsZero() {
			unanswered = sent
		}
		wait := backoff/2 + rand.N(backoff) // jitter: instances must not retry in step
		if time.Now().Add(wait).After(deadline) {
			return nil, unanswered, err
		}
		log.Info("token endpoint failed transiently; retrying the identical request", zap.Int("attempt", attempt), zap.Duration("in", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, unanswered, err
		}
		backoff = min(2*backoff, 4*time.Second)
		if beforeRetry != nil && unanswered.IsZero() {
			beforeRetry(ctx)
		}
	}
}

// persist saves the new pair (marker cleared) before anyone may use it.
func (m *Manager) persist(ctx context.Context, key tokenstore.Key, identity string, marked *tokenstore.Record, g *provider.Grant, issuedFrom time.Time, result Result, took time.Duration, log *zap.Logger) (*Entry, error) {
	next := marked.Clone()
	next.AccessToken, next.RefreshToken, next.Expiry = g.AccessToken, g.RefreshToken, g.Expiry
	switch {
	case !g.TokenExpiry.IsZero() && g.TokenExpiry.Before(next.Expiry):
		// The token says when it expires (a Fitbit JWT's exp): exact even for
		// a pair replayed from the grace window.
		next.Expiry = g.TokenExpiry
	case g.TokenExpiry.IsZero() && !issuedFrom.IsZero() && g.ExpiresIn > 0:
		// Possibly a replay of a pair issued earlier (it carries the original
		// expires_in): count its lifetime from then.
		if early := issuedFrom.Add(g.ExpiresIn); early.Before(next.Expiry) {
			next.Expiry = early
		}
	}
	if g.TokenType != "" {
		next.TokenType = g.TokenType
	}
	if len(g.Scopes) > 0 {
		next.Scopes = g.Scopes
	}
	if g.UserID != "" {
		next.UserID = g.UserID
	}
	next.RefreshedAt = m.cfg.Now()
	next.Status = tokenstore.StatusOK
	next.Refreshing = nil

	err := m.saveWithBackoff(ctx, next, 5)
	switch {
	case err == nil:
		m.observe(result, took)
		log.Info("refreshed access token", zap.String("result", string(result)), zap.Time("expiry", next.Expiry))
		return m.cached(identity, next), nil
	case errors.Is(err, tokenstore.ErrConflict):
		// Another writer got in while this refresh ran (our lease lapsed):
		// the stored version stands, whatever it holds.
		cur, lerr := m.cfg.Store.LoadConnection(ctx, key)
		if lerr != nil {
			return nil, m.storeErr(key, lerr)
		}
		m.observe(ResultPeer, took)
		log.Warn("a newer version was stored while refreshing; using it")
		return m.cached(identity, cur), nil
	}
	// The provider has rotated the pair: the old refresh token is dead and
	// the new one exists only here. Hold it, never use it until stored, and
	// keep writing it in the background.
	m.observe(ResultStoreError, took)
	log.Error("refreshed pair could not be stored; holding it in memory and retrying", zap.Error(err))
	held := newEntry(next, true)
	if identity != "" {
		m.cache.put(identity, held)
	}
	go m.persistLater(key, identity, held)
	return nil, &StoreError{Err: err}
}

// failed handles a refresh the provider did not complete.
func (m *Manager) failed(ctx context.Context, key tokenstore.Key, identity string, marked *tokenstore.Record, err error, took time.Duration, log *zap.Logger) (*Entry, error) {
	switch {
	case provider.IsInvalidGrant(err):
		m.observe(ResultInvalidGrant, took)
		log.Warn("refresh token rejected; connection needs reauthorization", zap.Error(err))
		dead := marked.Clone()
		dead.Status = tokenstore.StatusNeedsReauth
		dead.Refreshing = nil
		if serr := m.cfg.Store.SaveConnection(ctx, dead); errors.Is(serr, tokenstore.ErrConflict) {
			// Someone stored a newer pair (a reconnect, a peer's recovery):
			// never overwrite it with a dead one.
			if cur, lerr := m.cfg.Store.LoadConnection(ctx, key); lerr == nil {
				if cur.Status == tokenstore.StatusNeedsReauth {
					return m.cached(identity, cur), ErrNeedsReauth
				}
				return m.cached(identity, cur), nil
			}
		} else if serr != nil {
			log.Error("could not mark connection needs_reauth", zap.Error(serr))
		} else {
			m.publish(ctx, key)
		}
		return m.cached(identity, dead), ErrNeedsReauth
	case provider.IsTransient(err):
		// No usable answer: the provider may or may not have rotated. The
		// marker stays, so the next holder of the lock (or the recovery
		// sweep) repeats the identical request.
		m.observe(ResultTransient, took)
		log.Error("refresh failed transiently past the retry budget; keeping the current pair", zap.Error(err))
		return nil, err
	default:
		// A definite refusal (e.g. invalid_client): nothing rotated.
		m.observe(ResultError, took)
		log.Error("refresh refused; keeping the current pair", zap.Error(err))
		clean := marked.Clone()
		clean.Refreshing = nil
		if m.cfg.Store.SaveConnection(ctx, clean) == nil && identity != "" {
			m.cached(identity, clean)
		}
		return nil, err
	}
}

// saveWithBackoff writes rec (compare-and-set), retrying store failures a
// few times; a conflict is final.
func (m *Manager) saveWithBackoff(ctx context.Context, rec *tokenstore.Record, attempts int) error {
	backoff := 50 * time.Millisecond
	var err error
	for i := 0; i < attempts; i++ {
		if err = m.cfg.Store.SaveConnection(ctx, rec); err == nil || errors.Is(err, tokenstore.ErrConflict) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff *= 2
	}
	return err
}

// heldEntry is identity's pair that is waiting to be stored, if any.
func (m *Manager) heldEntry(identity string) *Entry {
	if identity == "" {
		return nil
	}
	if e := m.cache.get(identity, m.cfg.Now()); e != nil && e.unsaved {
		return e
	}
	return nil
}

// saveHeld stores a held pair; on a conflict the stored version wins (a
// peer recovered the same rotation, or the user reconnected).
func (m *Manager) saveHeld(ctx context.Context, key tokenstore.Key, identity string, held *Entry) (*Entry, error) {
	rec := held.rec.Clone()
	err := m.cfg.Store.SaveConnection(ctx, rec)
	if errors.Is(err, tokenstore.ErrConflict) {
		rec, err = m.cfg.Store.LoadConnection(ctx, key)
	}
	if err != nil {
		return nil, &StoreError{Err: err}
	}
	e := newEntry(rec, false)
	if identity != "" {
		m.cache.replace(identity, held, e)
	}
	return e, nil
}

// persistLater keeps writing a held pair until it is stored (or superseded),
// with capped exponential backoff, for as long as the manager lives.
func (m *Manager) persistLater(key tokenstore.Key, identity string, held *Entry) {
	ctx := m.cfg.Context
	backoff := time.Second
	for {
		t := time.NewTimer(backoff/2 + rand.N(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			m.log.Load().Error("stopping with a refreshed pair not stored; another instance will recover it from the refresh marker",
				zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash))
			return
		case <-t.C:
		}
		if identity != "" {
			if cur := m.cache.get(identity, time.Now()); cur != held {
				return // stored by a request meanwhile (saveHeld)
			}
		}
		ch := m.flight.DoChan(flightKey(key), func() (any, error) {
			lock, err := m.cfg.Store.LockConnection(ctx, key)
			if err != nil {
				return nil, err
			}
			defer lock.Unlock(context.WithoutCancel(ctx))
			return m.saveHeld(ctx, key, identity, held)
		})
		if r := <-ch; r.Err == nil {
			m.log.Load().Info("stored the held pair", zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash))
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// cached caches rec for identity (when known) and returns its entry.
func (m *Manager) cached(identity string, rec *tokenstore.Record) *Entry {
	e := newEntry(rec, false)
	if identity != "" {
		m.cache.put(identity, e)
	}
	return e
}

// RecoverUnfinished completes refreshes that started and never finished
// (their holder crashed or lost its lease): for each write-ahead marker of
// this provider whose connection lock it can take within wait, it repeats
// the identical request. It returns how many it completed.
func (m *Manager) RecoverUnfinished(ctx context.Context, wait time.Duration) (int, error) {
	keys, err := m.cfg.Store.ListRefreshing(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, key := range keys {
		if key.Provider != m.name || ctx.Err() != nil {
			continue
		}
		// A flight of its own: a request's Refresh must not join a sweep that
		// gives up on a busy lock and returns nothing.
		ch := m.flight.DoChan("sweep\x00"+key.String(), func() (any, error) {
			lctx, cancel := context.WithTimeout(ctx, wait)
			lock, err := m.cfg.Store.LockConnection(lctx, key)
			cancel()
			if err != nil {
				return nil, nil // someone is at it; that is their job
			}
			defer lock.Unlock(context.WithoutCancel(ctx))
			rec, err := m.cfg.Store.LoadConnection(ctx, key)
			if err != nil || rec.Refreshing == nil {
				return nil, nil
			}
			rctx, rcancel := context.WithTimeout(ctx, m.cfg.RefreshTimeout)
			defer rcancel()
			return m.redeem(rctx, key, "", rec, lock)
		})
		if r := <-ch; r.Err == nil && r.Val != nil {
			done++
		}
	}
	return done, nil
}

// RunRecovery sweeps for unfinished refreshes now and every interval until
// ctx is done.
func (m *Manager) RunRecovery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := m.RecoverUnfinished(ctx, 2*time.Second); err != nil {
			m.log.Load().Warn("recovery sweep failed", zap.Error(err))
		} else if n > 0 {
			m.log.Load().Info("recovery sweep completed unfinished refreshes", zap.Int("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
