package tokenstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// MaxEntrySize bounds an entry's value: entries hold a few tokens and ids.
const MaxEntrySize = 16 << 10

// Entries are small sealed values with an expiry, named by a kind and an id:
// state that is not an OAuth 2.0 connection, such as the legacy OAuth 1.0a
// request and access tokens and the nonces of signed requests. The id is
// stored only as its SHA-256 (so ids may be secrets), the value sealed like a
// connection (the storage key, and here the expiry, as associated data).
//
// An expires of zero means the entry never expires. An expired entry reads as
// missing everywhere: GetEntry and TakeEntry return ErrNotFound (TakeEntry
// deletes it), AddEntry replaces it. Expiry is judged by the store's clock
// (StorageStore.Now, the Redis store's Now), to the millisecond.
//
// Both stores keep an entry in the form SealEntry makes, under
//
//	<prefix>/entries/<kind>/<EntryIDHash(id)>   StorageStore
//	<prefix>:entry:<kind>:<EntryIDHash(id)>     Redis store
type Entries interface {
	// PutEntry stores value under kind/id, replacing any entry there.
	PutEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) error
	// AddEntry stores value under kind/id only if no unexpired entry is
	// there, and says whether it did. Of any number of concurrent callers
	// (in any process sharing the store) for one kind/id, exactly one adds.
	AddEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) (added bool, err error)
	// GetEntry returns the value under kind/id, or ErrNotFound.
	GetEntry(ctx context.Context, kind, id string) ([]byte, error)
	// TakeEntry returns and deletes the value under kind/id. Of any number
	// of concurrent callers exactly one gets it; the others get ErrNotFound.
	TakeEntry(ctx context.Context, kind, id string) ([]byte, error)
	// DeleteEntry removes kind/id; nil when there is none.
	DeleteEntry(ctx context.Context, kind, id string) error
	// ListEntries returns the values of up to limit unexpired entries of
	// kind (all of them when limit <= 0), in no particular order; entries
	// that cannot be opened are skipped. It reads every entry of the kind:
	// it is for background sweeps over a kind with few entries (pending
	// revocations), whose values name their own id.
	ListEntries(ctx context.Context, kind string, limit int) ([][]byte, error)
	// PurgeExpiredEntries deletes the entries of kind expired at now and
	// returns how many it deleted (stores whose entries expire on their own
	// may return 0).
	PurgeExpiredEntries(ctx context.Context, kind string, now time.Time) (int, error)
}

// ValidateEntry checks the kind (1–32 of [a-z0-9_]), the id (non-empty) and
// the value size.
func ValidateEntry(kind, id string, value []byte) error {
	if err := ValidateEntryKind(kind); err != nil {
		return err
	}
	if id == "" {
		return errors.New("tokenstore: entry id is empty")
	}
	if len(value) > MaxEntrySize {
		return fmt.Errorf("tokenstore: entry value of %d bytes exceeds %d", len(value), MaxEntrySize)
	}
	return nil
}

// ValidateEntryKind checks an entry kind: 1–32 of [a-z0-9_].
func ValidateEntryKind(kind string) error {
	if kind == "" || len(kind) > 32 {
		return fmt.Errorf("tokenstore: entry kind %q must be 1–32 characters", kind)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("tokenstore: entry kind %q may contain only [a-z0-9_]", kind)
		}
	}
	return nil
}

// EntryIDHash is how an entry id appears in storage keys: hex SHA-256.
func EntryIDHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// entryExpired reports whether an entry with expiry expires is gone at now.
func entryExpired(expires, now time.Time) bool {
	return !expires.IsZero() && !now.Before(expires)
}
