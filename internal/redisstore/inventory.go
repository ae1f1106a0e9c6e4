package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// tokenstore.Inventory in a Store. Redis keeps no order of keys, and KEYS
// would block the server, so each page is one SCAN over the class's keys
// (on every master of a cluster) that keeps the page after the cursor
// (tokenstore.Pager): a walk of N connections in pages of P costs N/P
// scans, each a round trip per thousand keys of the whole key space. Fine
// for an operator's sweep; not for a request.

var _ tokenstore.Inventory = (*Store)(nil)

// scan calls found for every key matching match, once per key as far as
// SCAN promises (a key present throughout is found; the Pager drops
// repeats). found is never called concurrently.
func (s *Store) scan(ctx context.Context, match string, found func(key string)) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, match, 1000).Iterator()
		for it.Next(ctx) {
			found(it.Val())
		}
		return it.Err()
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, c)
		})
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return fmt.Errorf("redisstore: scanning %s: %w", match, err)
	}
	return nil
}

// ListConnections implements tokenstore.Inventory.
func (s *Store) ListConnections(ctx context.Context, q tokenstore.ListQuery) ([]tokenstore.Key, string, error) {
	// Neither the prefix nor a provider name can hold a glob character.
	base := s.prefix + ":conn:"
	match := base + "*"
	if q.Provider != "" && tokenstore.ValidateProvider(q.Provider) == nil {
		match = base + q.Provider + ":*"
	}
	return tokenstore.PageConnections(q, func(offer func(tokenstore.Key)) error {
		return s.scan(ctx, match, func(key string) {
			provider, idHash, _ := strings.Cut(strings.TrimPrefix(key, base), ":")
			if k, ok := tokenstore.ParseKey(provider + "/" + idHash); ok {
				offer(k)
			}
		})
	})
}

// ListSealed implements tokenstore.Inventory. A value taken, deleted or
// expired between the scan and its read is left out of the page.
func (s *Store) ListSealed(ctx context.Context, class tokenstore.Class, q tokenstore.ListQuery) ([]tokenstore.SealedValue, string, error) {
	base, err := s.sealedBase(class)
	if err != nil {
		return nil, "", err
	}
	return tokenstore.PageSealed(ctx, class, q, func(offer func(string)) error {
		// An entry's key is <base><kind>:<hash>, its ID <kind>/<hash>.
		return s.scan(ctx, base+"*", func(key string) { offer(strings.Replace(strings.TrimPrefix(key, base), ":", "/", 1)) })
	}, s.LoadSealed)
}

// LoadSealed implements tokenstore.Inventory.
func (s *Store) LoadSealed(ctx context.Context, class tokenstore.Class, id string) (tokenstore.SealedValue, error) {
	v, err := s.sealedValue(class, id)
	if err != nil {
		return v, err
	}
	v.Stored, err = s.client.Get(ctx, v.Name).Bytes()
	if errors.Is(err, redis.Nil) {
		return v, tokenstore.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("redisstore: loading %s %s: %w", class, v.Name, err)
	}
	return v, nil
}

// replaceSealedScript is ReplaceSealed's compare-and-set, keeping the TTL.
//
//	KEYS[1] the key   ARGV[1] the value read   ARGV[2] its replacement
var replaceSealedScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`)

// deleteSealedScript is DeleteSealed's compare-and-delete.
//
//	KEYS[1] the key   ARGV[1] the value read
var deleteSealedScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
`)

// ReplaceSealed implements tokenstore.Inventory with one script
// (replaceSealedScript), atomic against GETDEL and every other client.
func (s *Store) ReplaceSealed(ctx context.Context, v tokenstore.SealedValue, with []byte) (bool, error) {
	return s.swapSealed(ctx, v, replaceSealedScript, v.Stored, with)
}

// DeleteSealed implements tokenstore.Inventory with one script
// (deleteSealedScript).
func (s *Store) DeleteSealed(ctx context.Context, v tokenstore.SealedValue) (bool, error) {
	return s.swapSealed(ctx, v, deleteSealedScript, v.Stored)
}

func (s *Store) swapSealed(ctx context.Context, v tokenstore.SealedValue, script *redis.Script, args ...any) (bool, error) {
	want, err := s.sealedValue(v.Class, v.ID)
	if err != nil {
		return false, err
	}
	if want.Name != v.Name {
		return false, fmt.Errorf("redisstore: %s %s is not named %s in this store", v.Class, v.ID, v.Name)
	}
	res, err := script.Run(ctx, s.client, []string{v.Name}, args...).Int64()
	if err != nil {
		return false, fmt.Errorf("redisstore: rewriting %s %s: %w", v.Class, v.Name, err)
	}
	return res == 1, nil
}

// sealedBase is the key prefix of class's values.
func (s *Store) sealedBase(class tokenstore.Class) (string, error) {
	switch class {
	case tokenstore.ClassPending:
		return s.prefix + ":pending:", nil
	case tokenstore.ClassEntry:
		return s.prefix + ":entry:", nil
	}
	return "", tokenstore.ValidateSealedID(class, "")
}

// sealedValue names the value of class with id, without its bytes.
func (s *Store) sealedValue(class tokenstore.Class, id string) (tokenstore.SealedValue, error) {
	v := tokenstore.SealedValue{Class: class, ID: id}
	if err := tokenstore.ValidateSealedID(class, id); err != nil {
		return v, err
	}
	base, _ := s.sealedBase(class)
	v.Name = base + strings.Replace(id, "/", ":", 1)
	return v, nil
}
