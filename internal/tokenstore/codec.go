package tokenstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The at-rest codec, shared by every backend: a value is JSON sealed by the
// Keyring with its storage key as associated data (entries also bind their
// expiry header; see SealEntry). A backend only moves the bytes, so a third
// one is one file of storage calls plus the conformance suite (storetest),
// and every backend reads what the others' codec wrote.

// SealRecord returns the stored form of rec under the storage key key.
func (k *Keyring) SealRecord(key string, rec *Record) ([]byte, error) {
	return k.sealJSON(key, rec, "record")
}

// OpenRecord opens a connection that SealRecord stored under key and checks
// that it is the one want names: a sealed value copied to another identity's
// key would fail the associated data already, and this also catches a
// record sealed under the right key by a buggy writer. Every failure matches
// ErrUnreadable and ErrDecrypt and says nothing of the value.
func (k *Keyring) OpenRecord(key string, sealed []byte, want Key) (*Record, error) {
	var rec Record
	if err := k.openJSON(key, sealed, &rec, "record"); err != nil {
		return nil, Unreadable(key, err)
	}
	if rec.Provider != want.Provider || rec.IdentityHash != want.IdentityHash {
		return nil, Unreadable(key, fmt.Errorf("%w: record names a different provider or identity", ErrDecrypt))
	}
	rec.SealedBy = SealedKeyID(sealed)
	return &rec, nil
}

// SealPending returns the stored form of p under the storage key key (its
// state is not stored: the key is derived from it).
func (k *Keyring) SealPending(key string, p *Pending) ([]byte, error) {
	return k.sealJSON(key, p, "pending authorization")
}

// OpenPending opens a pending authorization that SealPending stored under
// key for state, and returns ErrExpired if it expired at now. Other
// failures wrap ErrDecrypt.
func (k *Keyring) OpenPending(key string, sealed []byte, state string, now time.Time) (*Pending, error) {
	var p Pending
	if err := k.openJSON(key, sealed, &p, "pending authorization"); err != nil {
		return nil, fmt.Errorf("pending %s: %w", key, err)
	}
	p.State = state
	if !now.Before(p.Expires) {
		return nil, ErrExpired
	}
	return &p, nil
}

func (k *Keyring) sealJSON(key string, v any, what string) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("tokenstore: encoding %s: %w", what, err)
	}
	return k.Seal(plain, []byte(key))
}

func (k *Keyring) openJSON(key string, sealed []byte, v any, what string) error {
	plain, err := k.Open(sealed, []byte(key))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(plain, v); err != nil {
		// The JSON error could quote decrypted bytes; do not include it.
		return fmt.Errorf("%w: decrypted value is not a valid %s", ErrDecrypt, what)
	}
	return nil
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

// InspectSealed opens v (a pending authorization or an entry, as an
// Inventory lists them) without keeping its plaintext, and returns the id of
// the key that sealed it and whether it had expired at now. An error wraps
// ErrDecrypt: no configured key opens it (keyID is still the id its header
// names, if any).
func (k *Keyring) InspectSealed(v SealedValue, now time.Time) (keyID string, expired bool, err error) {
	_, expired, err = k.openSealed(v, now)
	return sealedKeyIDOf(v), expired, err
}

// ResealValue returns v sealed again by the keyring's first key, with the
// same associated data (and, for an entry, the same expiry), for
// Inventory.ReplaceSealed. It fails like InspectSealed when v does not open.
func (k *Keyring) ResealValue(v SealedValue) ([]byte, error) {
	plain, _, err := k.openSealed(v, time.Time{})
	if err != nil {
		return nil, err
	}
	switch v.Class {
	case ClassEntry:
		header := v.Stored[:entryHeaderSize]
		sealed, err := k.Seal(plain, entryAD(v.Name, header))
		if err != nil {
			return nil, err
		}
		return append(slices.Clone(header), sealed...), nil
	default:
		return k.Seal(plain, []byte(v.Name))
	}
}

// openSealed opens v, returning its plaintext and whether it had expired
// at now (never, for a zero now).
func (k *Keyring) openSealed(v SealedValue, now time.Time) (plain []byte, expired bool, err error) {
	switch v.Class {
	case ClassPending:
		plain, err := k.Open(v.Stored, []byte(v.Name))
		if err != nil {
			return nil, false, err
		}
		var p struct {
			Expires time.Time `json:"expires"`
		}
		if json.Unmarshal(plain, &p) != nil {
			return nil, false, fmt.Errorf("%w: decrypted value is not a valid pending authorization", ErrDecrypt)
		}
		return plain, !now.IsZero() && !now.Before(p.Expires), nil
	case ClassEntry:
		if len(v.Stored) < entryHeaderSize {
			return nil, false, fmt.Errorf("%w: entry is truncated", ErrDecrypt)
		}
		// The expiry is in the clear: an expired entry is judged without
		// opening it, so one sealed by a key removed since is not reported
		// as unreadable (it is gone for every reader, awaiting its sweep).
		header := v.Stored[:entryHeaderSize]
		var expires time.Time
		if ms := binary.BigEndian.Uint64(header); ms != 0 {
			expires = time.UnixMilli(int64(ms))
		}
		if !now.IsZero() && entryExpired(expires, now) {
			return nil, true, nil
		}
		plain, err := k.Open(v.Stored[entryHeaderSize:], entryAD(v.Name, header))
		if err != nil {
			return nil, false, err
		}
		return plain, false, nil
	}
	return nil, false, fmt.Errorf("tokenstore: cannot open a sealed %q", v.Class)
}

// sealedKeyIDOf is SealedKeyID of v's sealed part.
func sealedKeyIDOf(v SealedValue) string {
	if v.Class == ClassEntry {
		if len(v.Stored) < entryHeaderSize {
			return ""
		}
		return SealedKeyID(v.Stored[entryHeaderSize:])
	}
	return SealedKeyID(v.Stored)
}
