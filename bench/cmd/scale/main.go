// Command scale measures the gateway over a large pre-seeded store (see
// bench/cmd/seed): start-up time (process start → first successful proxied
// request), RSS after start-up, cache-miss latency (store read + decrypt, as
// the extra latency of a first request over a repeated one), and RSS after
// touching many identities. It prints one markdown table row.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/bench/internal/benchutil"
)

func main() {
	caddyBin := flag.String("caddy", "bench/bin/caddy", "the gateway binary")
	store := flag.String("store", "", "seeded file-storage root")
	key := flag.String("key", "", "base64 encryption key the store was seeded with")
	n := flag.Int("n", 0, "number of connections in the store (identities u0…u<n-1>)")
	upstream := flag.String("upstream", "", "upstream host:port (bench/cmd/upstream)")
	touch := flag.Int("touch", 100000, "identities to touch (spread evenly over the store)")
	sample := flag.Int("sample", 2000, "identities in the sequential miss/hit latency sample")
	conc := flag.Int("c", 16, "concurrency of the touch pass")
	dir := flag.String("dir", os.TempDir(), "work directory")
	out := flag.String("out", "", "append the markdown row here")
	header := flag.Bool("header", false, "print the table header first")
	flag.Parse()
	log.SetFlags(0)
	if *store == "" || *key == "" || *n <= 0 || *upstream == "" {
		log.Fatal("scale: -store, -key, -n and -upstream are required")
	}
	if *touch > *n {
		*touch = *n
	}
	stride := *n / *touch
	touched := benchutil.Identities("u", 0, *touch, stride)
	if *sample > len(touched)-1 {
		*sample = len(touched) - 1
	}

	port, err := benchutil.FreePort()
	if err != nil {
		log.Fatal(err)
	}
	work := filepath.Join(*dir, fmt.Sprintf("scale-%d", *n))
	_ = os.MkdirAll(work, 0o755)
	cfg := filepath.Join(work, "gateway.caddyfile")
	if err := benchutil.WriteGatewayConfig(cfg, benchutil.GatewayConfig{
		Port: port, DataDir: filepath.Join(work, "caddy-data"), Store: *store, Key: *key,
		CacheSize: *touch + 1000, API: "http://" + *upstream, TokenURL: "http://" + *upstream + "/oauth2/token", Upstream: *upstream,
	}); err != nil {
		log.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/1/user/-/profile.json", port)

	p, err := benchutil.Start(filepath.Join(work, "caddy.log"), *caddyBin, "run", "--adapter", "caddyfile", "--config", cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	up, err := benchutil.WaitStatus(url, "u0", 200, 2*time.Millisecond, 60*time.Second)
	if err != nil {
		log.Fatalf("scale: %v (log: %s)", err, filepath.Join(work, "caddy.log"))
	}
	startup := up.Sub(p.Started)
	time.Sleep(200 * time.Millisecond)
	rssStart, _ := benchutil.RSSKiB(p.PID())

	c := benchutil.Client(*conc)
	// Sequential first requests (cache misses), then the same again (hits).
	ids := touched[1 : 1+*sample]
	miss := benchutil.HitAll(c, url, ids, 1)
	hit := benchutil.HitAll(c, url, ids, 1)
	rest := benchutil.HitAll(c, url, touched[1+*sample:], *conc)
	for _, pass := range []benchutil.Pass{miss, hit} {
		if !pass.OK() {
			log.Fatalf("scale: requests failed: %d errors, statuses %v, %s", pass.Errors, pass.Statuses, pass.FirstErr)
		}
	}
	if len(touched) > 1+*sample && !rest.OK() {
		log.Fatalf("scale: touch pass failed: %d errors, statuses %v, %s", rest.Errors, rest.Statuses, rest.FirstErr)
	}
	time.Sleep(500 * time.Millisecond)
	rssTouched, hwm := benchutil.RSSKiB(p.PID())
	md, hd := benchutil.Distribution(miss.Latencies), benchutil.Distribution(hit.Latencies)
	touchRate := "—"
	if len(rest.Latencies) > 0 {
		touchRate = fmt.Sprintf("%.0f", float64(len(rest.Latencies))/rest.Took.Seconds())
	}
	targetKiB := int64(64*1024 + len(touched))
	verdict := "✅"
	if rssTouched > targetKiB {
		verdict = "❌"
	}
	mib := func(k int64) string { return fmt.Sprintf("%.1f", float64(k)/1024) }
	row := fmt.Sprintf("| %d | %.0f | %s | %s / %s | %s / %s | %s / %s | %d | %s | %s (peak %s) | %s %s |\n",
		*n, float64(startup)/float64(time.Millisecond), mib(rssStart),
		benchutil.Ms(md.P50), benchutil.Ms(md.P99), benchutil.Ms(hd.P50), benchutil.Ms(hd.P99),
		benchutil.Ms(md.P50-hd.P50), benchutil.Ms(md.P99-hd.P99),
		len(touched), touchRate, mib(rssTouched), mib(hwm), mib(targetKiB), verdict)
	head := "| stored connections | start-up ms (exec → first proxied 200) | RSS after start-up MiB | cache miss p50 / p99 ms | cache hit p50 / p99 ms | miss − hit p50 / p99 ms | identities touched | touch pass req/s (misses, c=" + fmt.Sprint(*conc) + ") | RSS after touching MiB | RSS target MiB |\n|---|---|---|---|---|---|---|---|---|---|\n"
	if *header {
		fmt.Print(head)
	}
	fmt.Print(row)
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		if *header {
			_, _ = f.WriteString(head)
		}
		_, _ = f.WriteString(row)
	}
}
