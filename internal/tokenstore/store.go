// Package tokenstore is the contract of the token stores: what they keep
// (connections, pending authorizations, entries), the interfaces a backend
// implements and its consumers use, the keyring that encrypts it all
// (AES-256-GCM, the storage key as associated data) and the codec every
// backend shares. It gives the refresh protocol what it needs to be safe
// across instances: a per-connection lock, compare-and-set on a record
// version, and an index of refreshes in flight (the write-ahead markers).
//
// A backend stores only what the codec (codec.go) sealed, under keys made of
// hashes, never a raw identity or state: see storagestore and redisstore.
package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned when there is no such connection or pending
	// authorization (or another caller already took it).
	ErrNotFound = errors.New("tokenstore: not found")
	// ErrConflict is returned by SaveConnection when the stored record is no
	// longer the version the caller read: another writer came first.
	ErrConflict = errors.New("tokenstore: the connection changed since it was read (version conflict)")
	// ErrUnreadable is returned (wrapped, with the cause) by LoadConnection
	// when a connection is stored but cannot be opened: sealed with a key no
	// longer in the keyring, altered, or not a record. Retrying does not
	// help; the record can only be deleted (DeleteConnection) or replaced by
	// a fresh consent. The error never holds anything of the value.
	ErrUnreadable = errors.New("tokenstore: the stored connection cannot be read")
)

// Unreadable wraps cause, a failure to open the connection stored under
// key, so that it matches ErrUnreadable (and whatever cause matches, such as
// ErrDecrypt).
func Unreadable(key string, cause error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnreadable, key, cause)
}

// Key names one connection: a provider registration and an identity hash.
type Key struct {
	Provider     string
	IdentityHash string
}

// KeyOf is the key of identity's connection to provider.
func KeyOf(provider, identity string) Key {
	return Key{Provider: provider, IdentityHash: IdentityHash(identity)}
}

// Validate checks that k can name a storage path.
func (k Key) Validate() error {
	if err := ValidateProvider(k.Provider); err != nil {
		return err
	}
	if !IsIdentityHash(k.IdentityHash) {
		return errors.New("tokenstore: identity hash must be 64 lowercase hex digits (use IdentityHash)")
	}
	return nil
}

// String is a loggable form (it holds only hashes).
func (k Key) String() string { return k.Provider + "/" + k.IdentityHash }

// ParseKey is the inverse of Key.String, for stores that list keys in that
// form; ok is false for anything that is not a valid key.
func ParseKey(s string) (k Key, ok bool) {
	provider, idHash, found := strings.Cut(s, "/")
	k = Key{Provider: provider, IdentityHash: idHash}
	return k, found && k.Validate() == nil
}

// KeyOfRecord is the key rec is stored under.
func KeyOfRecord(rec *Record) Key { return Key{Provider: rec.Provider, IdentityHash: rec.IdentityHash} }

// Lock is a held per-connection lock.
type Lock interface {
	// Lost is closed if the lock's lease could not be renewed, so another
	// instance may hold it now. It is nil for stores whose locks cannot
	// report that. Compare-and-set on the record version keeps a holder that
	// lost its lease from overwriting a newer pair either way.
	Lost() <-chan struct{}
	// Unlock releases the lock even if ctx is canceled. Calls after the
	// first do nothing and return nil. If the lease was lost, it releases
	// nothing (the lock may be someone else's now) and says so.
	Unlock(ctx context.Context) error
}

// Store is what a backend implements: durable storage for connections,
// pending authorizations and entries, and the feed of connection changes
// between the instances sharing it. Implementations: storagestore.Store (any
// Caddy storage) and the Redis store; storetest is their conformance suite.
//
// Consumers take less: each package declares the few methods it uses (the
// token manager, the connect flow, the legacy front), as x/oauth2's
// Transport takes a TokenSource.
type Store interface {
	ConnectionStore
	PendingStore
	Entries
	ChangeFeed
	Inventory
}

// ConnectionStore keeps the connections, and what the refresh protocol
// needs to be safe across instances: a per-connection lock, compare-and-set
// on the record version, and the index of refreshes in flight.
type ConnectionStore interface {
	// LoadConnection returns the connection, ErrNotFound, or an error
	// matching ErrUnreadable when one is stored that cannot be opened.
	LoadConnection(ctx context.Context, key Key) (*Record, error)
	// SaveConnection writes rec if the stored record still has version
	// rec.Version (0: none is stored), and sets rec.Version to the new
	// version; otherwise it writes nothing and returns ErrConflict. A record
	// with a Refreshing marker is also listed by ListRefreshing until a
	// version without one is saved. The compare-and-set is atomic across
	// instances in the Redis store; in storagestore.Store only among writers that
	// hold the connection's lock (as the refresh protocol's always do).
	SaveConnection(ctx context.Context, rec *Record) error
	// DeleteConnection removes the connection, readable or not; nil when
	// there is none.
	DeleteConnection(ctx context.Context, key Key) error
	// LockConnection blocks until it holds the connection's lock (across
	// every instance sharing the store) or ctx is done. The lease is renewed
	// while the lock is held.
	LockConnection(ctx context.Context, key Key) (Lock, error)
	// ListRefreshing returns the connections saved with a Refreshing marker:
	// refreshes that were started and may not have finished. It may list a
	// connection whose marker is already gone; check again under the lock.
	ListRefreshing(ctx context.Context) ([]Key, error)
}

// PendingStore keeps the authorizations in flight between a connect
// flow's authorize and its callback.
type PendingStore interface {
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

// RefreshMarker is the write-ahead record of a refresh in flight: saved
// before the token endpoint is called, cleared with the new pair. A marker
// found by a holder of the connection's lock belongs to a refresh that died
// (a crash, a lost lease) and must be recovered: the provider may have
// rotated the pair without the answer reaching the store.
type RefreshMarker struct {
	Since     time.Time `json:"since"`
	TokenHash string    `json:"token_hash"` // TokenHash of the refresh token being redeemed
	Instance  string    `json:"instance,omitempty"`
}

// TokenHash identifies a token in markers and logs without revealing it.
func TokenHash(token string) string {
	return fmt.Sprintf("%.16s", IdentityHash("token\x00"+token))
}
