// Command seed writes N connections straight into a caddy-fitbit token store
// (a certmagic file storage, the gateway's default), sealed with the given
// encryption key exactly as the gateway writes them, for identities
// <idprefix>0 … <idprefix>N-1. Writers run in parallel.
//
//	seed -root /tmp/store -key <base64 32 bytes> -n 100000
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func main() {
	root := flag.String("root", "", "file storage root (the gateway's `storage file_system { root … }`)")
	prefix := flag.String("prefix", storagestore.DefaultPrefix, "storage prefix (storage_prefix)")
	key := flag.String("key", "", "base64 AES-256 encryption key (as in the gateway config)")
	provider := flag.String("provider", "fitbit", "provider registration name")
	n := flag.Int("n", 1000, "number of connections")
	from := flag.Int("from", 0, "first identity number")
	idPrefix := flag.String("idprefix", "u", "identity = idprefix + number")
	expiry := flag.Duration("expiry", 8*time.Hour, "access-token lifetime from now")
	workers := flag.Int("workers", 4*runtime.NumCPU(), "parallel writers")
	overwrite := flag.Bool("overwrite", false, "replace existing records (default: skip identities already stored)")
	fsync := flag.Bool("fsync", false, "write through certmagic's FileStorage (fsync per file, as the gateway does) instead of plain writes")
	flag.Parse()
	if *root == "" || *key == "" {
		log.Fatal("seed: -root and -key are required")
	}
	keys, err := tokenstore.ParseKeys([]string{*key})
	if err != nil {
		log.Fatal(err)
	}
	var storage certmagic.Storage = &certmagic.FileStorage{Path: *root}
	if !*fsync {
		storage = &fastStorage{FileStorage: &certmagic.FileStorage{Path: *root}}
	}
	store := storagestore.New(storage, keys, *prefix)
	ctx := context.Background()
	now := time.Now()
	exp := now.Add(*expiry)

	var next, done, skipped atomic.Int64
	next.Store(int64(*from))
	end := int64(*from + *n)
	start := time.Now()
	stop := make(chan struct{})
	go func() { // progress for long runs
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				fmt.Fprintf(os.Stderr, "seed: %d/%d written (%.0f/s)\n", d, *n, float64(d)/time.Since(start).Seconds())
			}
		}
	}()
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= end || firstErr.Load() != nil {
					return
				}
				identity := *idPrefix + strconv.FormatInt(i, 10)
				k := tokenstore.KeyOf(*provider, identity)
				rec := &tokenstore.Record{
					Provider:     k.Provider,
					IdentityHash: k.IdentityHash,
					UserID:       fmt.Sprintf("B%05X", i),
					Scopes:       []string{"activity", "heartrate", "profile", "sleep"},
					AccessToken:  accessToken(i),
					RefreshToken: randHex(32),
					TokenType:    "Bearer",
					Expiry:       exp,
					Status:       tokenstore.StatusOK,
					ConnectedAt:  now,
				}
				if *overwrite {
					if cur, err := store.LoadConnection(ctx, k); err == nil {
						rec.Version = cur.Version
					}
				}
				err := store.SaveConnection(ctx, rec)
				if err == tokenstore.ErrConflict && !*overwrite {
					skipped.Add(1)
					continue
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if p := firstErr.Load(); p != nil {
		log.Fatalf("seed: %v", *p)
	}
	took := time.Since(start)
	fmt.Printf("seed: %d connections written, %d already present, in %v (%.0f/s, %d writers) under %s\n",
		done.Load(), skipped.Load(), took.Round(time.Millisecond), float64(done.Load())/took.Seconds(), *workers, *root)
}

// fastStorage is certmagic's FileStorage (same file names, same reads)
// whose Store writes the file without the fsync and rename of an atomic
// write: a fixture needs no crash safety, and fsyncing a million files
// takes a quarter of an hour on a virtual disk.
type fastStorage struct {
	*certmagic.FileStorage
	dirs sync.Map
}

func (s *fastStorage) Store(_ context.Context, key string, value []byte) error {
	name := s.Filename(key)
	dir := filepath.Dir(name)
	if _, ok := s.dirs.Load(dir); !ok {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		s.dirs.Store(dir, true)
	}
	return os.WriteFile(name, value, 0o600)
}

// accessToken is a JWT-sized opaque token (Fitbit's are ~250-300 bytes).
func accessToken(i int64) string {
	return "eyJhbGciOiJIUzI1NiJ9.bench-" + strconv.FormatInt(i, 10) + "." + randHex(100)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
