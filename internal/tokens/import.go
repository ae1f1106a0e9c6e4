package tokens

// Importing connections whose tokens the operator already holds: an app
// that has its users' refresh tokens (issued to the same OAuth client the
// gateway is registered as) moves them into the gateway with no new
// consent. Each is checked with one refresh before it counts as imported,
// and that refresh is the refresh protocol's own (refresh.go): the imported
// pair is stored with a write-ahead marker, the token endpoint is called,
// and the new pair is persisted before anything else, so a provider that
// rotates refresh tokens (Fitbit) cannot leave the connection holding a
// dead one, whatever fails when.

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// ErrExists is Import's answer for an identity that has a connection
// stored (readable or not) when it was not asked to replace it.
var ErrExists = errors.New("a connection is stored for this identity already (replace it to overwrite)")

// ErrNotChecked is CheckImport's answer for a provider that rotates refresh
// tokens: checking one would redeem it, and the dry run stores nothing to
// keep its successor in.
var ErrNotChecked = errors.New("not checked: the provider rotates refresh tokens, so a dry run does not redeem them")

// Import stores rec as identity's connection after one refresh at the
// provider proves its refresh token: rec's token type, scopes, user id and
// expiry are the provider's answer's where it gives them. It holds the
// connection's lock throughout. A stored connection is overwritten only
// when replace is set; a previous grant of another provider account is
// then revoked in the background, as Connect does.
//
// A token the provider refuses (for good, or transiently when the provider
// does not rotate) leaves the store as it was. A provider that rotates and
// did not answer may have issued a new pair that only a repeat of the
// identical request recovers: the imported connection then stays, with its
// refresh marker, for the recovery sweep (or the next request) to finish,
// and the error says so. Errors: ErrExists, *StoreError, a
// *provider.TokenError, ErrNeedsReauth (the refresh token is refused).
func (m *Manager) Import(ctx context.Context, identity string, rec *tokenstore.Record, replace bool) (*tokenstore.Record, error) {
	key := m.key(identity)
	rec = rec.Clone()
	rec.Provider, rec.IdentityHash = key.Provider, key.IdentityHash
	rec.Status, rec.Refreshing, rec.Version = tokenstore.StatusOK, nil, 0
	if rec.ConnectedAt.IsZero() {
		rec.ConnectedAt = m.cfg.Now()
	}
	lock, err := m.cfg.Store.LockConnection(ctx, key)
	if err != nil {
		return nil, &StoreError{Err: err}
	}
	// Once the marker is written the attempt runs to its end, as a refresh
	// does (the provider may have rotated the pair).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.RefreshTimeout)
	defer cancel()
	defer lock.Unlock(ctx)

	var from tokenstore.Status // for the watcher
	cur, err := m.cfg.Store.LoadConnection(ctx, key)
	switch {
	case err == nil:
		if !replace {
			return nil, ErrExists
		}
		rec.Version, from = cur.Version, cur.Status
	case errors.Is(err, tokenstore.ErrNotFound):
		cur = nil
	case errors.Is(err, tokenstore.ErrUnreadable):
		if !replace {
			return nil, ErrExists
		}
		cur, from = nil, Unreadable
		if err := m.cfg.Store.DeleteConnection(ctx, key); err != nil {
			return nil, &StoreError{Err: err}
		}
	default:
		return nil, &StoreError{Err: err}
	}
	// A pending revocation of this provider user would revoke the imported
	// grant (revoke.go).
	if err := m.cancelRevoke(ctx, rec); err != nil {
		return nil, &StoreError{Err: err}
	}

	a := &refreshAttempt{m: m, key: key, identity: identity, lock: lock, importing: true}
	if _, err := a.redeem(ctx, rec); err != nil {
		return nil, m.importFailed(ctx, a, cur, err)
	}
	stored, err := m.identify(ctx, key, identity)
	if err != nil {
		return nil, err
	}
	m.revokeReplaced(ctx, cur, stored)
	m.publish(ctx, key)
	m.changed(ctx, key.IdentityHash, stored.UserID, from, stored.Status)
	return stored, nil
}

