package ratelimit

import (
	"context"
	"sync/atomic"
	"time"
)

// PeerBlocks carry a provider's 429 to the other instances when each
// counts alone (MemoryWindows; RedisWindows share their blocks already):
// the instance that received it announces the block, and every instance
// learns the cluster's blocks by Set, from wherever they are kept (the
// token store). Keys travel as Hash of the identity, never the identity.
//
// Take and Peek consult them only while some block is known, so the calls
// of a cluster that no provider has refused lately pay one atomic load;
// while one is, each call hashes its identity once.
type PeerBlocks struct {
	// Hash names an identity to the peers (tokenstore.IdentityHash).
	Hash func(identity string) string
	// Announce, if set, tells the peers that the identity hashed to hash
	// is blocked until until. Its failure is Budget.OnError's.
	Announce func(ctx context.Context, hash string, until time.Time) error

	blocks atomic.Pointer[map[string]time.Time] // by Hash, immutable
}

// Set replaces the known blocks (by Hash) with blocks, which it keeps:
// the caller must not change the map afterwards.
func (p *PeerBlocks) Set(blocks map[string]time.Time) { p.blocks.Store(&blocks) }

// until is when a peer's block of identity ends, if one holds at now.
func (p *PeerBlocks) until(identity string, now time.Time) (time.Time, bool) {
	if p == nil {
		return time.Time{}, false
	}
	m := p.blocks.Load()
	if m == nil || len(*m) == 0 {
		return time.Time{}, false
	}
	t, ok := (*m)[p.Hash(identity)]
	return t, ok && now.Before(t)
}

// announce tells the peers of identity's block.
func (p *PeerBlocks) announce(ctx context.Context, identity string, until time.Time) error {
	if p == nil || p.Announce == nil {
		return nil
	}
	return p.Announce(ctx, p.Hash(identity), until)
}
