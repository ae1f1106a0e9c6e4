// Command report turns the benchmark's raw wrk results (one JSON line per
// run, written by bench/run.sh) into the markdown of bench/results/latest.md:
// machine facts, parameters, the table of medians over rounds with ratios to
// plain Caddy, the per-round figures, the targets and whether each is met,
// then the other sections (storms, scale, profile) as given.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
)

type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUs int64   `json:"duration_us"`
	P50        float64 `json:"p50_us"`
	P90        float64 `json:"p90_us"`
	P99        float64 `json:"p99_us"`
	Max        float64 `json:"max_us"`
	ErrConnect int64   `json:"err_connect"`
	ErrRead    int64   `json:"err_read"`
	ErrWrite   int64   `json:"err_write"`
	ErrStatus  int64   `json:"err_status"`
	ErrTimeout int64   `json:"err_timeout"`
}

type run struct {
	Scenario string    `json:"scenario"`
	Round    int       `json:"round"`
	IDs      int       `json:"ids"`
	RSSKiB   int64     `json:"rss_kib"`
	HWMKiB   int64     `json:"hwm_kib"`
	Wrk      wrkResult `json:"wrk"`
}

func (r run) rps() float64 { return float64(r.Wrk.Requests) / (float64(r.Wrk.DurationUs) / 1e6) }
func (r run) errors() int64 {
	w := r.Wrk
	return w.ErrConnect + w.ErrRead + w.ErrWrite + w.ErrStatus + w.ErrTimeout
}

var order = []string{"a", "b1", "b1k", "b100k", "c", "d"}

var names = map[string]string{
	"a":     "(a) Caddy `reverse_proxy` + static `header_up Authorization` — the limit",
	"b1":    "(b) gateway, cached tokens, 1 identity",
	"b1k":   "(b) gateway, cached tokens, 1,000 identities",
	"b100k": "(b) gateway, cached tokens, 100,000 identities",
	"c":     "(c) hand-written Go proxy (httputil.ReverseProxy + x/oauth2 static token)",
	"d":     "(d) nginx, static `proxy_set_header Authorization`",
}

type sections []string

