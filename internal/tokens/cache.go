package tokens

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// touchEvery bounds how often a hit updates the LRU's recency order, which
// takes its shard's mutex (a hit moves the entry to the front). Between
// touches a hit is lock-free.
const touchEvery = time.Second

// orderShards splits the recency order so that the touches of many
// identities (with 100,000 users most hits are an identity's first in a
// second) rarely meet on one mutex. Eviction is LRU within a shard.
const orderShards = 64

// cache maps identity → the newest known *entry, bounded in size with LRU
// eviction. Reads of a cached identity are a sync.Map lookup (lock-free for
// keys it has promoted) and an atomic load.
//
// The change feed names connections by identity hash, never by identity, so
// the cache also keeps hash → identity (byHash). It is maintained where a
// slot is created or dropped, under the identity's shard mutex, never on a
// hit: a hit computes no hash.
type cache struct {
	slots  sync.Map // identity → *slot
	byHash sync.Map // tokenstore.IdentityHash(identity) → identity, for every slot
	seed   maphash.Seed
	now    func() time.Time
	shards [orderShards]shard
}

// shard orders the slots of its identities by recency. Its mutex guards the
// order and every creation or removal of a slot of its identities (in slots
// and byHash), so that those three always agree.
type shard struct {
	mu    sync.Mutex
	order *simplelru.LRU[string, struct{}]
}

type slot struct {
	entry atomic.Pointer[entry]
	// gen counts the evictions of this slot (by the change feed, an age
	// check, or a purge). A load that read the store before an eviction
	// must not cache what it read: see fill.
	gen     atomic.Uint64
	touched atomic.Int64 // unix nanoseconds of the last recency update
}

func newCache(size int, now func() time.Time) *cache {
	c := &cache{seed: maphash.MakeSeed(), now: now}
	per := max(size/orderShards, 1)
	for i := range c.shards {
		// The callback runs inside order.Add and order.Remove, so under the
		// shard's mutex. Eviction drops the slot; a put that loaded it just
		// before may store into the dropped slot, which costs a store read
		// later, never a wrong token.
		c.shards[i].order, _ = simplelru.NewLRU[string, struct{}](per, func(identity string, _ struct{}) {
			c.slots.Delete(identity)
			c.byHash.Delete(tokenstore.IdentityHash(identity))
		}) // only fails for size <= 0
	}
	return c
}

func (c *cache) shard(identity string) *shard {
	return &c.shards[maphash.String(c.seed, identity)%orderShards]
}

func (c *cache) get(identity string, now time.Time) *entry {
	v, ok := c.slots.Load(identity)
	if !ok {
		return nil
	}
	s := v.(*slot)
	if n := now.UnixNano(); n-s.touched.Load() > int64(touchEvery) {
		s.touched.Store(n)
		sh := c.shard(identity)
		sh.mu.Lock()
		sh.order.Get(identity)
		sh.mu.Unlock()
	}
	return s.entry.Load()
}

// stamp records when e was known to match the store: now, as it is being
// cached from a store read or a write. It runs before e is shared.
func (c *cache) stamp(e *entry) *entry {
	e.at = c.now().UnixNano()
	return e
}

// put makes e the identity's entry.
func (c *cache) put(identity string, e *entry) {
	c.slot(identity).entry.Store(c.stamp(e))
}

// fill caches e, read from the store after s.gen was gen, unless the slot
// already has an entry, which is at least as new. If the slot was evicted
// since gen was read — a change was published after the store read began —
// e may be older than the change, so it is taken out again: either the
// evictor's increment comes before the check below, or its eviction comes
// after the CompareAndSwap and removes e itself.
func (c *cache) fill(s *slot, gen uint64, e *entry) *entry {
	if !s.entry.CompareAndSwap(nil, c.stamp(e)) {
		if cur := s.entry.Load(); cur != nil {
			return cur
		}
		return e
	}
	if s.gen.Load() != gen {
		s.entry.CompareAndSwap(e, nil)
	}
	return e
}

// slot returns identity's slot, creating it (and its byHash entry) if
// needed.
func (c *cache) slot(identity string) *slot {
	if v, ok := c.slots.Load(identity); ok {
		return v.(*slot)
	}
	hash := tokenstore.IdentityHash(identity) // outside the mutex
	sh := c.shard(identity)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok := c.slots.Load(identity); ok {
		return v.(*slot)
	}
	s := new(slot)
	c.slots.Store(identity, s)
	c.byHash.Store(hash, identity)
	sh.order.Add(identity, struct{}{}) // may evict the shard's least recent
	return s
}

func (c *cache) remove(identity string) {
	sh := c.shard(identity)
	sh.mu.Lock()
	sh.order.Remove(identity) // the eviction callback deletes the slot
	sh.mu.Unlock()
}

// removeEmpty drops identity's slot s if it holds no entry (a load found
// no connection): slots of identities that are not connected must not
// crowd out those that are.
func (c *cache) removeEmpty(identity string, s *slot) {
	sh := c.shard(identity)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok := c.slots.Load(identity); ok && v.(*slot) == s && s.entry.Load() == nil {
		sh.order.Remove(identity)
	}
}

// replace swaps old for e as identity's entry, if old is still the entry.
func (c *cache) replace(identity string, old, e *entry) bool {
	v, ok := c.slots.Load(identity)
	if !ok {
		return false
	}
	return v.(*slot).entry.CompareAndSwap(old, c.stamp(e))
}

// evictHash evicts the entry of the identity whose hash is idHash, if it is
// cached, and reports whether it did.
func (c *cache) evictHash(idHash string) bool {
	identity, ok := c.byHash.Load(idHash)
	if !ok {
		return false
	}
	v, ok := c.slots.Load(identity)
	if !ok {
		return false
	}
	return evict(v.(*slot))
}

// evictAll evicts every entry (the change feed may have lost changes) and
// returns how many it evicted.
func (c *cache) evictAll() int {
	n := 0
	c.slots.Range(func(_, v any) bool {
		if evict(v.(*slot)) {
			n++
		}
		return true
	})
	return n
}

// evict empties s, so that the next Get reads the store, and makes a load
// in flight drop what it read (fill). The slot stays, holding its place in
// the LRU and byHash. An unsaved entry is kept: it holds a refreshed pair
// that exists nowhere else until it is stored, and is never handed out
// (Get sends it to Refresh, which stores it and then rereads the store).
func evict(s *slot) bool {
	s.gen.Add(1)
	for {
		e := s.entry.Load()
		if e == nil || e.unsaved {
			return false
		}
		if s.entry.CompareAndSwap(e, nil) {
			return true
		}
	}
}

// evictEntry evicts identity's entry if it is still e.
func (c *cache) evictEntry(identity string, e *entry) {
	if v, ok := c.slots.Load(identity); ok {
		s := v.(*slot)
		s.gen.Add(1)
		s.entry.CompareAndSwap(e, nil)
	}
}

// len counts the cached entries.
func (c *cache) len() int {
	n := 0
	c.slots.Range(func(_, v any) bool {
		if v.(*slot).entry.Load() != nil {
			n++
		}
		return true
	})
	return n
}
