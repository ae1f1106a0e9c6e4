package authserver

import (
	"hash/maphash"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// The access tokens of API calls are kept in memory for a short while, so
// a busy app's calls do not each read two entries from the store. A grant
// revoked on this instance stops its tokens at once (forget); on another
// instance sharing the store, within accessCacheTTL.
const (
	accessCacheSize = 10000
	accessCacheTTL  = 30 * time.Second
	// accessCacheShards split the LRU, whose every Get takes its mutex (a
	// hit moves the entry to the front), so that API calls of different
	// users rarely meet on one lock.
	accessCacheShards = 32
)

type cachedAccess struct {
	p     *Principal
	a     *access
	read  time.Time
	grant string
}

// accessCache is the LRU of checked access tokens, and the grants revoked
// here since (a grant's tokens cannot be listed, so they are filtered out
// on the way out instead). (Not golang-lru's expirable LRU: each of those
// runs a goroutine that never stops, one per config reload.)
type accessCache struct {
	once    sync.Once
	seed    maphash.Seed
	shards  [accessCacheShards]*lru.Cache[string, cachedAccess]
	revoked sync.Map // grant id → time revoked
}

func (c *accessCache) init() {
	c.once.Do(func() {
		c.seed = maphash.MakeSeed()
		for i := range c.shards {
			c.shards[i], _ = lru.New[string, cachedAccess](accessCacheSize / accessCacheShards) // errs only for a size <= 0
		}
	})
}

func (c *accessCache) shard(token string) *lru.Cache[string, cachedAccess] {
	c.init()
	return c.shards[maphash.String(c.seed, token)%accessCacheShards]
}

func (c *accessCache) get(token string, now time.Time) (cachedAccess, bool) {
	sh := c.shard(token)
	e, ok := sh.Get(token)
	if !ok || now.Sub(e.read) >= accessCacheTTL || !now.Before(e.a.Expires) {
		return cachedAccess{}, false
	}
	if _, gone := c.revoked.Load(e.grant); gone {
		sh.Remove(token)
		return cachedAccess{}, false
	}
	return e, true
}

func (c *accessCache) add(token string, e cachedAccess) {
	c.shard(token).Add(token, e)
}

// forget stops the cached tokens of a revoked grant, and drops records of
// revocations older than any cached entry.
func (c *accessCache) forget(grant string, now time.Time) {
	c.revoked.Store(grant, now)
	c.revoked.Range(func(k, v any) bool {
		if now.Sub(v.(time.Time)) > accessCacheTTL {
			c.revoked.Delete(k)
		}
		return true
	})
}
