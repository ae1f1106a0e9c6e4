// Command warm sends one request per identity u<from> … u<from+n-1> to a
// gateway (X-User header), so their connections are cached before a
// measurement, and prints how long it took and the latency distribution of
// those first (cache-miss) requests. It fails unless every answer is 200.
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/caddy-fitbit/caddy-fitbit/bench/internal/benchutil"
)

func main() {
	url := flag.String("url", "", "gateway URL to GET")
	from := flag.Int("from", 0, "first identity number")
	n := flag.Int("n", 1000, "identities")
	conc := flag.Int("c", 16, "concurrent requests")
	flag.Parse()
	log.SetFlags(0)
	p := benchutil.HitAll(benchutil.Client(*conc), *url, benchutil.Identities("u", *from, *n, 1), *conc)
	if !p.OK() {
		log.Fatalf("warm: %d errors, statuses %v, first failure: %s", p.Errors, p.Statuses, p.FirstErr)
	}
	d := benchutil.Distribution(p.Latencies)
	fmt.Printf("warm: %d identities in %v (%.0f req/s, c=%d); first-request latency p50 %s ms, p99 %s ms, max %s ms\n",
		*n, p.Took.Round(1e6), float64(*n)/p.Took.Seconds(), *conc, benchutil.Ms(d.P50), benchutil.Ms(d.P99), benchutil.Ms(d.Max))
}
