// Command translated measures Fitbit Web API calls answered from the Google
// Health API (the gateway's translation) against plain Caddy proxying an
// answer of the same bytes. For each main endpoint it runs:
//
//	(a)  plain Caddy, reverse_proxy adding a static Bearer header, to a
//	     static upstream that serves the very bytes the gateway translated
//	     for that path (what proxying an answer of that size costs);
//	(t)  the gateway: the fitbit transport with only a google_health
//	     registration, so every /1/ call is parsed, answered from the
//	     simulated Google Health API through the generated Go client and
//	     rendered as Fitbit's JSON.
//
// It reports throughput, p50 and p99, and the Google calls one Fitbit call
// makes (the Gateway-Google-Calls header): on the first call of a
// connection, and in steady state, once its settings are cached. The
// simulated Google (internal/googlesim, quota off) and the static upstream
// run in this process, on loopback, as does the load generator; the
// connections are seeded into the store beforehand and every identity is
// requested once before measuring. Rounds are interleaved; medians.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/bench/internal/benchutil"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

var (
	caddyBin = flag.String("caddy", "bench/bin/caddy", "the gateway binary")
	n        = flag.Int("n", 100, "identities (Google Health connections, one simulated user each)")
	conc     = flag.Int("c", 64, "concurrent requests")
	duration = flag.Duration("d", 10*time.Second, "each measured run")
	rounds   = flag.Int("rounds", 3, "interleaved rounds")
	dir      = flag.String("dir", "", "work directory (default: a new temp dir)")
	out      = flag.String("out", "", "also write the markdown section here")
)

// callsHeader is the gateway's count of Google calls per Fitbit call.
const callsHeader = "Gateway-Google-Calls"

const bearer = "eyJhbGciOiJIUzI1NiJ9.static-bench-token.0123456789abcdef0123456789abcdef"

// endpoints are the main translated calls, as apps make them.
var endpoints = []struct{ name, path string }{
	{"profile", "/1/user/-/profile.json"},
	{"daily summary", "/1/user/-/activities/date/today.json"},
	{"steps, 30 days", "/1/user/-/activities/steps/date/today/30d.json"},
	{"heart rate, 1 day", "/1/user/-/activities/heart/date/today/1d.json"},
	{"sleep, 1 day", "/1.2/user/-/sleep/date/today.json"},
}

// measured is one endpoint's figures.
type measured struct {
	name, path        string
	bytes             int
	firstCalls        string // Google calls of a connection's first call
	steadyCalls       string // and of the next ones
	plain, translated []benchutil.Result
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	work, cleanup, err := benchutil.WorkDir(*dir, "caddy-fitbit-translated-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keys, err := tokenstore.NewKeyring([][]byte{key})
	if err != nil {
		log.Fatal(err)
	}

	google, err := googlesim.Start(googlesim.Config{RateLimitPerMinute: -1, LegacyUserIDs: map[string]string{}})
	if err != nil {
		log.Fatal(err)
	}
	defer google.Close()

	storeDir := filepath.Join(work, "store")
	if err := os.RemoveAll(storeDir); err != nil {
		log.Fatal(err)
	}
	// One fresh identity per endpoint measures a connection's first call.
	all := seed(storagestore.New(&certmagic.FileStorage{Path: storeDir}, keys, ""), google, *n+len(endpoints))
	identities, fresh := all[:*n], all[*n:]

	// The static upstream serves, per path, the bytes the gateway answered.
	bodies := map[string][]byte{}
	static := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(bodies[r.URL.Path])
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = static.Serve(ln) }()
	defer static.Close()

	plain := startCaddy(work, "a", fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	storage file_system %s
}
http://:%%d {
	bind 127.0.0.1
	handle /healthz {
		respond "ok" 200
	}
	reverse_proxy %s {
		header_up Authorization "Bearer %s"
	}
}
`, filepath.Join(work, "caddy-a"), ln.Addr(), bearer))
	defer plain.proc.Stop()
	gateway := startCaddy(work, "t", fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	storage file_system %s
	fitbit {
		encryption_key %s
		cache_size %d
		storage file_system {
			root %s
		}
		provider google_health {
			client_id %s
			client_secret %s
			redirect_uri http://127.0.0.1/fitbit/callback
			authorize_url %s/o/oauth2/v2/auth
			token_url %s/token
			revoke_url %s/revoke
			api_base %s
			budget {
				per_user 1000000000
			}
		}
	}
}
http://:%%d {
	bind 127.0.0.1
	handle /healthz {
		respond "ok" 200
	}
	reverse_proxy %s {
		transport fitbit {
			identity {http.request.header.X-User}
		}
	}
}
`, filepath.Join(work, "caddy-t"), base64.StdEncoding.EncodeToString(key), *n+1000, storeDir,
		googlesim.DefaultClientID, googlesim.DefaultClientSecret, google.URL(), google.URL(), google.URL(), google.URL(),
		strings.TrimPrefix(google.URL(), "http://")))
	defer gateway.proc.Stop()

	client := benchutil.Client(*conc)
	for _, t := range []*target{plain, gateway} {
		if _, err := benchutil.WaitStatus(t.url+"/healthz", "", 200, 50*time.Millisecond, time.Minute); err != nil {
			log.Fatalf("translated: %s does not answer: %v (logs in %s)", t.name, err, work)
		}
	}

	var ms []*measured
	for k, e := range endpoints {
		m := &measured{name: e.name, path: e.path}
		body, first := get(client, gateway.url+e.path, fresh[k])
		_, steady := get(client, gateway.url+e.path, fresh[k])
		m.bytes, m.firstCalls, m.steadyCalls = len(body), first, steady
		bodies[strings.SplitN(e.path, "?", 2)[0]] = body
		for _, id := range identities { // every connection's settings cached
			get(client, gateway.url+e.path, id)
		}
		ms = append(ms, m)
	}
	for r := 1; r <= *rounds; r++ {
		for _, m := range ms {
			a := load(client, plain.url+m.path, identities)
			t := load(client, gateway.url+m.path, identities)
			m.plain, m.translated = append(m.plain, a), append(m.translated, t)
			log.Printf("  round %d %-18s plain %7.0f req/s p99 %s ms | translated %7.0f req/s p99 %s ms, failed %d",
				r, m.name, a.Reqs, benchutil.Ms(a.P99), t.Reqs, benchutil.Ms(t.P99), t.Failed)
		}
	}
	section := report(ms)
	fmt.Print(section)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(section), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

