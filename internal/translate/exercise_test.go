package translate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	health "google.golang.org/api/health/v4"

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

// TestExerciseTypesInDiscovery: every exercise type mapped to a Fitbit
// activity is a value of the discovery document's Exercise.exerciseType.
func TestExerciseTypesInDiscovery(t *testing.T) {
	// The document sits beside the generated client, in the module cache
	// at go.mod's version.
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "google.golang.org/api" {
			version = f[1]
		}
	}
	cache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(cache)), "google.golang.org", "api@"+version, "health", "v4", "health-api.json"))
	if err != nil || version == "" {
		t.Fatalf("the discovery document of google.golang.org/api %s: %v", version, err)
	}
	var doc struct {
		Schemas struct {
			Exercise struct {
				Properties struct {
					ExerciseType struct {
						Enum []string `json:"enum"`
					} `json:"exerciseType"`
				} `json:"properties"`
			} `json:"Exercise"`
		} `json:"schemas"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	enum := doc.Schemas.Exercise.Properties.ExerciseType.Enum
	for typ := range fitbitActivities {
		if !slices.Contains(enum, typ) {
			t.Errorf("%s is not one of the discovery document's exercise types", typ)
		}
	}
	if len(enum) < 100 || len(fitbitActivities) < 20 {
		t.Errorf("%d exercise types in the document, %d mapped", len(enum), len(fitbitActivities))
	}
}

// TestExerciseFromGoogleFields: the fallback for an unmapped type, logType
// by recording method, a session without heart rate, and source.
func TestExerciseFromGoogleFields(t *testing.T) {
	point := func(typ, name, method string) *health.DataPoint {
		return &health.DataPoint{
			DataSource: &health.DataSource{RecordingMethod: method, Device: &health.Device{DisplayName: "Charge 6"}},
			Exercise: &health.Exercise{ExerciseType: typ, DisplayName: name, ActiveDuration: "1500s",
				Interval: &health.SessionTimeInterval{StartTime: "2026-11-19T17:00:00Z", StartUtcOffset: "-18000s",
					EndTime: "2026-11-19T17:30:00Z", EndUtcOffset: "-18000s"},
				MetricsSummary: &health.MetricsSummary{CaloriesKcal: 210.5, Steps: 10, DistanceMillimeters: 1609344}},
		}
	}
	for _, tc := range []struct {
		typ, name, method string
		want              map[string]any
	}{
		{"TENNIS", "Tennis", "ACTIVELY_MEASURED", map[string]any{"activityName": "Tennis", "activityTypeId": 0, "logType": "tracker"}},
		{"OTHER", "Morning chores", "MANUAL", map[string]any{"activityName": "Morning chores", "activityTypeId": 0, "logType": "manual"}},
		{"TRAIL_RUN", "Trail run", "PASSIVELY_MEASURED", map[string]any{"activityName": "Run", "activityTypeId": 90009, "logType": "auto_detected"}},
	} {
		x, ok := exerciseOf(point(tc.typ, tc.name, tc.method))
		if !ok {
			t.Fatalf("%s: not read", tc.typ)
		}
		got := x.fitbit(US)
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %s %v, want %v", tc.typ, k, got[k], v)
			}
		}
		if got["startTime"] != "2026-11-19T12:00:00.000-05:00" || got["duration"] != int64(1_800_000) || got["activeDuration"] != int64(1_500_000) ||
			got["calories"] != int64(211) || got["distance"] != 1.0 || got["distanceUnit"] != "Mile" || got["steps"] != int64(10) {
			t.Errorf("%s: %v", tc.typ, got)
		}
		if _, ok := got["averageHeartRate"]; ok || got["heartRateZones"] != nil {
			t.Errorf("%s: heart rate without Google's: %v", tc.typ, got)
		}
		if src, _ := got["source"].(map[string]any); (tc.method == "MANUAL") != (src == nil) || src != nil && src["name"] != "Charge 6" {
			t.Errorf("%s: source %v", tc.typ, got["source"])
		}
	}
}
