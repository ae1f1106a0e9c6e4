package tokenstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
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

// entryHeaderSize is the length of the expiry header of a stored entry.
const entryHeaderSize = 8

// SealEntry returns the stored form of an entry under the storage key key:
// an 8-byte header, the expiry in big-endian Unix milliseconds (0: never),
// then value sealed with key and the header as associated data. The header
// is in the clear so that a Redis script can judge expiry without the
// keyring; the associated data keeps anyone without the keyring from
// altering it or moving the value to another key. The expiry is rounded up
// to the millisecond: an entry may live up to a millisecond longer than
// asked, never shorter (a nonce guard must not lapse early).
func (k *Keyring) SealEntry(key string, value []byte, expires time.Time) ([]byte, error) {
	var header [entryHeaderSize]byte
	if !expires.IsZero() {
		ms := expires.UnixMilli() // floor
		if expires.After(time.UnixMilli(ms)) {
			ms++
		}
		// 0 would mean never: an expiry at or before 1970 is long past.
		binary.BigEndian.PutUint64(header[:], uint64(max(ms, 1)))
	}
	sealed, err := k.Seal(value, entryAD(key, header[:]))
	if err != nil {
		return nil, err
	}
	return append(header[:], sealed...), nil
}

// OpenEntry returns the value of an entry that SealEntry stored under key,
// or ErrNotFound if it has expired at now. Every other failure wraps
// ErrDecrypt; none says anything about the value.
func (k *Keyring) OpenEntry(key string, stored []byte, now time.Time) ([]byte, error) {
	if len(stored) < entryHeaderSize {
		return nil, fmt.Errorf("%w: entry is truncated", ErrDecrypt)
	}
	header := stored[:entryHeaderSize]
	value, err := k.Open(stored[entryHeaderSize:], entryAD(key, header))
	if err != nil {
		return nil, err
	}
	var expires time.Time
	if ms := binary.BigEndian.Uint64(header); ms != 0 {
		expires = time.UnixMilli(int64(ms))
	}
	if entryExpired(expires, now) {
		return nil, ErrNotFound
	}
	if value == nil {
		value = []byte{} // present, if empty
	}
	return value, nil
}

// entryAD is the associated data of an entry: the storage key, then the
// header (fixed length, so the split is unambiguous).
func entryAD(key string, header []byte) []byte {
	return append([]byte(key), header...)
}
