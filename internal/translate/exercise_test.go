package translate

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// listExercises answers the activity log list for rawQuery.
func listExercises(t *testing.T, e *Engine, rawQuery string, u UnitSystem) ([]map[string]any, map[string]any, int) {
	t.Helper()
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse(http.MethodGet, "/1/user/-/activities/list.json", q)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Serve(context.Background(), r, u)
	if err != nil {
		t.Fatalf("%s: %v", rawQuery, err)
	}
	m := a.Body.(map[string]any)
	return m["activities"].([]map[string]any), m["pagination"].(map[string]any), a.GoogleCalls
}

// personExercises is the synthetic person's walks and runs on the local
// days from day on, in the direction step (-1 newest first, before day;
// +1 oldest first, from day), n of them.
func personExercises(p *person.Person, day time.Time, step, n int) []person.Exercise {
	var out []person.Exercise
	if step < 0 {
		day = day.AddDate(0, 0, -1)
	}
	for ; len(out) < n; day = day.AddDate(0, 0, step) {
		es := slices.Clone(p.Activity(day).Exercises)
		if step < 0 {
			slices.Reverse(es)
		}
		out = append(out, es...)
	}
	return out[:n]
}

// TestExerciseListFromSimulatedGoogle: the activity log list answers the
// person's walks and runs as the simulated Fitbit renders them, newest
// first before beforeDate and oldest first from afterDate, and its next
// and previous links page by offset through the gateway.
func TestExerciseListFromSimulatedGoogle(t *testing.T) {
	e, _ := startEngine(t)
	p := person.New(googlesim.DefaultLegacyUserID)
	day, _ := p.Day("2026-11-20")
	want := personExercises(p, day, -1, 10)

	check := func(got []map[string]any, want []person.Exercise, u UnitSystem) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d activities, want %d", len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			start := w.Start.In(p.Location()).Format("2006-01-02T15:04:05.000-07:00")
			ms := int64(w.Minutes) * 60_000
			dist := float64(w.DistanceMM) / 1e6
			if u == US {
				dist = round(float64(w.DistanceMM)/mmPerMile, 5)
			}
			if g["startTime"] != start || g["originalStartTime"] != start || g["activityName"] != w.Name || g["activityTypeId"] != w.ActivityTypeID ||
				g["steps"] != int64(w.Steps) || g["calories"] != int64((w.MilliCal+500)/1000) || g["distance"] != dist ||
				g["duration"] != ms || g["activeDuration"] != ms || g["logId"] != w.Start.UnixMilli() || g["logType"] != "auto_detected" {
				t.Errorf("activity %d: %v, want %+v at %s", i, g, w, start)
			}
			if g["averageHeartRate"] == nil || len(g["heartRateZones"].([]map[string]any)) != 4 {
				t.Errorf("activity %d: no heart rate: %v", i, g)
			}
		}
	}

	first, pg, calls := listExercises(t, e, "beforeDate=2026-11-20&sort=desc&limit=5&offset=0", Metric)
	check(first, want[:5], Metric)
	if pg["beforeDate"] != "2026-11-20" || pg["limit"] != 5 || pg["offset"] != 0 || pg["sort"] != "desc" || pg["previous"] != "" || calls != 1 {
		t.Errorf("pagination %v after %d Google calls", pg, calls)
	}
	next, err := url.Parse(pg["next"].(string))
	if err != nil || next.Path != "/1/user/-/activities/list.json" || next.Query().Get("offset") != "5" {
		t.Fatalf("next %q", pg["next"])
	}
	second, pg2, _ := listExercises(t, e, next.RawQuery, US)
	check(second, want[5:10], US)
	if second[0]["distanceUnit"] != "Mile" || first[0]["distanceUnit"] != "Kilometer" {
		t.Errorf("distance units %v, %v", first[0]["distanceUnit"], second[0]["distanceUnit"])
	}
	if prev, _ := url.Parse(pg2["previous"].(string)); prev == nil || prev.Query().Get("offset") != "0" || prev.Query().Get("beforeDate") != "2026-11-20" {
		t.Errorf("previous %q", pg2["previous"])
	}

	from, _ := p.Day("2026-11-01")
	after, pg, _ := listExercises(t, e, "afterDate=2026-11-01&sort=asc&limit=7", Metric)
	check(after, personExercises(p, from, 1, 7), Metric)
	if pg["afterDate"] != "2026-11-01" || pg["next"] == "" {
		t.Errorf("afterDate pagination %v", pg)
	}

	// The list ends where Google's history does: no next link.
	if last, pg, _ := listExercises(t, e, "afterDate=2026-11-19&sort=asc&limit=100", Metric); len(last) == 0 || pg["next"] != "" {
		t.Errorf("the last page: %d activities, pagination %v", len(last), pg)
	}
}

// TestExerciseListLimits: Fitbit's limit of 100 and its sort rules are
// Fitbit's 400; a page needing more Google calls than a Fitbit call may
// make is the gateway's 400; the cost is a page of 25 per 25 activities
// (and one to tell whether there are more).
func TestExerciseListLimits(t *testing.T) {
	for _, q := range []string{"beforeDate=2026-11-20&sort=desc&limit=101", "beforeDate=2026-11-20&sort=asc&limit=5",
		"beforeDate=2026-11-20&sort=desc&limit=5&offset=-5", "sort=desc&limit=5"} {
		v, _ := url.ParseQuery(q)
		var te *Error
		if _, err := Parse(http.MethodGet, "/1/user/-/activities/list.json", v); !errors.As(err, &te) || te.Status != http.StatusBadRequest || te.Type != Validation {
			t.Errorf("%s: %v, want Fitbit's 400", q, err)
		}
	}
	e, _ := startEngine(t)
	if _, _, calls := listExercises(t, e, "beforeDate=2026-11-20&sort=desc&limit=24", Metric); calls != 1 {
		t.Errorf("24 activities: %d Google calls, want 1", calls)
	}
	if _, _, calls := listExercises(t, e, "beforeDate=2026-11-20&sort=desc&limit=25", Metric); calls != 2 {
		t.Errorf("25 activities: %d Google calls, want 2", calls)
	}
	v, _ := url.ParseQuery("beforeDate=2026-11-20&sort=desc&limit=100&offset=1000")
	r, err := Parse(http.MethodGet, "/1/user/-/activities/list.json", v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Serve(context.Background(), r, Metric); !errors.Is(err, ErrTooManyCalls) {
		t.Errorf("offset 1000: %v, want ErrTooManyCalls", err)
	}
}
