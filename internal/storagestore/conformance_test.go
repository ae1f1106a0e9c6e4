package storagestore_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// TestStorageStoreConformance runs the Store conformance suite against two
// StorageStores over one certmagic.FileStorage directory, as two Caddy
// instances sharing a storage would have them.
func TestStorageStoreConformance(t *testing.T) {
	var dir string // the backing directory of the latest newStore call
	var latest *storagestore.Store
	newStore := func(t *testing.T) (tokenstore.Store, tokenstore.Store) {
		dir = t.TempDir()
		keys, err := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{7}, tokenstore.KeySize)})
		if err != nil {
			t.Fatal(err)
		}
		a := storagestore.New(&certmagic.FileStorage{Path: dir}, keys, "")
		b := storagestore.New(&certmagic.FileStorage{Path: dir}, keys, "")
		latest = a
		return a, b
	}
	dump := func(t *testing.T) [][]byte {
		var blobs [][]byte
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			blobs = append(blobs, []byte(path))
			if d.Type().IsRegular() {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				blobs = append(blobs, b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return blobs
	}
	// Tamper flips one bit of the sealed record on disk.
	tamper := func(t *testing.T, k tokenstore.Key) {
		key, err := latest.ConnectionKey(k)
		if err != nil {
			t.Fatal(err)
		}
		storetest.TamperFile(t, dir, key)
	}
	storetest.Run(t, newStore, storetest.Options{Dump: dump, SaveNeedsLock: true, Tamper: tamper})
}
