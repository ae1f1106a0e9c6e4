package tokenstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// Concurrent adds to one owner's index all land, each in its own slot, and
// Live skips what was deleted.
func TestIndexConcurrentAddsAllLand(t *testing.T) {
	keys, err := tokenstore.NewKeyring([][]byte{make([]byte, tokenstore.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	store := storagestore.New(&certmagic.FileStorage{Path: t.TempDir()}, keys, "")
	x := tokenstore.Index{Entries: store, Kind: "test_index"}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		id := fmt.Sprintf("t%d", i)
		if err := store.PutEntry(ctx, "test_item", id, []byte(`{"n":`+fmt.Sprint(i)+`}`), time.Time{}); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := x.Add(ctx, "owner", []byte(id)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := store.DeleteEntry(ctx, "test_item", "t3"); err != nil {
		t.Fatal(err)
	}
	type item struct{ N int }
	ids, items, err := tokenstore.Live(ctx, x, "owner", "test_item", func(it *item) bool { return it.N != 5 })
	if err != nil || len(ids) != 6 || len(items) != 6 {
		t.Fatalf("live %v %v %v", ids, items, err)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"t0", "t1", "t2", "t4", "t6", "t7"}) {
		t.Fatalf("ids %v", ids)
	}
	if ids, _, _ := tokenstore.Live(ctx, x, "nobody", "test_item", func(*item) bool { return true }); len(ids) != 0 {
		t.Fatalf("another owner: %v", ids)
	}
}
