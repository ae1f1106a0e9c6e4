// Command legacy measures the legacy OAuth 1.0a path against plain Caddy. A
// Go load generator sends GETs signed with HMAC-SHA1 (a fresh nonce and the
// current timestamp each, as a 2015 app does) through:
//
//	(a)  plain Caddy, reverse_proxy adding a static Bearer header (the
//	     signature is ignored);
//	(e)  the gateway: fitbit_oauth1 verifies the signature, records the nonce
//	     in the file-system store, and the fitbit transport injects the
//	     connection's cached token;
//	(er) the same with the Redis store (when redis-server is installed).
//
// Every target gets the same signed requests from the same client, so the
// client's signing cost is the same everywhere. Identities' connections and
// access tokens are seeded into the stores beforehand (no browser flow), and
// each identity is requested once before measuring so its token is cached.
// Rounds are interleaved; the section reports medians and ratios to (a).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/bench/internal/benchutil"
	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

var (
	caddyBin    = flag.String("caddy", "bench/bin/caddy", "the gateway binary")
	upstreamBin = flag.String("upstream", "bench/bin/upstream", "the benchmark upstream binary")
	n           = flag.Int("n", 1000, "identities (connections with legacy access tokens)")
	conc        = flag.Int("c", 64, "concurrent requests")
	duration    = flag.Duration("d", 10*time.Second, "each measured run")
	rounds      = flag.Int("rounds", 3, "interleaved rounds")
	dir         = flag.String("dir", "", "work directory (default: a new temp dir)")
	out         = flag.String("out", "", "also write the markdown section here")
)

const (
	consumerKey    = "bench-legacy-app"
	consumerSecret = "bench-legacy-app-secret"
	bearer         = "eyJhbGciOiJIUzI1NiJ9.static-bench-token.0123456789abcdef0123456789abcdef"
)

