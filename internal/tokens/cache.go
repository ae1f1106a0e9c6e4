package tokens

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// touchEvery bounds how often a hit updates the LRU's recency order, which
// takes a mutex (a hit moves the entry to the front). Between touches a hit
// is lock-free.
const touchEvery = time.Second

// orderShards splits the recency order so that the touches of many
// identities (with 100,000 users most hits are an identity's first in a
// second) rarely meet on one mutex. Eviction is LRU within a shard.
const orderShards = 64

// cache maps identity → the newest known *entry, bounded in size with LRU
// eviction. Reads of a cached identity are a sync.Map lookup (lock-free for
// keys it has promoted) and an atomic load.
type cache struct {
	slots sync.Map // identity → *slot
	seed  maphash.Seed
	order [orderShards]*lru.Cache[string, struct{}] // recency and the size bound
}

type slot struct {
	entry   atomic.Pointer[entry]
	touched atomic.Int64 // unix nanoseconds of the last recency update
}

func newCache(size int) *cache {
	c := &cache{seed: maphash.MakeSeed()}
	per := max(size/orderShards, 1)
	for i := range c.order {
		// Eviction drops the slot; a concurrent put may have just refilled
		// it, which costs a store read later, never a wrong token.
		c.order[i], _ = lru.NewWithEvict[string, struct{}](per, func(identity string, _ struct{}) {
			c.slots.Delete(identity)
		}) // only fails for size <= 0
	}
	return c
}

func (c *cache) shard(identity string) *lru.Cache[string, struct{}] {
	return c.order[maphash.String(c.seed, identity)%orderShards]
}

func (c *cache) get(identity string, now time.Time) *entry {
	v, ok := c.slots.Load(identity)
	if !ok {
		return nil
	}
	s := v.(*slot)
	if n := now.UnixNano(); n-s.touched.Load() > int64(touchEvery) {
		s.touched.Store(n)
		c.shard(identity).Get(identity)
	}
	return s.entry.Load()
}

// put makes e the identity's entry.
func (c *cache) put(identity string, e *entry) {
	c.slot(identity).entry.Store(e)
}

// putIfAbsent caches e unless the identity already has an entry, which is at
// least as new (e was read from the store before it).
func (c *cache) putIfAbsent(identity string, e *entry) *entry {
	s := c.slot(identity)
	if s.entry.CompareAndSwap(nil, e) {
		return e
	}
	return s.entry.Load()
}

func (c *cache) slot(identity string) *slot {
	if v, ok := c.slots.Load(identity); ok {
		return v.(*slot)
	}
	v, loaded := c.slots.LoadOrStore(identity, new(slot))
	if !loaded {
		c.shard(identity).Add(identity, struct{}{})
	}
	return v.(*slot)
}

func (c *cache) remove(identity string) {
	c.shard(identity).Remove(identity) // the eviction callback deletes the slot
	c.slots.Delete(identity)
}

// replace swaps old for e as identity's entry, if old is still the entry.
func (c *cache) replace(identity string, old, e *entry) bool {
	v, ok := c.slots.Load(identity)
	if !ok {
		return false
	}
	return v.(*slot).entry.CompareAndSwap(old, e)
}

func (c *cache) len() int {
	n := 0
	for _, o := range c.order {
		n += o.Len()
	}
	return n
}
