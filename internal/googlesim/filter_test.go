package googlesim

import (
	"testing"
	"time"
)

// FuzzFilter feeds the list method's AIP-160 filter parser arbitrary
// input: it must not panic, must reject what it cannot read, and every
// clause it accepts must have a comparison and a time.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"",
		`steps.interval.start_time >= "2026-11-01T00:00:00Z"`,
		`steps.interval.start_time >= "2026-11-01T00:00:00Z" AND steps.interval.end_time < "2026-11-02T00:00:00Z"`,
		`daily_resting_heart_rate.date = "2026-11-01"`,
		`sleep.interval.civil_end_time > "2026-11-01T07:00:00"`,
		`a >= "x"`, `AND`, `"`, `x = "2026-11-01" and`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return // bounded input: parseFilter refuses long filters anyway
		}
		clauses, err := parseFilter(s)
		if err != nil {
			return
		}
		now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		lo, hi := bounds(clauses, now.Add(-History), now)
		if lo.Before(now.Add(-History)) || hi.After(now) {
			t.Fatalf("bounds widened the window: %v..%v", lo, hi)
		}
		for _, c := range clauses {
			if c.op == "" || c.t.IsZero() && c.field == "" {
				t.Fatalf("clause without comparison: %+v", c)
			}
			_ = c.match(point{start: now, end: now})
		}
	})
}