type target struct {
	name, url string
	proc      *benchutil.Proc
}

// startCaddy runs Caddy with config, whose one %d is the port.
func startCaddy(work, name, config string) *target {
	port, err := benchutil.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	p, err := benchutil.StartCaddy(*caddyBin, work, name, fmt.Sprintf(config, port))
	if err != nil {
		log.Fatal(err)
	}
	return &target{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), proc: p}
}

// seed gives every identity a Google Health connection to its own
// simulated user, with tokens the simulator minted.
func seed(store tokenstore.Store, google *googlesim.Server, count int) []string {
	ctx := context.Background()
	now := time.Now()
	ids := benchutil.Identities("u", 0, count, 1)
	for i, identity := range ids {
		user := fmt.Sprintf("%019d", 7000000000000000000+i)
		tok := google.MintTokens(user)
		rec := &tokenstore.Record{
			Provider: "google_health", IdentityHash: tokenstore.IdentityHash(identity), UserID: user,
			Scopes: strings.Fields(tok.Scope), AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken,
			TokenType: "Bearer", Expiry: now.Add(time.Duration(tok.ExpiresIn) * time.Second), Status: tokenstore.StatusOK, ConnectedAt: now,
		}
		if err := store.SaveConnection(ctx, rec); err != nil {
			log.Fatalf("translated: seeding identity %d: %v", i, err)
		}
	}
	return ids
}

// get fetches url as identity, which must succeed, and returns the body and
// the Google calls the gateway reported.
func get(c *http.Client, url, identity string) ([]byte, string) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-User", identity)
	resp, err := c.Do(req)
	if err != nil {
		log.Fatalf("translated: GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("translated: GET %s as %s: %d %.300s", url, identity, resp.StatusCode, body)
	}
	return body, resp.Header.Get(callsHeader)
}

func load(c *http.Client, url string, identities []string) benchutil.Result {
	return benchutil.Load(*conc, *duration, func(i int) bool {
		status, _, err := benchutil.Get(context.Background(), c, url, identities[i%len(identities)])
		return err == nil && status == http.StatusOK
	})
}

func report(ms []*measured) string {
	med := benchutil.Median
	var b strings.Builder
	fmt.Fprintf(&b, "### Fitbit calls answered from the Google Health API\n\n")
	fmt.Fprintf(&b, "`bench/cmd/translated`: a Go load generator keeps %d requests in flight over %d identities, each connected to its\n", *conc, *n)
	fmt.Fprintf(&b, "own user of the simulated Google Health API (in process, quota off); %d interleaved rounds of %s per target and\n", *rounds, *duration)
	fmt.Fprintf(&b, "endpoint, after every connection's first call; medians. (a) is plain Caddy proxying, with a static Bearer header,\n")
	fmt.Fprintf(&b, "the very bytes the gateway translated for that path; (t) is the gateway answering the Fitbit call from Google.\n")
	fmt.Fprintf(&b, "Google calls: a connection's first call / the next ones (settings and identity cached for five minutes).\n")
	fmt.Fprintf(&b, "The simulated Google runs in this process and generates each answer's data, so (t) includes its work (most\n")
	fmt.Fprintf(&b, "visible for sleep, which reads thirty nights for Fitbit's thirty-day averages); (a) serves stored bytes.\n\n")
	fmt.Fprintf(&b, "Google calls/s is (t) req/s × the steady Google calls: the load it put on Google.\n\n")
	fmt.Fprintf(&b, "| endpoint | bytes | Google calls | (a) req/s | (t) req/s | (t) ÷ (a) | (a) p99 ms | (t) p99 ms | Google calls/s | failed |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	reqs := func(r benchutil.Result) float64 { return r.Reqs }
	p99 := func(r benchutil.Result) float64 { return float64(r.P99) }
	for _, m := range ms {
		a, t := med(m.plain, reqs), med(m.translated, reqs)
		steady, _ := strconv.Atoi(m.steadyCalls)
		fmt.Fprintf(&b, "| `%s` | %d | %s / %s | %.0f | %.0f | %.3f | %s | %s | %.0f | %d |\n", m.path, m.bytes, m.firstCalls, m.steadyCalls,
			a, t, t/a, benchutil.Ms(time.Duration(med(m.plain, p99))), benchutil.Ms(time.Duration(med(m.translated, p99))),
			t*float64(steady), benchutil.Failed(m.translated)+benchutil.Failed(m.plain))
	}
	b.WriteString("\n")
	return b.String()
}
