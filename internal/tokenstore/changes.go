package tokenstore

import (
	"context"
	"errors"
	"time"
)

// ErrChangesMissed is returned by ChangeSubscription.Next when some changes
// may have been lost (the feed was trimmed past the subscriber, the store
// was reset, or the subscriber was away longer than the feed keeps
// changes). The subscriber must treat everything it derived from the store
// as stale; the subscription goes on from the current position.
var ErrChangesMissed = errors.New("tokenstore: some connection changes may have been missed")

// MaxChangeWait is the longest wait a subscriber may pass to
// ChangeSubscription.Next. The Caddy-storage feed looks back a fixed window
// (changeLookback) and reports ErrChangesMissed after a gap of half of it
// between reads, so it must be read well within that.
const MaxChangeWait = 10 * time.Second

// ChangeFeed tells every instance sharing a store which connections another
// instance created, replaced, deleted or changed the status of, so that its
// cache stops using them. A change names only the connection's key (provider
// and identity hash); what changed is read from the store when needed.
//
// A feed is a hint, never the truth: a subscriber drops what it cached and
// reads the store again. So a change delivered twice, or for a connection
// that did not change, costs one store read; only a lost change would cost
// correctness, and Next reports when one may have been lost.
type ChangeFeed interface {
	// PublishChange tells the store's subscribers (in every process) that
	// key's connection changed. It is called after the change is stored.
	PublishChange(ctx context.Context, key Key) error
	// SubscribeChanges returns a subscription that sees the changes
	// published after it returns (and perhaps a few just before).
	SubscribeChanges(ctx context.Context) (ChangeSubscription, error)
}

// ChangeSubscription reads a ChangeFeed. It is used by one goroutine.
type ChangeSubscription interface {
	// Next returns the changes published since the previous call (or the
	// subscription), each once, waiting up to about wait for one if there
	// are none (a store that cannot be woken waits out wait, then looks).
	// wait must be positive and at most MaxChangeWait. ErrChangesMissed says
	// that changes may have been lost; other errors are failures to reach
	// the store, after which Next may be called again.
	Next(ctx context.Context, wait time.Duration) ([]Key, error)
}