// target is one server under load.
type target struct {
	name, what string
	url        string
	proc       *benchutil.Proc
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	work, cleanup, err := benchutil.WorkDir(*dir, "caddy-fitbit-legacy-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyB64 := base64.StdEncoding.EncodeToString(key)
	keys, err := tokenstore.NewKeyring([][]byte{key})
	if err != nil {
		log.Fatal(err)
	}

	upPort := mustPort()
	up, err := benchutil.Start(filepath.Join(work, "upstream.log"), *upstreamBin, "-addr", "127.0.0.1:"+strconv.Itoa(upPort))
	if err != nil {
		log.Fatal(err)
	}
	defer up.Stop()
	upstream := "127.0.0.1:" + strconv.Itoa(upPort)

	tokens := make([][2]string, *n) // access token and secret per identity
	for i := range tokens {
		tokens[i] = [2]string{fmt.Sprintf("bench-at-%06d", i), fmt.Sprintf("bench-as-%06d", i)}
	}

	var targets []*target
	stop := func() {
		for _, t := range targets {
			t.proc.Stop()
		}
	}
	defer stop()

	// (a) plain Caddy.
	aPort := mustPort()
	targets = append(targets, startCaddy(work, "a", "plain Caddy (reverse_proxy, static Bearer header)", aPort, fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	storage file_system %s
}
http://:%d {
	bind 127.0.0.1
	reverse_proxy %s {
		header_up Authorization "Bearer %s"
	}
}
`, filepath.Join(work, "caddy-a"), aPort, upstream, bearer)))

	// (e) the gateway over the file system.
	storeDir := filepath.Join(work, "store")
	if err := os.RemoveAll(storeDir); err != nil { // sealed with an earlier run's key
		log.Fatal(err)
	}
	seed(storagestore.New(&certmagic.FileStorage{Path: storeDir}, keys, ""), tokens)
	ePort := mustPort()
	targets = append(targets, startCaddy(work, "e", "gateway, fitbit_oauth1, file-system store", ePort,
		gatewayConfig(work, "e", ePort, upstream, keyB64, "storage file_system {\n\t\t\troot "+storeDir+"\n\t\t}")))

	// (er) the gateway over Redis, when there is a redis-server.
	if bin, err := exec.LookPath("redis-server"); err == nil {
		rPort := mustPort()
		rdb, err := benchutil.Start(filepath.Join(work, "redis.log"), bin, "--port", strconv.Itoa(rPort), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", work)
		if err != nil {
			log.Fatal(err)
		}
		defer rdb.Stop()
		addr := "127.0.0.1:" + strconv.Itoa(rPort)
		st := waitRedis(addr, keys)
		seed(st, tokens)
		_ = st.Close()
		erPort := mustPort()
		targets = append(targets, startCaddy(work, "er", "gateway, fitbit_oauth1, Redis store", erPort,
			gatewayConfig(work, "er", erPort, upstream, keyB64, "store redis {\n\t\t\taddress "+addr+"\n\t\t}")))
	} else {
		log.Print("legacy: no redis-server on PATH; skipping the Redis target")
	}

	client := benchutil.Client(*conc)
	for _, t := range targets {
		if _, err := benchutil.WaitStatus(t.url+"/healthz", "", 200, 50*time.Millisecond, time.Minute); err != nil {
			log.Fatalf("legacy: %s does not answer: %v (logs in %s)", t.name, err, work)
		}
		// Cache every identity's token, and warm up.
		for i := range tokens {
			if status, err := signedGet(client, t.url, tokens[i]); err != nil || status != 200 {
				log.Fatalf("legacy: warming %s, identity %d: %d %v (logs in %s)", t.name, i, status, err, work)
			}
		}
		load(client, t.url, tokens, 2*time.Second)
	}

	runs := map[string][]benchutil.Result{}
	for r := 1; r <= *rounds; r++ {
		for _, t := range targets {
			res := load(client, t.url, tokens, *duration)
			runs[t.name] = append(runs[t.name], res)
			log.Printf("  round %d %-3s %8.0f req/s  p50 %s ms  p99 %s ms  failed %d", r, t.name, res.Reqs, benchutil.Ms(res.P50), benchutil.Ms(res.P99), res.Failed)
		}
	}
	section := report(targets, runs)
	fmt.Print(section)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(section), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func gatewayConfig(work, name string, port int, upstream, key, store string) string {
	return fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	storage file_system %s
	fitbit {
		client_id BENCH1
		client_secret bench-client-secret
		redirect_uri http://127.0.0.1:%d/fitbit/callback
		api_base http://%s
		token_url http://%s/oauth2/token
		encryption_key %s
		cache_size %d
		budget {
			per_user 1000000000
		}
		%s
		oauth1_consumer %s %s
	}
}
http://:%d {
	bind 127.0.0.1
	handle /healthz {
		respond "ok" 200
	}
	handle {
		fitbit_oauth1
		reverse_proxy %s {
			transport fitbit
		}
	}
}
`, filepath.Join(work, "caddy-"+name), port, upstream, upstream, key, *n+1000, store, consumerKey, consumerSecret, port, upstream)
}

func startCaddy(work, name, what string, port int, config string) *target {
	p, err := benchutil.StartCaddy(*caddyBin, work, name, config)
	if err != nil {
		log.Fatal(err)
	}
	return &target{name: name, what: what, url: "http://127.0.0.1:" + strconv.Itoa(port), proc: p}
}

