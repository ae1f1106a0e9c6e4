package translate

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

// TestSleepListFromSimulatedGoogle: beforeDate lists newest first and its
// next link walks on without overlap; afterDate lists oldest first.
func TestSleepListFromSimulatedGoogle(t *testing.T) {
	e, _ := startEngine(t)
	list := func(rawQuery string) ([]map[string]any, map[string]any) {
		t.Helper()
		q, _ := url.ParseQuery(rawQuery)
		r, err := Parse(http.MethodGet, "/1.2/user/-/sleep/list.json", q)
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.Serve(context.Background(), r, Metric)
		if err != nil {
			t.Fatal(err)
		}
		m := a.Body.(map[string]any)
		return m["sleep"].([]map[string]any), m["pagination"].(map[string]any)
	}
	first, pg := list("beforeDate=2026-11-20&sort=desc&limit=5&offset=0")
	if len(first) != 5 || pg["next"] == "" || pg["limit"] != 5 {
		t.Fatalf("beforeDate: %d logs, pagination %v", len(first), pg)
	}
	for i := 1; i < len(first); i++ {
		if first[i]["startTime"].(string) >= first[i-1]["startTime"].(string) {
			t.Fatalf("not newest first: %v then %v", first[i-1]["startTime"], first[i]["startTime"])
		}
	}
	if first[0]["dateOfSleep"].(string) >= "2026-11-20" {
		t.Errorf("a log of %v before 2026-11-20", first[0]["dateOfSleep"])
	}
	next, _ := url.Parse(pg["next"].(string))
	second, _ := list(next.RawQuery)
	if len(second) != 5 || second[0]["startTime"].(string) >= first[4]["startTime"].(string) {
		t.Fatalf("next page starts at %v after %v", second[0]["startTime"], first[4]["startTime"])
	}
	after, pg := list("afterDate=2026-11-01&sort=asc&limit=3&offset=0")
	if len(after) != 3 || pg["afterDate"] != "2026-11-01T00:00:00" {
		t.Fatalf("afterDate: %d logs, pagination %v", len(after), pg)
	}
	for i, l := range after {
		if l["dateOfSleep"].(string) < "2026-11-01" || i > 0 && l["startTime"].(string) <= after[i-1]["startTime"].(string) {
			t.Errorf("afterDate log %d: %v", i, l["dateOfSleep"])
		}
	}
}
