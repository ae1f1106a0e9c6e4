// Command storm measures refresh storms through the built gateway binary,
// with the simulated Fitbit (internal/fitbitsim, rate limit off) as both the
// token endpoint and the API:
//
//	(i)  n concurrent requests for ONE identity whose token just expired
//	     → the simulator must see exactly 1 refresh;
//	(ii) n identities whose tokens expired together, one request each,
//	     all concurrent → exactly 1 refresh per identity (n).
//
// Each is preceded by a baseline burst of the same shape with cached, valid
// tokens (no refresh), and run two ways: "stored expiry in the past" (the gateway refreshes
// before sending; the connection is not cached yet, so the storm also loads
// it from the store) and "Fitbit says expired" (the connection is cached
// and valid by its expiry, the simulator is told to expire its access tokens,
// so every request gets 401 expired_token, and the gateway refreshes once
// and replays). It prints a markdown section.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/bench/internal/benchutil"
	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

var (
	caddyBin = flag.String("caddy", "bench/bin/caddy", "the gateway binary")
	n        = flag.Int("n", 1000, "concurrent requests in (i), identities in (ii)")
	dir      = flag.String("dir", "", "work directory (default: a new temp dir)")
	out      = flag.String("out", "", "also write the markdown section here")
)

type env struct {
	sim    *fitbitsim.Server
	store  *storagestore.Store
	url    string
	client *http.Client
	ctx    context.Context
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	work, cleanup, err := benchutil.WorkDir(*dir, "storm-")
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	storeDir := filepath.Join(work, "store")
	_ = os.RemoveAll(storeDir)

	sim, err := fitbitsim.Start(fitbitsim.Config{ClientID: "BENCH1", ClientSecret: "bench-client-secret", RateLimitPerHour: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	rawKey := make([]byte, 32)
	_, _ = rand.Read(rawKey)
	key := base64.StdEncoding.EncodeToString(rawKey)
	keys, err := tokenstore.ParseKeys([]string{key})
	if err != nil {
		log.Fatal(err)
	}
	e := &env{sim: sim, store: storagestore.New(&certmagic.FileStorage{Path: storeDir}, keys, ""), ctx: context.Background()}

	port, err := benchutil.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	cfgPath := filepath.Join(work, "storm.caddyfile")
	if err := benchutil.WriteGatewayConfig(cfgPath, benchutil.GatewayConfig{
		Port: port, DataDir: filepath.Join(work, "caddy-data"), Store: storeDir, Key: key,
		CacheSize: 4**n + 100, API: sim.APIBase(), TokenURL: sim.TokenURL(),
		Upstream: strings.TrimPrefix(sim.APIBase(), "http://"),
	}); err != nil {
		log.Fatal(err)
	}

	// Seed every connection before the gateway starts.
	past := time.Now().Add(-time.Minute)
	valid := time.Now().Add(8 * time.Hour)
	e.seed("one-single", "ONESGL", past)
	e.seed("one-valid", "ONEVAL", valid)
	e.seed("one-proactive", "ONEPRO", past)
	e.seed("one-reactive", "ONEREA", valid)
	many := func(tag string) []string { return benchutil.Identities("storm-"+tag+"-", 0, *n, 1) }
	simUser := func(id string) string { return strings.ToUpper(strings.NewReplacer("storm-", "", "-", "").Replace(id)) }
	var wg sync.WaitGroup
	seedAll := func(ids []string, exp time.Time) {
		sem := make(chan struct{}, 8)
		for _, id := range ids {
			wg.Add(1)
			sem <- struct{}{}
			go func(id string) { defer wg.Done(); defer func() { <-sem }(); e.seed(id, simUser(id), exp) }(id)
		}
		wg.Wait()
	}
	seedAll(many("pro"), past)
	seedAll(many("rea"), valid)
	seedAll(many("val"), valid)

	proc, err := benchutil.Start(filepath.Join(work, "caddy.log"), *caddyBin, "run", "--adapter", "caddyfile", "--config", cfgPath)
	if err != nil {
		log.Fatal(err)
	}
	defer proc.Stop()
	e.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	if _, err := benchutil.WaitStatus(e.url+"/healthz", "", 200, 20*time.Millisecond, 30*time.Second); err != nil {
		log.Fatalf("storm: gateway did not start: %v (log: %s)", err, filepath.Join(work, "caddy.log"))
	}
	e.client = benchutil.Client(*n)

	var b strings.Builder
	fmt.Fprintf(&b, "### Refresh storms\n\n")
	fmt.Fprintf(&b, "Gateway binary against the simulated Fitbit (token endpoint and API, rate limit off), file-system store; "+
		"all %d requests released at once over pre-opened keep-alive connections; latency per request as the client saw it.\n\n", *n)
	fmt.Fprintf(&b, "| storm | requests | Fitbit refreshes (expected) | API 401s | statuses | p50 ms | p90 ms | p99 ms | max ms | wall ms |\n|---|---|---|---|---|---|---|---|---|---|\n")
	ok := true

	// The cost of one refresh, alone.
	ok = e.row(&b, "reference: 1 request, stored expiry in the past", []string{"one-single"}, 1, nil) && ok
	// Baselines: the same bursts with cached, valid tokens (no refresh), so
	// the storms' latency can be told apart from the burst's own queueing.
	e.warm([]string{"one-valid"})
	ok = e.row(&b, "baseline: 1 identity, cached valid token (no refresh)", repeat("one-valid", *n), 0, nil) && ok
	e.warm(many("val"))
	ok = e.row(&b, fmt.Sprintf("baseline: %d identities, cached valid tokens (no refresh)", *n), many("val"), 0, nil) && ok
	// (i) one identity, n concurrent requests.
	ok = e.row(&b, "(i) 1 identity, stored expiry in the past", repeat("one-proactive", *n), 1, nil) && ok
	e.warm([]string{"one-reactive"})
	ok = e.row(&b, "(i) 1 identity, Fitbit answers 401 expired_token", repeat("one-reactive", *n), 1, func() { sim.ExpireAccessTokens("ONEREA") }) && ok
	// (ii) n identities, one request each.
	ok = e.row(&b, fmt.Sprintf("(ii) %d identities, stored expiry in the past", *n), many("pro"), int64(*n), nil) && ok
	e.warm(many("rea"))
	ok = e.row(&b, fmt.Sprintf("(ii) %d identities, Fitbit answers 401 expired_token", *n), many("rea"), int64(*n), func() {
		for _, id := range many("rea") {
			sim.ExpireAccessTokens(simUser(id))
		}
	}) && ok

	st := sim.Stats()
	fmt.Fprintf(&b, "\nSimulator totals: %d refreshes, %d grace replays, %d refresh-token reuses rejected, %d invalid_grant answers. ", st.Refreshes, st.GraceReplays, st.RefreshReuseRejected, st.InvalidGrants)
	if st.RefreshReuseRejected != 0 || st.InvalidGrants != 0 {
		ok = false
	}
	if ok {
		fmt.Fprintf(&b, "**Met**: one refresh per connection, every request answered 200.\n")
	} else {
		fmt.Fprintf(&b, "**NOT met**: see the rows above.\n")
	}
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if !ok {
		os.Exit(1)
	}
}

func repeat(s string, k int) []string {
	r := make([]string, k)
	for i := range r {
		r[i] = s
	}
	return r
}

// seed stores a connection for identity with tokens the simulator issued to
// simUser.
func (e *env) seed(identity, simUser string, expiry time.Time) {
	tr := e.sim.MintTokens(simUser)
	k := tokenstore.KeyOf("fitbit", identity)
	rec := &tokenstore.Record{
		Provider: k.Provider, IdentityHash: k.IdentityHash, UserID: tr.UserID,
		Scopes: strings.Fields(tr.Scope), AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		TokenType: "Bearer", Expiry: expiry, Status: tokenstore.StatusOK, ConnectedAt: time.Now(),
	}
	if err := e.store.SaveConnection(e.ctx, rec); err != nil {
		log.Fatalf("storm: seeding %s: %v", identity, err)
	}
}

// warm makes the gateway cache the identities (one request each).
func (e *env) warm(ids []string) {
	p := benchutil.HitAll(e.client, e.url+"/1/user/-/profile.json", ids, 32)
	if !p.OK() {
		log.Fatalf("storm: warming failed: %v errors, statuses %v, %s", p.Errors, p.Statuses, p.FirstErr)
	}
}

// row runs one storm: before() (if any), then len(ids) requests released at
// once, and checks the simulator's refresh count.
func (e *env) row(b *strings.Builder, name string, ids []string, want int64, before func()) bool {
	// Open len(ids) keep-alive connections first, so the storm measures the
	// gateway, not TCP handshakes.
	if p := benchutil.HitAll(e.client, e.url+"/healthz", repeat("", len(ids)), len(ids)); !p.OK() {
		log.Fatalf("storm: opening connections: %+v", p.Statuses)
	}
	if before != nil {
		before()
	}
	st0 := e.sim.Stats()
	start := make(chan struct{})
	lat := make([]time.Duration, len(ids))
	status := make([]int, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func(i int, id string) {
			defer wg.Done()
			<-start
			t0 := time.Now()
			s, _, err := benchutil.Get(e.ctx, e.client, e.url+"/1/user/-/profile.json", id)
			lat[i] = time.Since(t0)
			if err != nil {
				s = -1
			}
			status[i] = s
		}(i, id)
	}
	time.Sleep(50 * time.Millisecond) // let every goroutine reach the barrier
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	st1 := e.sim.Stats()
	refreshes := st1.Refreshes - st0.Refreshes
	counts := map[int]int{}
	for _, s := range status {
		counts[s]++
	}
	d := benchutil.Distribution(lat)
	verdict := "✅"
	ok := refreshes == want && counts[200] == len(ids)
	if !ok {
		verdict = "❌"
	}
	fmt.Fprintf(b, "| %s | %d | %d (%d) %s | %d | %v | %s | %s | %s | %s | %s |\n", name, len(ids), refreshes, want, verdict,
		st1.API401-st0.API401, fmtCounts(counts), benchutil.Ms(d.P50), benchutil.Ms(d.P90), benchutil.Ms(d.P99), benchutil.Ms(d.Max), benchutil.Ms(wall))
	return ok
}

func fmtCounts(m map[int]int) string {
	var parts []string
	for s, c := range m {
		name := fmt.Sprint(s)
		if s == -1 {
			name = "error"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, c))
	}
	return strings.Join(parts, " ")
}