// seed stores a connection and legacy access token for every identity.
func seed(store tokenstore.Store, tokens [][2]string) {
	ctx := context.Background()
	now := time.Now()
	for i, tok := range tokens {
		identity := fmt.Sprintf("oauth1:bench-%06d", i)
		rec := &tokenstore.Record{
			Provider: "fitbit", IdentityHash: tokenstore.IdentityHash(identity), UserID: fmt.Sprintf("L%05X", i),
			Scopes: []string{"activity", "heartrate", "profile", "sleep"}, AccessToken: bearer, RefreshToken: randHex(32),
			TokenType: "Bearer", Expiry: now.Add(8 * time.Hour), Status: tokenstore.StatusOK, ConnectedAt: now,
		}
		if err := store.SaveConnection(ctx, rec); err != nil {
			log.Fatalf("legacy: seeding identity %d: %v", i, err)
		}
		if err := legacy.IssueAccessToken(ctx, store, tok[0], tok[1], consumerKey, identity, rec.UserID, now); err != nil {
			log.Fatalf("legacy: seeding access token %d: %v", i, err)
		}
	}
}

func waitRedis(addr string, keys *tokenstore.Keyring) *redisstore.Store {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := redisstore.New(redisstore.Options{Addr: addr}, keys)
		if err == nil {
			if err = st.Ping(context.Background()); err == nil {
				return st
			}
			_ = st.Close()
		}
		if time.Now().After(deadline) {
			log.Fatalf("legacy: redis-server at %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signedGet sends one signed GET of the profile for the token credentials.
func signedGet(c *http.Client, base string, tok [2]string) (int, error) {
	const path = "/1/user/-/profile.json"
	p := url.Values{
		"oauth_consumer_key":     {consumerKey},
		"oauth_token":            {tok[0]},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {strconv.FormatInt(time.Now().Unix(), 10)},
		"oauth_nonce":            {randHex(16)},
		"oauth_version":          {"1.0"},
	}
	u, _ := url.Parse(base + path)
	h, err := oauth1.AuthorizationHeader(http.MethodGet, u, nil, p, consumerSecret, tok[1])
	if err != nil {
		return 0, err
	}
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", h)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// load keeps conc signed requests in flight for d and measures them.
func load(c *http.Client, base string, tokens [][2]string, d time.Duration) benchutil.Result {
	return benchutil.Load(*conc, d, func(i int) bool {
		status, err := signedGet(c, base, tokens[i%len(tokens)])
		return err == nil && status == 200
	})
}

func report(targets []*target, runs map[string][]benchutil.Result) string {
	med := benchutil.Median
	var b strings.Builder
	fmt.Fprintf(&b, "### Legacy OAuth 1.0a\n\n")
	fmt.Fprintf(&b, "`bench/cmd/legacy`: a Go load generator keeps %d requests in flight, each a GET of /1/user/-/profile.json signed\n", *conc)
	fmt.Fprintf(&b, "with HMAC-SHA1 (fresh nonce, current timestamp) by one of %d identities' legacy access tokens; %d interleaved rounds\n", *n, *rounds)
	fmt.Fprintf(&b, "of %s per target after a warm-up that caches every identity's token; medians. The client signs for every target\n", *duration)
	fmt.Fprintf(&b, "alike and shares the CPUs with the servers. The gateway's extra work per call: parse and verify the signature and\n")
	fmt.Fprintf(&b, "record the nonce in the store (one file created, or one Redis script), then the usual token injection.\n\n")
	fmt.Fprintf(&b, "| target | req/s | × plain Caddy | p50 ms | p99 ms | failed |\n|---|---:|---:|---:|---:|---:|\n")
	base := med(runs["a"], func(r benchutil.Result) float64 { return r.Reqs })
	for _, t := range targets {
		rs := runs[t.name]
		reqs := med(rs, func(r benchutil.Result) float64 { return r.Reqs })
		failed := benchutil.Failed(rs)
		fmt.Fprintf(&b, "| (%s) %s | %.0f | %.3f | %s | %s | %d |\n", t.name, t.what, reqs, reqs/base,
			benchutil.Ms(time.Duration(med(rs, func(r benchutil.Result) float64 { return float64(r.P50) }))),
			benchutil.Ms(time.Duration(med(rs, func(r benchutil.Result) float64 { return float64(r.P99) }))), failed)
	}
	b.WriteString("\n")
	return b.String()
}

func mustPort() int {
	p, err := benchutil.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	return p
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
