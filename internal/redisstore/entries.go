package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Entries (tokenstore.Entries) are STRING keys
//
//	<prefix>:entry:<kind>:<hex sha256(id)>
//
// holding what tokenstore.Keyring.SealEntry makes: an 8-byte big-endian
// expiry in Unix milliseconds (0: never), readable by a script without the
// keyring, then the sealed value. Expiry is judged by Store.Now against that
// header; the Redis TTL (remaining life plus entryMargin) only reclaims the
// memory.

// entryMargin is added to an entry's remaining life for its Redis TTL, so
// that an instance whose clock runs behind still finds the entry (and its
// AddEntry still refuses the id) until its own clock passes the expiry.
const entryMargin = time.Minute

var _ tokenstore.Entries = (*Store)(nil)

// addEntryScript is AddEntry's put-if-absent.
//
//	KEYS[1] entry key
//	ARGV[1] stored value (expiry header, then sealed value)
//	ARGV[2] now, Unix milliseconds
//	ARGV[3] TTL in milliseconds, "0" for none
//
// Returns 1 when written, 0 when an unexpired entry is there. A value too
// short to have a header counts as present: refusing is the safe mistake for
// a nonce guard. A value equal to ARGV[1] counts as written: that is this
// very call, retried by the client after a lost reply (the sealed bytes
// carry a random nonce, so no other call can produce them).
var addEntryScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  if cur == ARGV[1] then
    return 1
  end
  if #cur < 8 then
    return 0
  end
  local exp = 0
  for i = 1, 8 do
    exp = exp * 256 + string.byte(cur, i)
  end
  if exp == 0 or exp > tonumber(ARGV[2]) then
    return 0
  end
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
end
return 1
`)

// EntryKey returns the Redis key of entry kind/id.
func (s *Store) EntryKey(kind, id string) (string, error) {
	if err := tokenstore.ValidateEntry(kind, id, nil); err != nil {
		return "", err
	}
	return s.prefix + ":entry:" + kind + ":" + tokenstore.EntryIDHash(id), nil
}

// sealEntry validates a write and returns its key and stored value.
func (s *Store) sealEntry(kind, id string, value []byte, expires time.Time) (key string, stored []byte, err error) {
	if err := tokenstore.ValidateEntry(kind, id, value); err != nil {
		return "", nil, err
	}
	if key, err = s.EntryKey(kind, id); err != nil {
		return "", nil, err
	}
	stored, err = s.keys.SealEntry(key, value, expires)
	return key, stored, err
}

// entryTTL is the Redis TTL of an entry expiring at expires: its remaining
// life plus entryMargin, or 0 (none) if it never expires. live is false if
// it has expired already.
func (s *Store) entryTTL(expires time.Time) (ttl time.Duration, live bool) {
	if expires.IsZero() {
		return 0, true
	}
	left := expires.Sub(s.now())
	return max(left, 0) + entryMargin, left > 0
}

// PutEntry implements tokenstore.Entries. An entry that has already expired
// is not written; whatever was there is deleted.
func (s *Store) PutEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) error {
	key, stored, err := s.sealEntry(kind, id, value, expires)
	if err != nil {
		return err
	}
	ttl, live := s.entryTTL(expires)
	if !live {
		err = s.client.Del(ctx, key).Err()
	} else {
		err = s.client.Set(ctx, key, stored, ttl).Err() // ttl 0: none
	}
	if err != nil {
		return fmt.Errorf("redisstore: storing entry %s: %w", key, err)
	}
	return nil
}

// AddEntry implements tokenstore.Entries with one script (addEntryScript),
// atomic across every client of the server.
func (s *Store) AddEntry(ctx context.Context, kind, id string, value []byte, expires time.Time) (bool, error) {
	key, stored, err := s.sealEntry(kind, id, value, expires)
	if err != nil {
		return false, err
	}
	ttl, _ := s.entryTTL(expires)
	res, err := addEntryScript.Run(ctx, s.client, []string{key},
		stored, s.now().UnixMilli(), ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("redisstore: adding entry %s: %w", key, err)
	}
	return res == 1, nil
}

// GetEntry implements tokenstore.Entries. A value it cannot decrypt is an
// error wrapping tokenstore.ErrDecrypt.
func (s *Store) GetEntry(ctx context.Context, kind, id string) ([]byte, error) {
	return s.readEntry(ctx, kind, id, "loading", s.client.Get)
}

// TakeEntry implements tokenstore.Entries with GETDEL, which hands the entry
// to exactly one caller across all clients. An expired or undecryptable
// entry is deleted all the same.
func (s *Store) TakeEntry(ctx context.Context, kind, id string) ([]byte, error) {
	return s.readEntry(ctx, kind, id, "taking", s.client.GetDel)
}

func (s *Store) readEntry(ctx context.Context, kind, id, verb string, read func(context.Context, string) *redis.StringCmd) ([]byte, error) {
	key, err := s.EntryKey(kind, id)
	if err != nil {
		return nil, err
	}
	stored, err := read(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, tokenstore.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s entry %s: %w", verb, key, err)
	}
	value, err := s.keys.OpenEntry(key, stored, s.now())
	if err != nil && !errors.Is(err, tokenstore.ErrNotFound) {
		return nil, fmt.Errorf("entry %s: %w", key, err)
	}
	return value, err
}

// DeleteEntry implements tokenstore.Entries.
func (s *Store) DeleteEntry(ctx context.Context, kind, id string) error {
	key, err := s.EntryKey(kind, id)
	if err != nil {
		return err
	}
	if err := s.client.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("redisstore: deleting entry %s: %w", key, err)
	}
	return nil
}

// ListEntries implements tokenstore.Entries with SCAN over the kind's keys
// (on every master of a cluster), then GET of each. SCAN walks the whole
// keyspace (MATCH filters afterwards), a thousand keys a round trip: fine
// for a sweep every few seconds, not for a request path.
func (s *Store) ListEntries(ctx context.Context, kind string, limit int) ([][]byte, error) {
	if err := tokenstore.ValidateEntryKind(kind); err != nil {
		return nil, err
	}
	// Neither the prefix nor the kind can hold a glob character.
	match := s.prefix + ":entry:" + kind + ":*"
	var keys []string
	if err := s.scan(ctx, match, func(key string) { keys = append(keys, key) }); err != nil {
		return nil, err
	}
	var values [][]byte
	now := s.now()
	for _, key := range keys {
		if limit > 0 && len(values) == limit {
			break
		}
		stored, err := s.client.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // taken or expired since the scan
		}
		if err != nil {
			return values, fmt.Errorf("redisstore: loading entry %s: %w", key, err)
		}
		if value, err := s.keys.OpenEntry(key, stored, now); err == nil {
			values = append(values, value)
		}
	}
	return values, nil
}

// PurgeExpiredEntries implements tokenstore.Entries. It deletes nothing and
// returns 0: every entry with an expiry carries a Redis TTL (see PutEntry),
// so Redis expires them itself, and an expired one still there reads as
// missing.
func (s *Store) PurgeExpiredEntries(ctx context.Context, kind string, now time.Time) (int, error) {
	if err := tokenstore.ValidateEntryKind(kind); err != nil {
		return 0, err
	}
	return 0, nil
}
