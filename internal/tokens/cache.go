package tokens

import (
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// touchEvery bounds how often a hit updates the LRU's recency order. The LRU
// takes a mutex on every Get (a hit moves the entry to the front), which
// would make every proxied request of every user meet on one lock; instead a
// hit is lock-free and refreshes recency at most this often per identity.
const touchEvery = time.Second

// cache maps identity → the newest known *entry, bounded in size with LRU
// eviction. Reads of a cached identity are lock-free: a sync.Map lookup
// (lock-free for keys it has promoted) and an atomic load.
type cache struct {
	slots sync.Map                     // identity → *slot
	order *lru.Cache[string, struct{}] // recency and the size bound
}

type slot struct {
	entry   atomic.Pointer[entry]
	touched atomic.Int64 // unix nanoseconds of the last recency update
}

func newCache(size int) *cache {
	c := &cache{}
	// Eviction drops the slot; a concurrent put may have just refilled it,
	// which costs a store read later, never a wrong token.
	c.order, _ = lru.NewWithEvict[string, struct{}](size, func(identity string, _ struct{}) {
		c.slots.Delete(identity)
	}) // only fails for size <= 0, which New prevents
	return c
}

func (c *cache) get(identity string) *entry {
	v, ok := c.slots.Load(identity)
	if !ok {
		return nil
	}
	s := v.(*slot)
	if now := time.Now().UnixNano(); now-s.touched.Load() > int64(touchEvery) {
		s.touched.Store(now)
		c.order.Get(identity)
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
	s := new(slot)
	s.touched.Store(time.Now().UnixNano())
	v, loaded := c.slots.LoadOrStore(identity, s)
	if !loaded {
		c.order.Add(identity, struct{}{})
	}
	return v.(*slot)
}

func (c *cache) remove(identity string) {
	c.order.Remove(identity) // the eviction callback deletes the slot
	c.slots.Delete(identity)
}

func (c *cache) len() int { return c.order.Len() }

// replace swaps old for e as identity's entry, if old is still the entry.
func (c *cache) replace(identity string, old, e *entry) bool {
	v, ok := c.slots.Load(identity)
	if !ok {
		return false
	}
	return v.(*slot).entry.CompareAndSwap(old, e)
}
