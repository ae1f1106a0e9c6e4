package tokens

// An operator's operations on one connection. The admin API names
// connections by identity hash (the storage key), never by identity, so
// these take the hash: the identity is known here only when this process
// has the connection cached (the cache keeps hash → identity), and is then
// used to keep the cache right; otherwise nothing is cached, and the change
// a write publishes reaches every instance's cache.

import (
	"context"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// identityOf is the identity whose hash is idHash, if this process has it
// cached; "" if not.
func (m *Manager) identityOf(idHash string) string {
	if v, ok := m.cache.byHash.Load(idHash); ok {
		return v.(string)
	}
	return ""
}

// uncache drops identity's entry, when the identity is known.
func (m *Manager) uncache(identity string) {
	if identity != "" {
		m.cache.remove(identity)
	}
}

// LookupHash is Lookup of the connection whose identity hash is idHash.
func (m *Manager) LookupHash(ctx context.Context, idHash string) (*tokenstore.Record, error) {
	if identity := m.identityOf(idHash); identity != "" {
		return m.Lookup(ctx, identity)
	}
	key := tokenstore.Key{Provider: m.name, IdentityHash: idHash}
	rec, err := m.cfg.Store.LoadConnection(ctx, key)
	if err != nil {
		return nil, m.storeErr(key, err)
	}
	return rec, nil
}

// DisconnectHash is Disconnect of the connection whose identity hash is
// idHash.
func (m *Manager) DisconnectHash(ctx context.Context, idHash string) (Disconnection, error) {
	return m.disconnect(ctx, tokenstore.Key{Provider: m.name, IdentityHash: idHash}, m.identityOf(idHash))
}

// RefreshHash redeems the refresh token of the connection whose identity
// hash is idHash now, fresh or not, through the refresh protocol (one
// refresh per connection, anywhere; persisted before use). It joins a
// refresh already in flight for the connection rather than making a
// second. It returns the stored record after the refresh. Errors are
// Refresh's.
func (m *Manager) RefreshHash(ctx context.Context, idHash string) (*tokenstore.Record, error) {
	a := &refreshAttempt{m: m, key: tokenstore.Key{Provider: m.name, IdentityHash: idHash}, identity: m.identityOf(idHash), force: true}
	if _, err := m.refresh(ctx, a); err != nil {
		return nil, err
	}
	return m.LookupHash(ctx, idHash)
}

// KeepAlive redeems the refresh token of the connection whose identity
// hash is idHash if it has not been refreshed (or connected) since
// idleSince, judged on the record read again under the connection's lock,
// through the refresh protocol: so of any number of instances asking at
// once, one refreshes and the others find it alive. It keeps alive a
// refresh token that the provider expires when unused (Google: six months,
// https://developers.google.com/identity/protocols/oauth2#expiration). It
// returns the stored record afterwards; errors are Refresh's.
func (m *Manager) KeepAlive(ctx context.Context, idHash string, idleSince time.Time) (*tokenstore.Record, error) {
	a := &refreshAttempt{m: m, key: tokenstore.Key{Provider: m.name, IdentityHash: idHash}, identity: m.identityOf(idHash),
		force: true, idleSince: idleSince}
	if _, err := m.refresh(ctx, a); err != nil {
		return nil, err
	}
	return m.LookupHash(ctx, idHash)
}

// LastActive is when the connection's refresh token was last used or
// issued: its last refresh, else its connection.
func LastActive(rec *tokenstore.Record) time.Time {
	if rec.RefreshedAt.After(rec.ConnectedAt) {
		return rec.RefreshedAt
	}
	return rec.ConnectedAt
}
