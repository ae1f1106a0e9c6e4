package module

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// blockKind is the store entries that carry a provider's 429 from the
// instance that received it to the others, when each instance counts its
// budget alone (the storage store): one entry per blocked identity and
// registration, expiring with the block. With Redis the budget's own
// windows are shared, blocks included, and none are written.
const blockKind = "budget_block"

// blockEntry is a blockKind entry's value: it names the identity only by
// its hash, as the store's keys do.
type blockEntry struct {
	Provider     string    `json:"provider"`
	IdentityHash string    `json:"identity_hash"`
	Until        time.Time `json:"until"`
}

// peerBlocks returns the PeerBlocks of registration name over store.
func peerBlocks(store tokenstore.Entries, name string) *ratelimit.PeerBlocks {
	return &ratelimit.PeerBlocks{
		Hash: tokenstore.IdentityHash,
		Announce: func(ctx context.Context, hash string, until time.Time) error {
			v, err := json.Marshal(blockEntry{Provider: name, IdentityHash: hash, Until: until})
			if err != nil {
				return err
			}
			return store.PutEntry(ctx, blockKind, name+"/"+hash, v, until)
		},
	}
}

// followBlocks reads the cluster's blocks every interval (the change feed
// of the storage store polls as often) into peers, by registration, until
// ctx is done: a provider's 429 on one instance reaches the others within
// about interval. It reads only the blocks in force, a handful at most.
func followBlocks(ctx context.Context, store tokenstore.Entries, interval time.Duration, peers map[string]*ratelimit.PeerBlocks, log *zap.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing, known, logged := false, false, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		values, err := store.ListEntries(ctx, blockKind, 0)
		if err != nil {
			if !failing && ctx.Err() == nil {
				log.Warn("cannot read the providers' 429s other instances received; retrying", zap.Error(err))
			}
			failing = true
			continue
		}
		failing = false
		if len(values) == 0 && !known {
			continue // nothing blocked, before or now: nothing to replace
		}
		known = len(values) > 0
		blocks := make(map[string]map[string]time.Time, len(peers))
		for name := range peers {
			blocks[name] = map[string]time.Time{}
		}
		for _, v := range values {
			var e blockEntry
			if json.Unmarshal(v, &e) != nil || blocks[e.Provider] == nil || e.IdentityHash == "" {
				continue
			}
			if cur, ok := blocks[e.Provider][e.IdentityHash]; !ok || e.Until.After(cur) {
				blocks[e.Provider][e.IdentityHash] = e.Until
			}
		}
		n := 0
		for name, p := range peers {
			p.Set(blocks[name])
			n += len(blocks[name])
		}
		if n != logged {
			log.Debug("the providers' 429s in force, from every instance", zap.Int("blocked", n))
			logged = n
		}
	}
}
