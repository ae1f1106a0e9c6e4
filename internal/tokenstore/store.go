// Package tokenstore stores per-user OAuth connections and pending
// authorizations durably and encrypted (AES-256-GCM, the storage key as
// associated data) over Caddy's storage (certmagic.Storage).
//
// Storage keys never contain a raw identity or state, only SHA-256 hashes:
//
//	<prefix>/connections/<provider>/<IdentityHash(identity)>
//	<prefix>/pending/<hex SHA-256(state)>
package tokenstore

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when there is no such connection or pending
// authorization (or another caller already took it).
var ErrNotFound = errors.New("tokenstore: not found")

// Store is durable storage for connections and pending authorizations.
type Store interface {
	// LoadConnection returns the identity's record for provider, or ErrNotFound.
	LoadConnection(ctx context.Context, provider, identity string) (*Record, error)
	// SaveConnection writes rec; rec.Provider and rec.IdentityHash must be set.
	// On success rec.Version is the stored version (previous version + 1).
	SaveConnection(ctx context.Context, rec *Record) error
	// DeleteConnection removes the record; nil when there is none.
	DeleteConnection(ctx context.Context, provider, identity string) error
	// PutPending stores p under a key derived from p.State.
	PutPending(ctx context.Context, p *Pending) error
	// TakePending returns and deletes the pending authorization for state.
	// Of any number of concurrent callers (in any process sharing the
	// storage) exactly one gets it; the others get ErrNotFound. An expired
	// one is deleted and ErrExpired returned.
	TakePending(ctx context.Context, state string) (*Pending, error)
	// PurgeExpiredPending deletes pending authorizations expired at now and
	// returns how many it deleted.
	PurgeExpiredPending(ctx context.Context, now time.Time) (int, error)
}
