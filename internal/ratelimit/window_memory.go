package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// windowShards splits the keys so that calls of different identities
// rarely meet on one mutex, as the token cache's shards do.
const windowShards = 64

// MemoryWindows are Windows in this process's memory, one map per shard of
// keys. Each process counts alone: N instances each given Limit/N share a
// provider's budget between them. The project window is one counter every
// call touches, under its own mutex; with no project budget (the default)
// no lock is shared across keys.
type MemoryWindows struct {
	seed    maphash.Seed
	shards  [windowShards]windowShard
	project struct {
		sync.Mutex
		n     int
		reset time.Time
	}
}

type windowShard struct {
	mu sync.Mutex
	m  map[string]windowState
	// sweepAt is the size at which the shard next forgets windows that
	// have ended, so memory follows the identities active in a period.
	sweepAt int
}

// windowState is one key's window. Values, not pointers: updating a key
// already in the map allocates nothing.
type windowState struct {
	n       int
	reset   time.Time // the window's end; zero: none yet
	limit   int       // the provider's own limit (Correct), 0: the Window's
	blocked time.Time // an upstream 429's reset
}

// NewMemoryWindows returns empty MemoryWindows.
func NewMemoryWindows() *MemoryWindows {
	m := &MemoryWindows{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].m = map[string]windowState{}
		m.shards[i].sweepAt = 1024
	}
	return m
}

func (m *MemoryWindows) shard(key string) *windowShard {
	return &m.shards[maphash.String(m.seed, key)%windowShards]
}

// current is st in the window holding now.
func (st windowState) current(w Window, now time.Time) windowState {
	if !now.Before(st.reset) {
		st.n, st.reset, st.limit = 0, w.end(now), 0
	}
	return st
}

func (st windowState) limitOf(w Window) int {
	if st.limit > 0 {
		return st.limit
	}
	return w.Limit
}

// Take implements Windows.
func (m *MemoryWindows) Take(_ context.Context, key string, w, project Window, now time.Time) (Grant, error) {
	if !w.Enabled() {
		return Grant{Allowed: true}, nil
	}
	s := m.shard(key)
	s.mu.Lock()
	st := s.m[key].current(w, now)
	limit := st.limitOf(w)
	switch {
	case now.Before(st.blocked):
		s.mu.Unlock()
		g := refusedUntil(limit, st.reset, st.blocked, now)
		g.Blocked = true
		return g, nil
	case st.n >= limit:
		s.m[key] = st
		s.mu.Unlock()
		return refusedUntil(limit, st.reset, st.reset, now), nil
	}
	st.n++
	s.m[key] = st
	s.sweep(now)
	s.mu.Unlock()
	g := Grant{Allowed: true, Limit: limit, Remaining: limit - st.n, Reset: st.reset}
	if project.Enabled() {
		if until, ok := m.takeProject(project, now); !ok {
			m.giveBack(key, st.reset)
			g := refusedUntil(limit, st.reset, until, now)
			g.Remaining, g.Project = limit-st.n+1, true
			return g, nil
		}
	}
	return g, nil
}

// takeProject counts one call in the project window, or reports its end.
func (m *MemoryWindows) takeProject(w Window, now time.Time) (time.Time, bool) {
	p := &m.project
	p.Lock()
	defer p.Unlock()
	if !now.Before(p.reset) {
		p.n, p.reset = 0, w.end(now)
	}
	if p.n >= w.Limit {
		return p.reset, false
	}
	p.n++
	return p.reset, true
}

// giveBack uncounts a call the project budget refused.
func (m *MemoryWindows) giveBack(key string, reset time.Time) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m[key]; ok && st.reset.Equal(reset) && st.n > 0 {
		st.n--
		s.m[key] = st
	}
}

// sweep forgets ended windows once the shard has doubled since the last
// sweep; called with s.mu held.
func (s *windowShard) sweep(now time.Time) {
	if len(s.m) < s.sweepAt {
		return
	}
	for k, st := range s.m {
		if !now.Before(st.reset) && !now.Before(st.blocked) {
			delete(s.m, k)
		}
	}
	s.sweepAt = max(2*len(s.m), 1024)
}

// Correct implements Windows.
func (m *MemoryWindows) Correct(_ context.Context, key string, c Correction, now time.Time) error {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[key]
	if !ok || !st.reset.Equal(c.Taken) || !now.Before(st.reset) {
		return nil // another window by now: the answer says nothing of it
	}
	st.n = max(st.n+c.Delta, 0)
	if !c.Reset.IsZero() {
		st.reset = c.Reset
	}
	if c.Limit > 0 {
		st.limit = c.Limit
	}
	s.m[key] = st
	return nil
}

// Block implements Windows.
func (m *MemoryWindows) Block(_ context.Context, key string, until, _ time.Time) error {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[key]
	if until.After(st.blocked) {
		st.blocked = until
	}
	s.m[key] = st
	return nil
}

// Peek implements Windows.
func (m *MemoryWindows) Peek(_ context.Context, key string, w Window, now time.Time) (Grant, error) {
	if !w.Enabled() {
		return Grant{Allowed: true}, nil
	}
	s := m.shard(key)
	s.mu.Lock()
	st := s.m[key].current(w, now)
	s.mu.Unlock()
	return st.peek(w, now), nil
}

// peek is the Grant a call would get in st, uncounted.
func (st windowState) peek(w Window, now time.Time) Grant {
	limit := st.limitOf(w)
	switch {
	case now.Before(st.blocked):
		g := refusedUntil(limit, st.reset, st.blocked, now)
		g.Blocked = true
		return g
	case st.n >= limit:
		return refusedUntil(limit, st.reset, st.reset, now)
	}
	return Grant{Allowed: true, Limit: limit, Remaining: limit - st.n, Reset: st.reset}
}