func (s *sections) String() string     { return strings.Join(*s, ",") }
func (s *sections) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	runsPath := flag.String("runs", "", "runs.jsonl")
	facts := flag.String("facts", "", "markdown file with the machine facts and parameters")
	out := flag.String("out", "", "markdown output (default stdout only)")
	var secs sections
	flag.Var(&secs, "section", "markdown file to append (repeatable)")
	flag.Parse()
	log.SetFlags(0)

	runs := map[string][]run{}
	f, err := os.Open(*runsPath)
	if err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r run
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			log.Fatalf("report: %s: %v", line, err)
		}
		runs[r.Scenario] = append(runs[r.Scenario], r)
	}
	f.Close()

	type agg struct {
		rps, p50, p99  float64
		rpsMin, rpsMax float64
		rounds         int
		errs, requests int64
		rss, hwm       int64
		ids            int
		byRound        map[int]run
	}
	med := func(xs []float64) float64 {
		if len(xs) == 0 {
			return 0
		}
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	A := map[string]*agg{}
	for _, sc := range order {
		rs := runs[sc]
		if len(rs) == 0 {
			continue
		}
		a := &agg{rounds: len(rs), byRound: map[int]run{}, rpsMin: 1e18}
		var rps, p50, p99 []float64
		for _, r := range rs {
			rps = append(rps, r.rps())
			p50 = append(p50, r.Wrk.P50)
			p99 = append(p99, r.Wrk.P99)
			a.errs += r.errors()
			a.requests += r.Wrk.Requests
			a.rss = max(a.rss, r.RSSKiB)
			a.hwm = max(a.hwm, r.HWMKiB)
			a.ids = r.IDs
			a.rpsMin, a.rpsMax = min(a.rpsMin, r.rps()), max(a.rpsMax, r.rps())
			a.byRound[r.Round] = r
		}
		a.rps, a.p50, a.p99 = med(rps), med(p50), med(p99)
		A[sc] = a
	}
	// roundRatio is the median over rounds of sc's req/s divided by (a)'s in
	// the same round: robust to load that drifts over the run.
	roundRatio := func(sc string) float64 {
		base := A["a"]
		if base == nil || A[sc] == nil {
			return 0
		}
		var rs []float64
		for r, x := range A[sc].byRound {
			if ar, ok := base.byRound[r]; ok {
				rs = append(rs, x.rps()/ar.rps())
			}
		}
		return med(rs)
	}

	var b strings.Builder
	b.WriteString("# caddy-fitbit benchmark — latest results\n\n")
	if *facts != "" {
		fb, err := os.ReadFile(*facts)
		if err != nil {
			log.Fatal(err)
		}
		b.Write(fb)
		b.WriteString("\n")
	}
	ms := func(us float64) string { return fmt.Sprintf("%.3f", us/1000) }
	mib := func(k int64) string { return fmt.Sprintf("%.1f", float64(k)/1024) }
	base := A["a"]
	b.WriteString("## Throughput and latency (medians over rounds)\n\n")
	b.WriteString("| scenario | req/s | p50 ms | p99 ms | ÷ (a) req/s | ÷ (a), median of per-round ratios | p99 − (a) ms | req/s range over rounds | errors / requests | server RSS MiB (max after a run) |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sc := range order {
		a := A[sc]
		if a == nil {
			continue
		}
		ratio, added, rr := "—", "—", "—"
		if base != nil && sc != "a" {
			ratio = fmt.Sprintf("%.3f", a.rps/base.rps)
			rr = fmt.Sprintf("%.3f", roundRatio(sc))
			added = fmt.Sprintf("%+.3f", (a.p99-base.p99)/1000)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %s | %.0f – %.0f | %d / %d | %s |\n",
			names[sc], a.rps, ms(a.p50), ms(a.p99), ratio, rr, added, a.rpsMin, a.rpsMax, a.errs, a.requests, mib(a.rss))
	}

	// Per-round ratios to (a) of the same round: robust to drift in
	// background load over the run.
	if base != nil {
		b.WriteString("\nPer round (req/s, p99 ms; ratio to (a) of the same round):\n\n| round |")
		for _, sc := range order {
			if A[sc] != nil {
				fmt.Fprintf(&b, " %s |", sc)
			}
		}
		b.WriteString("\n|---|")
		for _, sc := range order {
			if A[sc] != nil {
				b.WriteString("---|")
			}
		}
		b.WriteString("\n")
		var rounds []int
		for r := range base.byRound {
			rounds = append(rounds, r)
		}
		sort.Ints(rounds)
		for _, r := range rounds {
			fmt.Fprintf(&b, "| %d |", r)
			ar := base.byRound[r]
			for _, sc := range order {
				a := A[sc]
				if a == nil {
					continue
				}
				x, ok := a.byRound[r]
				if !ok {
					b.WriteString(" — |")
					continue
				}
				if sc == "a" {
					fmt.Fprintf(&b, " %.0f, %s |", x.rps(), ms(x.Wrk.P99))
				} else {
					fmt.Fprintf(&b, " %.0f, %s (%.3f) |", x.rps(), ms(x.Wrk.P99), x.rps()/ar.rps())
				}
			}
			b.WriteString("\n")
		}
	}

	// Targets.
	b.WriteString("\n## Targets\n\n| target | scenario | measured | met |\n|---|---|---|---|\n")
	mark := func(ok bool) string {
		if ok {
			return "✅ yes"
		}
		return "❌ no"
	}
	for _, sc := range []string{"b1", "b1k", "b100k"} {
		g := A[sc]
		if g == nil || base == nil {
			continue
		}
		r := g.rps / base.rps
		fmt.Fprintf(&b, "| cached-token throughput ≥ 0.97 × plain Caddy | %s | %.3f × (%.0f vs %.0f req/s; median of per-round ratios %.3f) | %s |\n", sc, r, g.rps, base.rps, roundRatio(sc), mark(r >= 0.97))
		added := (g.p99 - base.p99) / 1000
		fmt.Fprintf(&b, "| ≤ 0.1 ms added p99 at equal concurrency | %s | %+.3f ms (%s vs %s ms) | %s |\n", sc, added, ms(g.p99), ms(base.p99), mark(added <= 0.1))
		if c := A["c"]; c != nil {
			rc := g.rps / c.rps
			fmt.Fprintf(&b, "| ≥ 1.0 × the hand-written proxy | %s | %.3f × (%.0f vs %.0f req/s) | %s |\n", sc, rc, g.rps, c.rps, mark(rc >= 1.0))
		}
		target := int64(64*1024 + g.ids)
		fmt.Fprintf(&b, "| RSS ≤ 64 MiB + 1 KiB per cached identity | %s | %s MiB (peak %s) vs %s MiB; plain Caddy (a): %s MiB | %s |\n", sc, mib(g.rss), mib(g.hwm), mib(target), mib(base.rss), mark(g.rss <= target))
	}
	b.WriteString("\n")
	for _, s := range secs {
		sb, err := os.ReadFile(s)
		if err != nil {
			fmt.Fprintf(&b, "_(section %s missing: %v)_\n\n", s, err)
			continue
		}
		b.Write(sb)
		b.WriteString("\n")
	}
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
