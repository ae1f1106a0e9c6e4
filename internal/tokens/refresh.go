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
//
// A refreshAttempt carries one run through these steps: run (1, 2), mark
// (3), callTokenEndpoint (4), persist (5), and failed for a refresh the
// provider did not complete.

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Refresh makes sure identity's access token is no longer stale: stale is
// the entry the caller holds and found expiring, or saw rejected (nil if it
// holds none). It shares one refresh among all concurrent callers of one
// connection in this process, and takes the connection's lock against other
// processes. The refresh runs to its end even if every caller gives up:
// abandoning it after the provider rotated the pair would lose the refresh
// token.
func (m *Manager) Refresh(ctx context.Context, identity string, stale *Entry) (*Entry, error) {
	a := &refreshAttempt{m: m, key: m.key(identity), identity: identity}
	if stale != nil {
		a.stale = stale.AccessToken()
	}
	return m.refresh(ctx, a)
}

// refresh runs attempt a in the connection's flight (see Refresh).
func (m *Manager) refresh(ctx context.Context, a *refreshAttempt) (*Entry, error) {
	ch := m.flight.DoChan(flightKey(a.key), func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.RefreshTimeout)
		defer cancel()
		return a.run(rctx)
	})
	select {
	case r := <-ch:
		e, _ := r.Val.(*Entry)
		if e == nil && r.Err == nil {
			// Defensive: every path of run returns an entry or an error.
			return nil, &StoreError{Err: errors.New("refresh ended without a result; retry")}
		}
		return e, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func flightKey(key tokenstore.Key) string { return "refresh\x00" + key.String() }

// refreshAttempt is one run of the protocol for one connection. run does
// steps 1 to 5; the recovery sweep, which takes the lock itself, starts at
// redeem. The first fields are set when the attempt is made; redeem sets
// the rest, afresh for each pair it redeems.
type refreshAttempt struct {
	m        *Manager
	key      tokenstore.Key
	identity string // "" when unknown (the recovery sweep): nothing is cached
	stale    string // the access token the caller found stale; "" if none
	force    bool   // redeem even a fresh pair (an operator's refresh)
	// importing: the attempt checks an import, whose outcome Import tells
	// the watcher itself (a refused token leaves no connection behind).
	importing bool
	lock      tokenstore.Lock

	log *zap.Logger
	// recovering: the record read under the lock carries the marker of an
	// unfinished refresh of its refresh token, whose request is repeated.
	recovering bool
	// marked is the record as stored with the write-ahead marker.
	marked *tokenstore.Record
	// took is the time spent at the token endpoint, retries included.
	took time.Duration
	// issuedFrom, if set, is when the pair the provider answers may really
	// have been issued: a grace-window replay counts its lifetime from then.
	issuedFrom time.Time
}

// run takes the connection's lock (step 1), stores a held pair or uses a
// peer's (step 2), and redeems the refresh token (steps 3 to 5).
func (a *refreshAttempt) run(ctx context.Context) (*Entry, error) {
	m := a.m
	lock, err := m.cfg.Store.LockConnection(ctx, a.key)
	if err != nil {
		m.observe(ResultStoreError, 0)
		return nil, &StoreError{Err: err}
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	a.lock = lock

	// A pair refreshed earlier whose write failed lives only here: store it
	// before anything else, and never refresh over it.
	if held := m.heldEntry(a.identity); held != nil {
		e, err := m.saveHeld(ctx, a.key, a.identity, held)
		if err != nil {
			m.observe(ResultStoreError, 0)
			return nil, err
		}
		if e.rec.Refreshing == nil && m.fresh(e.rec) {
			return e, nil
		}
	}

	rec, err := m.cfg.Store.LoadConnection(ctx, a.key)
	if err != nil {
		if (errors.Is(err, tokenstore.ErrNotFound) || errors.Is(err, tokenstore.ErrUnreadable)) && a.identity != "" {
			m.cache.remove(a.identity)
		}
		return nil, m.storeErr(a.key, err)
	}
	if rec.Status == tokenstore.StatusNeedsReauth {
		return m.cached(a.identity, rec), ErrNeedsReauth
	}
	if !a.force && rec.Refreshing == nil && rec.AccessToken != a.stale && m.fresh(rec) {
		m.observe(ResultPeer, 0)
		return m.cached(a.identity, rec), nil
	}
	e, err := a.redeem(ctx, rec)
	if err == nil && !e.unsaved && !m.fresh(e.rec) {
		// A recovered pair can be stale already: replayed from the grace
		// window long after it was issued (its holder died, the lock took a
		// while to go stale). Rotate once more before anyone uses it.
		if rec, err = m.cfg.Store.LoadConnection(ctx, a.key); err != nil {
			return nil, m.storeErr(a.key, err)
		}
		return a.redeem(ctx, rec)
	}
	return e, err
}

// redeem runs steps 3 to 5 for rec, whose lock the attempt holds.
func (a *refreshAttempt) redeem(ctx context.Context, rec *tokenstore.Record) (*Entry, error) {
	a.log = a.m.log.Load().With(zap.String("provider", a.m.name), zap.String("identity_hash", a.key.IdentityHash), zap.String("user_id", rec.UserID))
	a.recovering = rec.Refreshing != nil && rec.Refreshing.TokenHash == tokenstore.TokenHash(rec.RefreshToken)
	a.marked, a.took, a.issuedFrom = rec, 0, time.Time{}
	if a.recovering {
		a.log.Warn("found an unfinished refresh; repeating its identical request",
			timeField("started", rec.Refreshing.Since), zap.String("by", rec.Refreshing.Instance))
	} else if err := a.mark(ctx, rec); err != nil {
		return nil, err
	}
	grant, result, err := a.callTokenEndpoint(ctx, rec)
	select {
	case <-a.lock.Lost():
		a.log.Warn("lost the connection lock during the refresh; the version check decides whose pair stands")
	default:
	}
	if err != nil {
		return a.failed(ctx, err)
	}
	return a.persist(ctx, grant, result)
}

// mark is step 3: it stores rec with a marker naming the refresh token
// about to be redeemed.
func (a *refreshAttempt) mark(ctx context.Context, rec *tokenstore.Record) error {
	m := a.m
	marked := rec.Clone()
	marked.Refreshing = &tokenstore.RefreshMarker{Since: m.cfg.Now(), TokenHash: tokenstore.TokenHash(rec.RefreshToken), Instance: m.cfg.Instance}
	if err := m.cfg.Store.SaveConnection(ctx, marked); err != nil {
		// Nothing was sent: the old pair is intact.
		m.observe(ResultStoreError, 0)
		a.log.Error("could not write the refresh marker; not refreshing", zap.Error(err))
		return &StoreError{Err: err}
	}
	a.marked = marked
	return nil
}

// callTokenEndpoint is step 4: it redeems the marked refresh token, and
// when the provider refuses it, asks the provider's recovery endpoint (if
// enabled). It sets took and issuedFrom. rec is the record as read under the
// lock.
func (a *refreshAttempt) callTokenEndpoint(ctx context.Context, rec *tokenstore.Record) (*provider.Grant, Result, error) {
	m := a.m
	client := m.cfg.Provider
	// took feeds the token-endpoint latency metric: a duration of real
	// requests and real timers, so it is measured on the wall clock, not on
	// Config.Now (which tests freeze or move by hand).
	start := time.Now()
	grant, unanswered, err := a.withRetries(ctx, a.moveMarkerUp, func(ctx context.Context) (*provider.Grant, error) {
		return client.Refresh(ctx, a.marked.RefreshToken)
	})
	// A pair answered after an unanswered attempt (or for a refresh that
	// died) may be a grace-window replay of an earlier issue: its lifetime
	// started then, not now.
	a.issuedFrom = unanswered
	if a.recovering {
		a.issuedFrom = rec.Refreshing.Since
	}
	recovered := a.recovering
	if err != nil && provider.IsInvalidGrant(err) && m.cfg.Recover {
		a.log.Warn("refresh token refused; asking the provider's recovery endpoint", zap.Error(err))
		grant, _, err = a.withRetries(ctx, nil, func(ctx context.Context) (*provider.Grant, error) {
			return client.Recover(ctx, a.marked.RefreshToken)
		})
		recovered, a.issuedFrom = err == nil, time.Time{}
	}
	a.took = time.Since(start)
	if recovered {
		return grant, ResultRecovered, err
	}
	return grant, ResultOK, err
}

// moveMarkerUp runs before a retry that follows only answered failures
// (nothing can have been issued yet): it moves the marker's Since up, so
// that a recovery counts a replayed pair's lifetime from the attempt that
// may really have issued it.
func (a *refreshAttempt) moveMarkerUp(ctx context.Context) {
	mk := a.marked.Clone()
	mk.Refreshing.Since = a.m.cfg.Now()
	if a.m.cfg.Store.SaveConnection(ctx, mk) == nil {
		a.marked = mk
	}
}

// withRetries calls f until it succeeds, fails for good, or the retry
// budget or ctx runs out; f must send the identical request each time. It
// also returns when the first attempt that got no answer was sent (zero if
// every attempt was answered): the provider may have acted on it.
// beforeRetry, if set, runs before each retry while every earlier attempt
// was answered.
func (a *refreshAttempt) withRetries(ctx context.Context, beforeRetry func(context.Context), f func(context.Context) (*provider.Grant, error)) (*provider.Grant, time.Time, error) {
	m := a.m
	// The budget is spent in real requests and real timers, so it is
	// counted on the wall clock; when an attempt was sent is a time of the
	// connection's (compared with its expiry), so it is Config.Now's.
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
		a.log.Info("token endpoint failed transiently; retrying the identical request", zap.Int("attempt", attempt), zap.Duration("in", wait), zap.Error(err))
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

// persist is step 5: it saves the new pair (marker cleared) before anyone
// may use it.
func (a *refreshAttempt) persist(ctx context.Context, g *provider.Grant, result Result) (*Entry, error) {
	m := a.m
	next := a.marked.Clone()
	next.AccessToken, next.RefreshToken, next.Expiry = g.AccessToken, g.RefreshToken, g.Expiry
	switch {
	case !g.TokenExpiry.IsZero() && g.TokenExpiry.Before(next.Expiry):
		// The token says when it expires (a Fitbit JWT's exp): exact even for
		// a pair replayed from the grace window.
		next.Expiry = g.TokenExpiry
	case g.TokenExpiry.IsZero() && !a.issuedFrom.IsZero() && g.ExpiresIn > 0:
		// Possibly a replay of a pair issued earlier (it carries the original
		// expires_in): count its lifetime from then.
		if early := a.issuedFrom.Add(g.ExpiresIn); early.Before(next.Expiry) {
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
		m.observe(result, a.took)
		a.log.Info("refreshed access token", zap.String("result", string(result)), timeField("expiry", next.Expiry))
		return m.cached(a.identity, next), nil
	case errors.Is(err, tokenstore.ErrConflict):
		// Another writer got in while this refresh ran (our lease lapsed):
		// the stored version stands, whatever it holds.
		cur, lerr := m.cfg.Store.LoadConnection(ctx, a.key)
		if lerr != nil {
			return nil, m.storeErr(a.key, lerr)
		}
		m.observe(ResultPeer, a.took)
		a.log.Warn("a newer version was stored while refreshing; using it")
		return m.cached(a.identity, cur), nil
	}
	// The provider has rotated the pair: the old refresh token is dead and
	// the new one exists only here. Hold it, never use it until stored, and
	// keep writing it in the background.
	m.observe(ResultStoreError, a.took)
	a.log.Error("refreshed pair could not be stored; holding it in memory and retrying", zap.Error(err))
	held := newEntry(next, true)
	if a.identity != "" {
		m.cache.put(a.identity, held)
	}
	go m.persistLater(a.key, a.identity, held)
	return nil, &StoreError{Err: err}
}

// failed handles a refresh the provider did not complete.
func (a *refreshAttempt) failed(ctx context.Context, err error) (*Entry, error) {
	m := a.m
	switch {
	case provider.IsInvalidGrant(err):
		m.observe(ResultInvalidGrant, a.took)
		a.log.Warn("refresh token rejected; connection needs reauthorization", zap.Error(err))
		dead := a.marked.Clone()
		dead.Status = tokenstore.StatusNeedsReauth
		dead.Refreshing = nil
		if serr := m.cfg.Store.SaveConnection(ctx, dead); errors.Is(serr, tokenstore.ErrConflict) {
			// Someone stored a newer pair (a reconnect, a peer's recovery):
			// never overwrite it with a dead one.
			if cur, lerr := m.cfg.Store.LoadConnection(ctx, a.key); lerr == nil {
				if cur.Status == tokenstore.StatusNeedsReauth {
					return m.cached(a.identity, cur), ErrNeedsReauth
				}
				return m.cached(a.identity, cur), nil
			}
		} else if serr != nil {
			a.log.Error("could not mark connection needs_reauth", zap.Error(serr))
		} else {
			m.publish(ctx, a.key)
			if !a.importing {
				m.changed(ctx, a.key.IdentityHash, dead.UserID, a.marked.Status, dead.Status)
			}
		}
		return m.cached(a.identity, dead), ErrNeedsReauth
	case provider.IsTransient(err):
		// No usable answer: the provider may or may not have rotated. The
		// marker stays, so the next holder of the lock (or the recovery
		// sweep) repeats the identical request.
		m.observe(ResultTransient, a.took)
		a.log.Error("refresh failed transiently past the retry budget; keeping the current pair", zap.Error(err))
		return nil, err
	default:
		// A definite refusal (e.g. invalid_client): nothing rotated.
		m.observe(ResultError, a.took)
		a.log.Error("refresh refused; keeping the current pair", zap.Error(err))
		clean := a.marked.Clone()
		clean.Refreshing = nil
		if m.cfg.Store.SaveConnection(ctx, clean) == nil && a.identity != "" {
			m.cached(a.identity, clean)
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
			if cur := m.cache.get(identity, m.cfg.Now()); cur != held {
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
			a := &refreshAttempt{m: m, key: key, lock: lock}
			return a.redeem(rctx, rec)
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
