package storagestore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// otherStorage hides that it is a FileStorage, so a Store over it
// takes the path of every other Caddy storage: the storage's own locks, no
// linking.
type otherStorage struct{ *certmagic.FileStorage }

// TestStorageStoreEntriesFakeClock runs the entry tests again with a fake
// clock, over a FileStorage and over a storage that is not one.
func TestStorageStoreEntriesFakeClock(t *testing.T) {
	for name, wrap := range map[string]func(*certmagic.FileStorage) certmagic.Storage{
		"FileStorage":  func(fs *certmagic.FileStorage) certmagic.Storage { return fs },
		"OtherStorage": func(fs *certmagic.FileStorage) certmagic.Storage { return otherStorage{fs} },
	} {
		t.Run(name, func(t *testing.T) {
			var a, b *storagestore.Store
			newStore := func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
				fs := &certmagic.FileStorage{Path: t.TempDir()}
				keys, err := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{9}, tokenstore.KeySize)})
				if err != nil {
					t.Fatal(err)
				}
				a = storagestore.New(wrap(fs), keys, "")
				b = storagestore.New(wrap(fs), keys, "")
				return a, b
			}
			setNow := func(t *testing.T, now func() time.Time) { a.Now, b.Now = now, now }
			storetest.RunEntries(t, newStore, storetest.Options{SetNow: setNow})
		})
	}
}
