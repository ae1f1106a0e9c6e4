package keepalive_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/keepalive"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

const day = 24 * time.Hour

// backends runs f with a function that opens another handle (another
// instance) on one fresh store: Caddy's file storage, then a real Redis.
func backends(t *testing.T, f func(t *testing.T, open func() tokenstore.Store)) {
	kr, err := tokenstore.NewKeyring([][]byte{bytes.Repeat([]byte{3}, tokenstore.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("storage", func(t *testing.T) {
		dir := t.TempDir()
		f(t, func() tokenstore.Store { return storagestore.New(&certmagic.FileStorage{Path: dir}, kr, "") })
	})
	t.Run("redis", func(t *testing.T) {
		addr := redistest.Start(t)
		f(t, func() tokenstore.Store {
			s, err := redisstore.New(redisstore.Options{Addr: addr, LockTTL: time.Second}, kr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		})
	})
}

// Two instances make a pass at once over: an idle connection (refreshed
// once, by one of them, through the refresh protocol), an active one (left
// alone), one needing re-authorization for longer than purge_reauth_after
// (deleted) and one needing it for less (kept).
func TestPassKeepsIdleAliveAndPurgesDead(t *testing.T) {
	backends(t, func(t *testing.T, open func() tokenstore.Store) {
		sim, err := fitbitsim.Start(fitbitsim.Config{GraceWindow: -1, RateLimitPerHour: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		reg := provider.Registration{
			ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), RedirectURL: "https://gw.example/fitbit/callback",
			Endpoints: provider.Endpoints{AuthURL: sim.URL() + "/oauth2/authorize", TokenURL: sim.URL() + "/oauth2/token",
				RevokeURL: sim.URL() + "/oauth2/revoke", APIBase: sim.URL()},
		}.WithDefaults(provider.Fitbit)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()

		now := time.Now()
		seedStore := open()
		save := func(identity string, status tokenstore.Status, lastRefresh time.Time) *tokenstore.Record {
			tr := sim.MintTokens(strings.ToUpper(identity)) // one live token per user: a user each
			rec := &tokenstore.Record{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash(identity), UserID: tr.UserID,
				Scopes: []string{"activity"}, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, TokenType: "Bearer",
				Expiry: now.Add(time.Hour), Status: status, ConnectedAt: lastRefresh.Add(-day), RefreshedAt: lastRefresh}
			if err := seedStore.SaveConnection(ctx, rec); err != nil {
				t.Fatal(err)
			}
			return rec
		}
		idle := save("idle", tokenstore.StatusOK, now.Add(-40*day))
		active := save("active", tokenstore.StatusOK, now.Add(-time.Hour))
		dead := save("dead", tokenstore.StatusNeedsReauth, now.Add(-100*day))
		recent := save("recent", tokenstore.StatusNeedsReauth, now.Add(-day))
		before := sim.Stats().Refreshes

		var wg sync.WaitGroup
		results := make([]keepalive.Result, 2)
		for i := range results {
			st := open()
			m := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: st})
			k := &keepalive.Keeper{Store: st, Managers: map[string]keepalive.Refresher{"fitbit": m}, Idle: 30 * day, PurgeAfter: 60 * day}
			wg.Go(func() {
				res, err := k.Pass(ctx)
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			})
		}
		wg.Wait()
		if got := sim.Stats().Refreshes - before; got != 1 {
			t.Fatalf("%d refreshes at the provider, want 1 (the idle connection, once); passes %+v", got, results)
		}
		if n := results[0].KeptAlive + results[1].KeptAlive; n < 1 || results[0].Failed+results[1].Failed != 0 {
			t.Fatalf("passes %+v: want the idle connection kept alive, nothing failed", results)
		}
		if n := results[0].Purged + results[1].Purged; n != 1 {
			t.Fatalf("passes %+v: %d purged, want 1", results, n)
		}
		got, err := seedStore.LoadConnection(ctx, tokenstore.KeyOfRecord(idle))
		if err != nil || got.RefreshToken == idle.RefreshToken || now.Sub(got.RefreshedAt) > time.Minute {
			t.Fatalf("the idle connection after the pass: %v, %v", got, err)
		}
		if got, err := seedStore.LoadConnection(ctx, tokenstore.KeyOfRecord(active)); err != nil || got.RefreshToken != active.RefreshToken {
			t.Fatalf("the active connection was touched: %v, %v", got, err)
		}
		if _, err := seedStore.LoadConnection(ctx, tokenstore.KeyOfRecord(dead)); !errors.Is(err, tokenstore.ErrNotFound) {
			t.Fatalf("the long-dead connection: %v, want deleted", err)
		}
		if _, err := seedStore.LoadConnection(ctx, tokenstore.KeyOfRecord(recent)); err != nil {
			t.Fatalf("the recently dead connection: %v, want kept", err)
		}
		// The refreshed pair is the live one: one more refresh succeeds.
		m := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: seedStore})
		if _, err := m.RefreshHash(ctx, idle.IdentityHash); err != nil {
			t.Fatalf("refresh after the keep-alive: %v", err)
		}
	})
}

// Off by default: a keeper with neither period does nothing.
func TestPassOff(t *testing.T) {
	res, err := (&keepalive.Keeper{}).Pass(context.Background())
	if err != nil || res != (keepalive.Result{}) {
		t.Fatalf("Pass = %+v, %v", res, err)
	}
}
