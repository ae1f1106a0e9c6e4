package rekey_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/rekey"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// opener opens handles on one backing store, each with its own keyring, as
// instances before and after a rotation would.
type opener func(t *testing.T, kr *tokenstore.Keyring) tokenstore.Store

// backends runs f against Caddy's file storage and a real redis-server.
func backends(t *testing.T, f func(t *testing.T, open opener)) {
	t.Run("storage", func(t *testing.T) {
		dir := t.TempDir()
		f(t, func(t *testing.T, kr *tokenstore.Keyring) tokenstore.Store {
			return storagestore.New(&certmagic.FileStorage{Path: dir}, kr, "")
		})
	})
	t.Run("redis", func(t *testing.T) {
		addr := redistest.Start(t)
		f(t, func(t *testing.T, kr *tokenstore.Keyring) tokenstore.Store {
			s, err := redisstore.New(redisstore.Options{Addr: addr, LockTTL: time.Second}, kr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	})
}

func keyring(t *testing.T, seeds ...byte) *tokenstore.Keyring {
	t.Helper()
	var keys [][]byte
	for _, s := range seeds {
		keys = append(keys, bytes.Repeat([]byte{s}, tokenstore.KeySize))
	}
	kr, err := tokenstore.NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// seed stores, through st, n connections, n pending authorizations and n
// live entries, plus one expired entry, and returns the connections.
func seed(t *testing.T, st tokenstore.Store, n int, tag string) []*tokenstore.Record {
	t.Helper()
	ctx := ctxT(t)
	var recs []*tokenstore.Record
	for i := range n {
		rec := storetest.NewRecord([]string{"fitbit", "google"}[i%2], fmt.Sprintf("%s-user-%d", tag, i))
		if err := st.SaveConnection(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		if err := st.PutPending(ctx, storetest.NewPending("fitbit", time.Now().Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if err := st.PutEntry(ctx, "rekey_test", fmt.Sprintf("%s-entry-%d", tag, i), []byte("value"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutEntry(ctx, "rekey_test", tag+"-expired", []byte("v"), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	return recs
}

func wantCounts(t *testing.T, what string, sum *rekey.Summary, keyID string, want rekey.Counts) {
	t.Helper()
	got := sum.Keys[keyID]
	if got == nil || *got != want {
		t.Fatalf("%s: key %s seals %+v, want %+v (summary %+v)", what, keyID, got, want, sum)
	}
}

// A rotation from K1 to K2 that finishes: Check counts what K1 seals, Rekey
// (in small pages) re-seals it all under K2, and afterwards a keyring of K2
// alone opens every record, with its tokens unchanged.
func TestRotationFinishes(t *testing.T) {
	backends(t, func(t *testing.T, open opener) {
		old, rotated, next := keyring(t, 1), keyring(t, 2, 1), keyring(t, 2)
		recs := seed(t, open(t, old), 5, "rot")
		w := &rekey.Walker{Store: open(t, rotated), Keys: rotated}
		k1, k2 := old.PrimaryKeyID(), next.PrimaryKeyID()

		sum, err := w.Check(ctxT(t), rekey.Options{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		wantCounts(t, "check before", sum, k1, rekey.Counts{Connections: 5, Pending: 5, Entries: 5})
		wantCounts(t, "check before", sum, k2, rekey.Counts{})
		if sum.Done() || sum.Primary != k2 || sum.Resealed != 0 {
			t.Fatalf("check before: %+v", sum)
		}

		var reports []rekey.Progress
		sum, err = w.Rekey(ctxT(t), rekey.Options{PageSize: 2, Progress: func(p rekey.Progress) { reports = append(reports, p) }})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Resealed != 15 || !sum.Done() {
			t.Fatalf("rekey: %+v", sum)
		}
		wantCounts(t, "rekey", sum, k2, rekey.Counts{Connections: 5, Pending: 5, Entries: 5})
		if len(reports) < 8 || reports[len(reports)-1].Cursor != "" || reports[len(reports)-1].Sealed != 15 {
			t.Fatalf("progress reports %+v", reports)
		}

		after := &rekey.Walker{Store: open(t, next), Keys: next}
		sum, err = after.Check(ctxT(t), rekey.Options{})
		if err != nil || !sum.Done() || sum.UnreadableCount != 0 {
			t.Fatalf("check with the new key alone: %+v, %v", sum, err)
		}
		wantCounts(t, "check after", sum, k2, rekey.Counts{Connections: 5, Pending: 5, Entries: 5})
		for _, rec := range recs {
			got, err := after.Store.LoadConnection(ctxT(t), tokenstore.KeyOfRecord(rec))
			if err != nil || got.RefreshToken != rec.RefreshToken || got.SealedBy != k2 {
				t.Fatalf("connection after rekey: %v, %v", got, err)
			}
		}
	})
}

// A rekey stopped after its first page resumes from the reported cursor
// and re-seals only what the first run had not.
func TestRekeyResumes(t *testing.T) {
	backends(t, func(t *testing.T, open opener) {
		old, rotated := keyring(t, 1), keyring(t, 2, 1)
		seed(t, open(t, old), 4, "resume")
		w := &rekey.Walker{Store: open(t, rotated), Keys: rotated}

		ctx, cancel := context.WithCancel(ctxT(t))
		var cursor string
		first, err := w.Rekey(ctx, rekey.Options{PageSize: 3, Progress: func(p rekey.Progress) {
			cursor = p.Cursor
			cancel()
		}})
		if !errors.Is(err, context.Canceled) || first.Cursor == "" || first.Cursor != cursor || first.Resealed != 3 {
			t.Fatalf("stopped rekey: %+v, %v (cursor reported %q)", first, err, cursor)
		}
		if !strings.HasPrefix(cursor, "connection:") {
			t.Fatalf("cursor %q", cursor)
		}
		second, err := w.Rekey(ctxT(t), rekey.Options{After: cursor, PageSize: 3})
		if err != nil || second.Resealed != 12-3 {
			t.Fatalf("resumed rekey: %+v, %v; want the 9 left re-sealed", second, err)
		}
		sum, err := w.Check(ctxT(t), rekey.Options{})
		if err != nil || !sum.Done() {
			t.Fatalf("check after the resumed rekey: %+v, %v", sum, err)
		}
		if _, err := w.Rekey(ctxT(t), rekey.Options{After: "nonsense"}); err == nil {
			t.Fatal("a bad cursor was accepted")
		}
	})
}

// Records sealed by a key the keyring lacks are reported, with the key
// their header names and no secret, and can be deleted; readable ones
// cannot be deleted this way.
func TestUnreadableReportedAndDeleted(t *testing.T) {
	backends(t, func(t *testing.T, open opener) {
		foreign, rotated := keyring(t, 9), keyring(t, 2, 1)
		lost := seed(t, open(t, foreign), 1, "lost")
		kept := seed(t, open(t, rotated), 1, "kept")
		w := &rekey.Walker{Store: open(t, rotated), Keys: rotated}

		sum, err := w.Check(ctxT(t), rekey.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if sum.UnreadableCount != 3 || len(sum.Unreadable) != 3 || sum.Done() {
			t.Fatalf("check: %+v", sum)
		}
		wantCounts(t, "check", sum, rotated.PrimaryKeyID(), rekey.Counts{Connections: 1, Pending: 1, Entries: 1})
		// Connections by provider and health, for the connections gauge.
		if got := sum.Connections["fitbit"]; len(sum.Connections) != 1 || got[tokenstore.StatusOK] != 1 || got[rekey.StatusUnreadable] != 1 {
			t.Fatalf("connections by health: %v", sum.Connections)
		}
		for _, u := range sum.Unreadable {
			if u.Reason == "" || (u.Class != tokenstore.ClassConnection && u.KeyID != foreign.PrimaryKeyID()) {
				t.Fatalf("unreadable %+v", u)
			}
			for _, secret := range []string{lost[0].RefreshToken, lost[0].AccessToken} {
				if strings.Contains(u.Reason, secret) {
					t.Fatal("a reason quotes a token")
				}
			}
		}
		// A rekey cannot help them and says so.
		if sum, err := w.Rekey(ctxT(t), rekey.Options{}); err != nil || sum.UnreadableCount != 3 || sum.Resealed != 0 {
			t.Fatalf("rekey over unreadable records: %+v, %v", sum, err)
		}
		if err := w.DeleteUnreadable(ctxT(t), tokenstore.ClassConnection, tokenstore.KeyOfRecord(kept[0]).String()); !errors.Is(err, rekey.ErrReadable) {
			t.Fatalf("DeleteUnreadable of a readable connection = %v", err)
		}
		for _, u := range sum.Unreadable {
			if err := w.DeleteUnreadable(ctxT(t), u.Class, u.ID); err != nil {
				t.Fatalf("DeleteUnreadable(%s %s): %v", u.Class, u.ID, err)
			}
			if err := w.DeleteUnreadable(ctxT(t), u.Class, u.ID); !errors.Is(err, tokenstore.ErrNotFound) {
				t.Fatalf("DeleteUnreadable twice = %v, want ErrNotFound", err)
			}
		}
		sum, err = w.Check(ctxT(t), rekey.Options{})
		if err != nil || !sum.Done() {
			t.Fatalf("check after deleting: %+v, %v", sum, err)
		}
		if _, err := w.Store.LoadConnection(ctxT(t), tokenstore.KeyOfRecord(kept[0])); err != nil {
			t.Fatalf("the readable connection: %v", err)
		}
	})
}

// A rekey racing with refreshes of the same connections (the real token
// manager against the simulated Fitbit, which refuses any reuse of a
// rotated refresh token) loses no refresh token: afterwards every
// connection is sealed by the new key, and its stored refresh token is the
// live one (one more refresh succeeds).
func TestRekeyRacingRefreshes(t *testing.T) {
	backends(t, func(t *testing.T, open opener) {
		sim, err := fitbitsim.Start(fitbitsim.Config{GraceWindow: -1, RateLimitPerHour: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		reg := provider.Registration{
			ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(),
			RedirectURL: "https://gw.example/fitbit/callback",
			Endpoints: provider.Endpoints{AuthURL: sim.URL() + "/oauth2/authorize", TokenURL: sim.URL() + "/oauth2/token",
				RevokeURL: sim.URL() + "/oauth2/revoke", APIBase: sim.URL()},
		}.WithDefaults(provider.Fitbit)

		old, rotated := keyring(t, 1), keyring(t, 2, 1)
		before := open(t, old)
		const n = 6
		var hashes []string
		for i := range n {
			tr := sim.MintTokens(fmt.Sprintf("U%05d", i))
			rec := &tokenstore.Record{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash(fmt.Sprintf("race-%d", i)), UserID: tr.UserID,
				Scopes: []string{"activity"}, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, TokenType: "Bearer",
				Expiry: time.Now().Add(time.Hour), Status: tokenstore.StatusOK, ConnectedAt: time.Now()}
			if err := before.SaveConnection(ctxT(t), rec); err != nil {
				t.Fatal(err)
			}
			hashes = append(hashes, rec.IdentityHash)
		}
		// Two instances after the rotation: one refreshes, one rekeys.
		m := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: open(t, rotated)})
		w := &rekey.Walker{Store: open(t, rotated), Keys: rotated}

		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for _, h := range hashes {
			wg.Go(func() {
				for range 3 {
					if _, err := m.RefreshHash(ctxT(t), h); err != nil {
						errs <- fmt.Errorf("refresh %s: %w", h[:8], err)
					}
				}
			})
		}
		wg.Go(func() {
			for range 2 {
				if _, err := w.Rekey(ctxT(t), rekey.Options{PageSize: 2}); err != nil {
					errs <- err
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		sum, err := w.Rekey(ctxT(t), rekey.Options{})
		if err != nil || !sum.Done() {
			t.Fatalf("final rekey: %+v, %v", sum, err)
		}
		for _, h := range hashes {
			rec, err := m.RefreshHash(ctxT(t), h)
			if err != nil || rec.Status != tokenstore.StatusOK {
				t.Fatalf("refresh after the race: %v, %v (a refresh token was lost)", rec, err)
			}
		}
	})
}
