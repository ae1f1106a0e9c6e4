package tokens

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// A connection's last use is recorded off the hot path, when the cache
// reads or re-reads it, at most once per LastUsedGranularity.
func TestLastUsedRecorded(t *testing.T) {
	clk := simtest.NewClock()
	clk.Advance(time.Now().Sub(clk.Now())) // token expiries are real
	p := newPeers(t, storePairs["storage"], func(c *Config) { c.Now = clk.Now; c.MaxAge = time.Minute })
	p.connect(t, p.a, "alice", "ALICE1")
	hash := tokenstore.IdentityHash("alice")
	lastUsed := func() time.Time {
		at, err := p.b.LastUsed(context.Background(), hash)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	if !lastUsed().IsZero() {
		t.Fatal("a connection never used has a last use")
	}
	first := clk.Now().Truncate(time.Second)
	mustToken(t, p.b, "alice") // a cache miss: read, and recorded
	eventually(t, "the first use is recorded", func() bool { return lastUsed().Equal(first) })

	clk.Advance(30 * time.Minute) // re-read (older than MaxAge), but recorded recently
	old := p.b.cache.get("alice", clk.Now())
	mustToken(t, p.b, "alice")
	eventually(t, "the re-read entry replaces the old", func() bool { return p.b.cache.get("alice", clk.Now()) != old })
	if !lastUsed().Equal(first) {
		t.Fatal("a use within the granularity was recorded")
	}
	clk.Advance(2 * time.Hour)
	later := clk.Now().Truncate(time.Second)
	mustToken(t, p.b, "alice")
	eventually(t, "a use an hour later is recorded", func() bool { return lastUsed().Equal(later) })
}
