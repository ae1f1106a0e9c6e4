package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// The change feed tests (tokenstore.ChangeFeed): a change published on one
// handle reaches a subscriber on the other, once, and a subscription starts
// at the present.

func (s *suite) testChanges(t *testing.T) {
	subtests(t, []subtest{
		{"ReachOtherHandle", s.testChangesReachOtherHandle},
		{"StartAtSubscribe", s.testChangesStartAtSubscribe},
		{"ConcurrentPublishers", s.testChangesConcurrentPublishers},
		{"IndependentSubscribers", s.testChangesIndependentSubscribers},
		{"InvalidKey", s.testChangesInvalidKey},
	})
}

// changeWait is what the tests pass to Next: short, so that a store that
// waits it out and then looks (storagestore.Store) is read often.
const changeWait = 50 * time.Millisecond

func mustSubscribe(t *testing.T, st tokenstore.Store) tokenstore.ChangeSubscription {
	t.Helper()
	sub, err := st.SubscribeChanges(testCtx(t))
	if err != nil {
		t.Fatalf("SubscribeChanges: %v", err)
	}
	return sub
}

func mustPublish(t *testing.T, st tokenstore.Store, k tokenstore.Key) {
	t.Helper()
	if err := st.PublishChange(testCtx(t), k); err != nil {
		t.Fatalf("PublishChange(%s): %v", k, err)
	}
}

// collect reads sub until every key of want has been delivered (bounded by
// a generous deadline: no timing is asserted), then once more, and fails if
// any key was delivered twice or a key outside want and allowed came.
func collect(t *testing.T, what string, sub tokenstore.ChangeSubscription, want []tokenstore.Key, allowed ...tokenstore.Key) {
	t.Helper()
	ctx := testCtx(t)
	got := map[tokenstore.Key]int{}
	missing := func() int {
		n := 0
		for _, k := range want {
			if got[k] == 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for extra := 1; missing() > 0 || extra > 0; {
		if missing() == 0 {
			extra-- // one more read: nothing may come twice
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d changes not delivered within 20s (got %v)", what, missing(), len(want), got)
		}
		keys, err := sub.Next(ctx, changeWait)
		if err != nil {
			t.Fatalf("%s: Next: %v", what, err)
		}
		for _, k := range keys {
			got[k]++
		}
	}
	ok := map[tokenstore.Key]bool{}
	for _, k := range append(append([]tokenstore.Key{}, want...), allowed...) {
		ok[k] = true
	}
	for k, n := range got {
		switch {
		case !ok[k]:
			t.Errorf("%s: got a change of %s that nobody published after subscribing", what, k)
		case n > 1:
			t.Errorf("%s: the change of %s was delivered %d times", what, k, n)
		}
	}
}

func (s *suite) testChangesReachOtherHandle(t *testing.T) {
	a, b := s.stores(t)
	sub := mustSubscribe(t, b)
	k1 := tokenstore.KeyOf("fitbit", unique("alice"))
	k2 := tokenstore.KeyOf("google_health", unique("bob"))
	mustPublish(t, a, k1)
	mustPublish(t, a, k2)
	collect(t, "two changes", sub, []tokenstore.Key{k1, k2})

	// Later changes, including one of a key seen before, come too.
	mustPublish(t, a, k1)
	k3 := tokenstore.KeyOf("fitbit", unique("carol"))
	mustPublish(t, b, k3) // the subscriber's own handle
	collect(t, "later changes", sub, []tokenstore.Key{k1, k3})
}

// A new subscription does not replay the feed's history: an instance that
// starts has nothing cached, and replaying could evict thousands of entries.
func (s *suite) testChangesStartAtSubscribe(t *testing.T) {
	a, b := s.stores(t)
	old := tokenstore.KeyOf("fitbit", unique("old"))
	mustPublish(t, a, old)
	sub := mustSubscribe(t, b)
	k := tokenstore.KeyOf("fitbit", unique("new"))
	mustPublish(t, a, k)
	collect(t, "after subscribing", sub, []tokenstore.Key{k})
}

func (s *suite) testChangesConcurrentPublishers(t *testing.T) {
	a, b := s.stores(t)
	sub := mustSubscribe(t, a)
	const n = 40
	want := make([]tokenstore.Key, n)
	for i := range want {
		want[i] = tokenstore.KeyOf("fitbit", unique(fmt.Sprintf("user%d", i)))
	}
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, k := range want {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			if err := st.PublishChange(ctx, k); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("PublishChange: %v", err)
	}
	collect(t, "concurrent changes", sub, want)
}

// Every subscriber sees every change: the feed is a broadcast, not a queue.
func (s *suite) testChangesIndependentSubscribers(t *testing.T) {
	a, b := s.stores(t)
	subA, subB := mustSubscribe(t, a), mustSubscribe(t, b)
	subB2 := mustSubscribe(t, b)
	k := tokenstore.KeyOf("fitbit", unique("alice"))
	mustPublish(t, a, k)
	collect(t, "subscriber on a", subA, []tokenstore.Key{k})
	collect(t, "subscriber on b", subB, []tokenstore.Key{k})
	collect(t, "second subscriber on b", subB2, []tokenstore.Key{k})
}

func (s *suite) testChangesInvalidKey(t *testing.T) {
	a, _ := s.stores(t)
	for _, k := range []tokenstore.Key{
		{Provider: "fitbit", IdentityHash: "alice"},
		{Provider: "Fit/bit", IdentityHash: tokenstore.IdentityHash("alice")},
		{},
	} {
		err := a.PublishChange(testCtx(t), k)
		if err == nil {
			t.Errorf("PublishChange(%+v) accepted an invalid key", k)
		}
		if errors.Is(err, tokenstore.ErrChangesMissed) {
			t.Errorf("PublishChange(%+v): %v", k, err)
		}
	}
}
