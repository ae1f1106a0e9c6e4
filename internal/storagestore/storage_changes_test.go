package storagestore

import (
	"context"
	"errors"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
)

// changeStores returns two StorageStores over one directory, on one fake
// clock, and the directory.
func changeStores(t *testing.T) (a, b *Store, clk *simtest.Clock, dir string) {
	t.Helper()
	dir = t.TempDir()
	clk = simtest.NewClock()
	kr := mustKeyring(t, testKey("changes"))
	a = New(&certmagic.FileStorage{Path: dir}, kr, "")
	b = New(&certmagic.FileStorage{Path: dir}, kr, "")
	a.Now, b.Now = clk.Now, clk.Now
	return a, b, clk, dir
}

func next(t *testing.T, sub tokenstore.ChangeSubscription) ([]tokenstore.Key, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return sub.Next(ctx, time.Millisecond)
}

// wantChange fails t unless the next read of sub delivers exactly k.
func wantChange(t *testing.T, what string, sub tokenstore.ChangeSubscription, k tokenstore.Key) {
	t.Helper()
	if keys, err := next(t, sub); err != nil || len(keys) != 1 || keys[0] != k {
		t.Fatalf("%s: got %v %v, want %s", what, keys, err, k)
	}
}

// A subscriber that could not list for longer than the gap may have missed
// a bucket that left its window: it must say so rather than go on as if
// nothing happened (its caller then drops everything it cached).
func TestStorageChangesGapReportsMissed(t *testing.T) {
	a, b, clk, _ := changeStores(t)
	ctx := context.Background()
	sub, err := b.SubscribeChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := tokenstore.KeyOf("fitbit", "alice")
	if err := a.PublishChange(ctx, k); err != nil {
		t.Fatal(err)
	}
	clk.Advance(changeGap / 2)
	wantChange(t, "within the gap", sub, k)

	// Away for longer than the window: the change published meanwhile is in
	// a bucket the subscriber no longer lists.
	if err := a.PublishChange(ctx, tokenstore.KeyOf("fitbit", "bob")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(changeLookback + changeBucket)
	if keys, err := next(t, sub); !errors.Is(err, tokenstore.ErrChangesMissed) {
		t.Fatalf("after a gap of %v: %v %v, want tokenstore.ErrChangesMissed", changeLookback+changeBucket, keys, err)
	}
	// It goes on from the present.
	clk.Advance(time.Second)
	if err := a.PublishChange(ctx, k); err != nil {
		t.Fatal(err)
	}
	wantChange(t, "after reporting the gap", sub, k)
}

// A marker that lands in an earlier bucket than the subscriber last listed
// (the publisher's clock runs behind, or its write was slow) is delivered
// while it is within the lookback.
func TestStorageChangesLateMarkerDelivered(t *testing.T) {
	a, b, clk, _ := changeStores(t)
	ctx := context.Background()
	sub, err := b.SubscribeChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(changeBucket)
	if keys, err := next(t, sub); err != nil || len(keys) != 0 {
		t.Fatalf("nothing published: %v %v", keys, err)
	}
	a.Now = func() time.Time { return clk.Now().Add(-changeLookback / 2) }
	k := tokenstore.KeyOf("fitbit", "alice")
	if err := a.PublishChange(ctx, k); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	wantChange(t, "late marker", sub, k)
}

// Buckets past the retention are deleted; those in the window are not.
func TestStorageChangesSweep(t *testing.T) {
	a, b, clk, dir := changeStores(t)
	ctx := context.Background()
	sub, err := b.SubscribeChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PublishChange(ctx, tokenstore.KeyOf("fitbit", "alice")); err != nil {
		t.Fatal(err)
	}
	buckets := func() int {
		entries, err := os.ReadDir(filepath.Join(dir, DefaultPrefix, "changes"))
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	if n := buckets(); n != 1 {
		t.Fatalf("%d buckets after one change", n)
	}
	// Read often enough to stay within the gap, until past the retention.
	for elapsed := time.Duration(0); elapsed <= changeRetention+changeSweepEvery+changeBucket; elapsed += changeGap / 2 {
		clk.Advance(changeGap / 2)
		if _, err := next(t, sub); err != nil {
			t.Fatal(err)
		}
		if err := a.PublishChange(ctx, tokenstore.KeyOf("fitbit", "bob")); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, DefaultPrefix, "changes"))
	if err != nil {
		t.Fatal(err)
	}
	oldest := changeBucketOf(clk.Now().Add(-changeRetention - changeSweepEvery - changeBucket))
	for _, e := range entries {
		if b, err := strconv.ParseInt(e.Name(), 10, 64); err != nil || b <= oldest {
			t.Errorf("bucket %s is past the retention and still there (now %d)", e.Name(), changeBucketOf(clk.Now()))
		}
	}
	if len(entries) == 0 {
		t.Error("the sweep deleted the buckets in the window too")
	}
}

// Names in a bucket that are not markers (a storage's temporary files) are
// ignored.
func TestStorageChangesIgnoresStrayFiles(t *testing.T) {
	a, b, clk, dir := changeStores(t)
	ctx := context.Background()
	sub, err := b.SubscribeChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bucket := filepath.Join(dir, DefaultPrefix, "changes", strconv.FormatInt(changeBucketOf(clk.Now()), 10))
	if err := os.MkdirAll(bucket, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x.tmp123", "1.2.fitbit.nothex", "1.2.Fit!bit." + tokenstore.IdentityHash("a")} {
		if err := os.WriteFile(filepath.Join(bucket, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k := tokenstore.KeyOf("fitbit", "alice")
	if err := a.PublishChange(ctx, k); err != nil {
		t.Fatal(err)
	}
	wantChange(t, "among stray files", sub, k)
}
