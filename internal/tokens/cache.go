package tokens

import (
	"hash/maphash"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cacheShards spreads identities over independent LRUs so that requests of
// different users rarely meet on one mutex (hashicorp's LRU locks on Get,
// since a hit moves the entry to the front).
const cacheShards = 64

// cache maps identity → *entry, bounded in total size.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]*lru.Cache[string, *entry]
}

func newCache(size int) *cache {
	per := size / cacheShards
	if per < 1 {
		per = 1
	}
	c := &cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i], _ = lru.New[string, *entry](per) // only fails for size <= 0
	}
	return c
}

func (c *cache) shard(identity string) *lru.Cache[string, *entry] {
	return c.shards[maphash.String(c.seed, identity)%cacheShards]
}

func (c *cache) get(identity string) *entry {
	e, _ := c.shard(identity).Get(identity)
	return e
}

func (c *cache) put(identity string, e *entry) { c.shard(identity).Add(identity, e) }

func (c *cache) remove(identity string) { c.shard(identity).Remove(identity) }

func (c *cache) len() int {
	n := 0
	for _, s := range c.shards {
		n += s.Len()
	}
	return n
}
