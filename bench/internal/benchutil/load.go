package benchutil

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Result is one measured closed-loop run.
type Result struct {
	Reqs     float64 // successful requests per second
	P50, P99 time.Duration
	Failed   int
	Seconds  float64
}

// Load keeps conc requests in flight for d: worker w calls do(i) for
// i = w, w+conc, w+2·conc, … until d has passed; do reports whether the
// request succeeded. Only successful requests count towards Reqs and the
// latencies.
func Load(conc int, d time.Duration, do func(i int) bool) Result {
	var (
		mu     sync.Mutex
		lat    []time.Duration
		failed int
		wg     sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for w := range conc {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for i := w; time.Now().Before(end); i += conc {
				t0 := time.Now()
				if !do(i) {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			failed += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(f float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(f*float64(len(lat))))]
	}
	return Result{Reqs: float64(len(lat)) / secs, P50: q(0.50), P99: q(0.99), Failed: failed, Seconds: secs}
}

// Median is the median of f over rs (the upper one of an even count).
func Median(rs []Result, f func(Result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// Failed is the failures summed over rs.
func Failed(rs []Result) int {
	n := 0
	for _, r := range rs {
		n += r.Failed
	}
	return n
}

// StartCaddy writes config to <work>/<name>.caddyfile and runs the Caddy
// binary bin on it, logging to <work>/<name>.log.
func StartCaddy(bin, work, name, config string) (*Proc, error) {
	path := filepath.Join(work, name+".caddyfile")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, err
	}
	return Start(filepath.Join(work, name+".log"), bin, "run", "--adapter", "caddyfile", "--config", path)
}