// identify completes an imported connection, stored and checked, with the
// ids a code exchange would have learnt from the provider's identity
// endpoint (Google's healthUserId and legacy Fitbit id), which the import
// line may lack or have wrong. The import stands if the endpoint fails: the
// token works, and the line's user id is kept.
func (m *Manager) identify(ctx context.Context, key tokenstore.Key, identity string) (*tokenstore.Record, error) {
	stored, err := m.cfg.Store.LoadConnection(ctx, key)
	if err != nil {
		return nil, m.storeErr(key, err)
	}
	g := &provider.Grant{AccessToken: stored.AccessToken}
	if err := m.cfg.Provider.Identify(ctx, g); err != nil {
		m.log.Load().Warn("imported a connection whose user the identity endpoint did not name; keeping the imported user id",
			zap.String("provider", m.name), zap.String("identity_hash", key.IdentityHash), zap.Error(err))
		return stored, nil
	}
	if g.UserID == "" || g.UserID == stored.UserID && maps.Equal(g.Extra, stored.Extra) {
		return stored, nil
	}
	next := stored.Clone()
	next.UserID = g.UserID
	for k, v := range g.Extra {
		if next.Extra == nil {
			next.Extra = map[string]string{}
		}
		next.Extra[k] = v
	}
	if err := m.saveWithBackoff(ctx, next, 5); err != nil {
		return nil, &StoreError{Err: err}
	}
	m.cached(identity, next)
	return next, nil
}

// importFailed puts back what Import found (cur, nil for nothing) after
// the check of the imported pair failed with err, unless the marked pair
// must stay for the recovery of a rotation, and returns the error to
// report.
func (m *Manager) importFailed(ctx context.Context, a *refreshAttempt, cur *tokenstore.Record, err error) error {
	var se *StoreError
	switch {
	case a.marked == nil || a.marked.Refreshing == nil:
		return err // the marker was not written: nothing was stored or sent
	case errors.As(err, &se):
		return err // a new pair is held in memory and written in the background
	case provider.IsTransient(err) && m.cfg.Provider.Reg.Preset != nil && m.cfg.Provider.Reg.Preset.RotatesRefreshTokens:
		return fmt.Errorf("%w; the imported connection is kept with its refresh marker, and the recovery sweep repeats the identical request", err)
	}
	stored, lerr := m.cfg.Store.LoadConnection(ctx, a.key)
	switch {
	case errors.Is(lerr, tokenstore.ErrNotFound):
	case lerr != nil:
		return errors.Join(err, &StoreError{Err: fmt.Errorf("taking the refused import back out: %w", lerr)})
	case cur != nil:
		back := cur.Clone()
		back.Version = stored.Version
		lerr = m.cfg.Store.SaveConnection(ctx, back)
	default:
		lerr = m.cfg.Store.DeleteConnection(ctx, a.key)
	}
	if lerr != nil {
		m.log.Load().Error("could not take a refused import back out of the store", zap.String("provider", m.name),
			zap.String("identity_hash", a.key.IdentityHash), zap.Error(lerr))
		return errors.Join(err, &StoreError{Err: lerr})
	}
	m.uncache(a.identity)
	m.publish(ctx, a.key)
	return err
}

// CheckImport is Import's dry run: it stores nothing. It reports ErrExists
// as Import would, and checks the refresh token with one refresh unless the
// provider rotates refresh tokens (ErrNotChecked): redeeming one here
// would kill it, with its successor in nobody's hands. Google does not
// rotate (https://developers.google.com/identity/protocols/oauth2/web-server#offline),
// so its tokens are checked.
func (m *Manager) CheckImport(ctx context.Context, identity string, rec *tokenstore.Record, replace bool) error {
	key := m.key(identity)
	_, err := m.cfg.Store.LoadConnection(ctx, key)
	switch {
	case err == nil || errors.Is(err, tokenstore.ErrUnreadable):
		if !replace {
			return ErrExists
		}
	case !errors.Is(err, tokenstore.ErrNotFound):
		return &StoreError{Err: err}
	}
	if p := m.cfg.Provider.Reg.Preset; p != nil && p.RotatesRefreshTokens {
		return ErrNotChecked
	}
	_, err = m.cfg.Provider.Refresh(ctx, rec.RefreshToken)
	return err
}
