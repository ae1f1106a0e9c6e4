package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	health "google.golang.org/api/health/v4"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// bearer adds a fixed access token, standing in for the gateway's injector.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// refuseRollUps answers Google's 400 for the daily roll-ups of the data
// types named, as Google does for a type it does not roll up; every other
// call goes to the simulator through next.
type refuseRollUps struct {
	next  http.RoundTripper
	types map[string]bool
}

func (z refuseRollUps) RoundTrip(r *http.Request) (*http.Response, error) {
	typ, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v4/users/me/dataTypes/"), "/dataPoints:dailyRollUp")
	if !ok || !z.types[typ] {
		return z.next.RoundTrip(r)
	}
	b := []byte(`{"error":{"code":400,"message":"Data type ` + typ + ` does not support daily roll-ups.","status":"INVALID_ARGUMENT"}}`)
	return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
}

var simNow = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

func startEngine(t *testing.T) (*Engine, *googlesim.Server) {
	t.Helper()
	s, err := googlesim.Start(googlesim.Config{Now: func() time.Time { return simNow }, RateLimitPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tok := s.MintTokens(s.Config().DefaultUser, s.AllScopes()...)
	e, err := NewEngine(context.Background(), &http.Client{Transport: bearer(tok.AccessToken)}, s.URL(), func() time.Time { return simNow })
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

func serve(t *testing.T, e *Engine, path string, u UnitSystem) *Answer {
	t.Helper()
	r, err := Parse(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Serve(context.Background(), r, u)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

// TestProfile checks exact values against answers encoded from the
// generated types; TestProfileFromSimulatedGoogle, the same path end to end
// against the simulator.
func TestProfile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any
		switch r.URL.Path {
		case "/v4/users/me/settings":
			v = &health.Settings{TimeZone: "America/New_York", UtcOffset: "-18000s", AutoStrideEnabled: false, LanguageLocale: "en-US"}
		case "/v4/users/me/identity":
			v = &health.Identity{LegacyUserId: "ABC123", HealthUserId: "111"}
		case "/v4/users/me/profile":
			v = &health.Profile{Age: 41, UserConfiguredWalkingStrideLengthMm: 762, AutoRunningStrideLengthMm: 1016,
				MembershipStartDate: &health.Date{Year: 2015, Month: 3, Day: 7}}
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}))
	defer srv.Close()
	e, err := NewEngine(context.Background(), srv.Client(), srv.URL, func() time.Time { return simNow })
	if err != nil {
		t.Fatal(err)
	}
	a := serve(t, e, "/1/user/-/profile.json", US)
	user := a.Body.(map[string]any)["user"].(map[string]any)
	for k, want := range map[string]any{
		"encodedId": "ABC123", "age": int64(41), "timezone": "America/New_York", "offsetFromUTCMillis": int64(-18000000),
		"strideLengthWalking": 30.0, "strideLengthRunning": 40.0, "memberSince": "2015-03-07", "locale": "en_US",
		"distanceUnit": "en_US",
	} {
		if user[k] != want {
			t.Errorf("%s = %#v, want %#v", k, user[k], want)
		}
	}
	if a.GoogleCalls != 3 {
		t.Errorf("profile made %d Google calls, want 3", a.GoogleCalls)
	}
}

func TestProfileFromSimulatedGoogle(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1/user/-/profile.json", Metric)
	user, ok := a.Body.(map[string]any)["user"].(map[string]any)
	if !ok || user["encodedId"] == "" || user["timezone"] == "" {
		t.Fatalf("profile from the simulated Google: %#v", a.Body)
	}
	if a.GoogleCalls != 3 {
		t.Errorf("profile made %d Google calls, want 3", a.GoogleCalls)
	}
}

func TestTimeSeriesSplitsAtGoogleCaps(t *testing.T) {
	e, _ := startEngine(t)
	for _, tc := range []struct {
		path  string
		key   string
		days  int
		calls int // settings + roll-ups
	}{
		{"/1/user/-/activities/steps/date/2026-11-19/2026-08-12.json", "", 0, 0},
		{"/1/user/-/activities/steps/date/2026-08-12/2026-11-19.json", "activities-steps", 100, 1 + 2},
		{"/1/user/-/activities/calories/date/2026-11-19/30d.json", "activities-calories", 30, 1 + 3},
		{"/1/user/-/activities/tracker/distance/date/2026-11-19/1w.json", "activities-tracker-distance", 7, 1 + 1},
	} {
		if tc.key == "" {
			if _, err := Parse(http.MethodGet, tc.path, nil); err == nil {
				t.Errorf("%s: a reversed range was accepted", tc.path)
			}
			continue
		}
		a := serve(t, e, tc.path, Metric)
		series := a.Body.(map[string]any)[tc.key].([]map[string]string)
		if len(series) != tc.days || a.GoogleCalls != tc.calls {
			t.Errorf("%s: %d days in %d calls, want %d in %d", tc.path, len(series), a.GoogleCalls, tc.days, tc.calls)
			continue
		}
		for i := 1; i < len(series); i++ {
			if series[i-1]["dateTime"] >= series[i]["dateTime"] {
				t.Fatalf("%s: not oldest first at %d", tc.path, i)
			}
		}
	}
	// The split answer equals the one-day answers.
	long := serve(t, e, "/1/user/-/activities/steps/date/2026-08-12/2026-11-19.json", Metric).Body.(map[string]any)["activities-steps"].([]map[string]string)
	for _, i := range []int{0, 89, 90, 99} {
		d := long[i]["dateTime"]
		one := serve(t, e, "/1/user/-/activities/steps/date/"+d+"/1d.json", Metric).Body.(map[string]any)["activities-steps"].([]map[string]string)
		if one[0]["value"] != long[i]["value"] {
			t.Errorf("%s: %s in the range, %s alone", d, long[i]["value"], one[0]["value"])
		}
	}
}

func TestDailySummaryFromSim(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1/user/-/activities/date/2026-11-19.json", Metric)
	sum := a.Body.(map[string]any)["summary"].(map[string]any)
	steps := serve(t, e, "/1/user/-/activities/steps/date/2026-11-19/1d.json", Metric).Body.(map[string]any)["activities-steps"].([]map[string]string)
	if got := formatValue(float64(sum["steps"].(int64)), 0); got != steps[0]["value"] || got == "0" {
		t.Errorf("summary steps %s, series %s", got, steps[0]["value"])
	}
	if a.GoogleCalls != 1+summaryCalls() || summaryCalls() != 11 {
		t.Errorf("summary made %d Google calls, want settings + 7 roll-ups + 4 for the heart", a.GoogleCalls)
	}
	// Each field equals its own time series, from the same roll-up.
	for field, resource := range map[string]string{
		"floors": "floors", "elevation": "elevation", "activityCalories": "activityCalories",
		"sedentaryMinutes": "minutesSedentary", "lightlyActiveMinutes": "minutesLightlyActive",
		"fairlyActiveMinutes": "minutesFairlyActive", "veryActiveMinutes": "minutesVeryActive",
	} {
		series := serve(t, e, "/1/user/-/activities/"+resource+"/date/2026-11-19/1d.json", Metric).Body.(map[string]any)["activities-"+resource].([]map[string]string)
		if got := fmt.Sprint(sum[field]); got != series[0]["value"] {
			t.Errorf("summary %s %s, series %s", field, got, series[0]["value"])
		}
	}
	// The person's day, whose minutes in bed have no activity level (as on
	// Fitbit).
	p := person.New(googlesim.DefaultLegacyUserID)
	day, _ := p.Day("2026-11-19")
	tot := p.Activity(day).Totals()
	if m := sum["sedentaryMinutes"].(int64) + sum["lightlyActiveMinutes"].(int64) + sum["fairlyActiveMinutes"].(int64) + sum["veryActiveMinutes"].(int64); m != int64(tot.Sedentary+tot.Lightly+tot.Fairly+tot.Very) || sum["steps"].(int64) != int64(tot.Steps) {
		t.Errorf("a past day's activity levels cover %d minutes, steps %v; the person's %+v", m, sum["steps"], tot)
	}
	if bmr, out, active := sum["caloriesBMR"].(int64), sum["caloriesOut"].(int64), sum["activityCalories"].(int64); bmr != out-active || active == 0 {
		t.Errorf("caloriesBMR %d of %d out, %d active", bmr, out, active)
	}
	if _, ok := sum["restingHeartRate"].(int64); !ok || len(sum["heartRateZones"].([]map[string]any)) != 4 {
		t.Errorf("heart: %v %v", sum["restingHeartRate"], sum["heartRateZones"])
	}
	us := serve(t, e, "/1/user/-/activities/date/2026-11-19.json", US).Body.(map[string]any)["summary"].(map[string]any)
	if m, ft := sum["elevation"].(float64), us["elevation"].(float64); m == 0 || math.Abs(ft-m/0.3048) > 0.02 {
		t.Errorf("elevation %v m, %v ft", m, ft)
	}
}

func TestCallBound(t *testing.T) {
	e, s := startEngine(t)
	r, err := Parse(http.MethodGet, "/1/user/-/activities/calories/date/2023-11-26/2026-11-19.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.ResetRequests()
	if _, err := e.Serve(context.Background(), r, Metric); err != ErrTooManyCalls {
		t.Fatalf("three years of calories: %v, want ErrTooManyCalls", err)
	}
	if n := s.Stats().APIRequests; n > 1 {
		t.Errorf("%d Google calls made before refusing, want only settings", n)
	}
}

func TestActivitySeriesResources(t *testing.T) {
	e, _ := startEngine(t)
	for _, path := range []string{
		"/1/user/-/activities/elevation/date/2026-11-19/7d.json",
		"/1/user/-/activities/minutesVeryActive/date/2026-11-19/7d.json",
		"/1/user/-/activities/minutesSedentary/date/2026-11-19/7d.json",
		"/1/user/-/activities/tracker/activityCalories/date/2026-11-19/1w.json",
		"/1/user/-/activities/floors/date/2026-11-19/7d.json",
	} {
		a := serve(t, e, path, Metric)
		for key, v := range a.Body.(map[string]any) {
			series := v.([]map[string]string)
			if len(series) != 7 || series[6]["dateTime"] != "2026-11-19" || !strings.HasPrefix(key, "activities-") {
				t.Errorf("%s: %s %v, want 7 days", path, key, series)
			}
			nonzero := false
			for _, d := range series {
				nonzero = nonzero || d["value"] != "0"
			}
			if !nonzero {
				t.Errorf("%s: all zero", path)
			}
		}
		if a.GoogleCalls != 2 {
			t.Errorf("%s: %d Google calls", path, a.GoogleCalls)
		}
	}
}

// TestCostsAsDocumented: the fixed costs in Table are what the engine makes.
func TestCostsAsDocumented(t *testing.T) {
	e, _ := startEngine(t)
	for path, ep := range map[string]Endpoint{
		"/1/user/-/profile.json":                         Profile,
		"/1/user/-/activities/date/2026-11-19.json":      DailySummary,
		"/1.2/user/-/sleep/date/2026-11-19.json":         SleepByDate,
		"/1/user/-/body/log/weight/date/2026-11-19.json": WeightLog,
		"/1/user/-/body/log/fat/date/2026-11-19.json":    FatLog,
	} {
		cost := Lookup(ep).Cost
		if got := strconv.Itoa(serve(t, e, path, Metric).GoogleCalls); cost != got && !strings.HasSuffix(cost, "= "+got) {
			t.Errorf("%v: %s Google calls, Table says %q", ep, got, cost)
		}
	}
	// The series' cost is a formula of the days: 1 + ⌈days / cap⌉, and
	// for caloriesBMR a second roll-up, at its own cap.
	if cost := Lookup(ActivityTimeSeries).Cost; !strings.Contains(cost, "caloriesBMR 1 + ⌈days / 14⌉ + ⌈days / 90⌉") {
		t.Errorf("the series' cost %q does not give caloriesBMR's", cost)
	}
	for path, want := range map[string]int{
		"/1/user/-/activities/steps/date/2026-11-19/7d.json":                       1 + 1,
		"/1/user/-/activities/calories/date/2026-11-19/30d.json":                   1 + 3,
		"/1/user/-/activities/caloriesBMR/date/2026-11-19/1d.json":                 1 + 1 + 1,
		"/1/user/-/activities/caloriesBMR/date/2026-11-19/30d.json":                1 + 3 + 1,
		"/1/user/-/activities/tracker/caloriesBMR/date/2026-08-01/2026-11-19.json": 1 + 8 + 2,
	} {
		if got := serve(t, e, path, Metric).GoogleCalls; got != want {
			t.Errorf("%s: %d Google calls, the formula says %d", path, got, want)
		}
	}
}

// TestSummaryWithoutOptionalRollUps: where Google refuses a roll-up that
// feeds optional fields (altitude, active-energy-burned, activity-level, the
// heart zones), the summary still answers, those fields 0.
func TestSummaryWithoutOptionalRollUps(t *testing.T) {
	_, s := startEngine(t)
	tok := s.MintTokens(s.Config().DefaultUser, s.AllScopes()...)
	refused := map[string]bool{"altitude": true, "active-energy-burned": true, "activity-level": true,
		"time-in-heart-rate-zone": true, "calories-in-heart-rate-zone": true}
	e, err := NewEngine(context.Background(), &http.Client{Transport: refuseRollUps{bearer(tok.AccessToken), refused}}, s.URL(), func() time.Time { return simNow })
	if err != nil {
		t.Fatal(err)
	}
	a := serve(t, e, "/1/user/-/activities/date/2026-11-19.json", Metric)
	sum := a.Body.(map[string]any)["summary"].(map[string]any)
	if sum["steps"].(int64) == 0 || sum["elevation"] != 0.0 || sum["veryActiveMinutes"] != int64(0) || a.GoogleCalls != 12 {
		t.Errorf("summary %v in %d calls", sum, a.GoogleCalls)
	}
	h := serve(t, e, "/1/user/-/activities/heart/date/2026-11-19/1d.json", Metric)
	if _, ok := h.Body.(map[string]any)["activities-heart"].([]map[string]any)[0]["value"].(map[string]any)["restingHeartRate"]; !ok {
		t.Errorf("heart without zone roll-ups: %v", h.Body)
	}
	// A series asked for by name fails as Google did.
	r, _ := Parse(http.MethodGet, "/1/user/-/activities/elevation/date/2026-11-19/1d.json", nil)
	if _, err := e.Serve(context.Background(), r, Metric); !notRolledUp(err) {
		t.Errorf("elevation series: %v, want Google's 400", err)
	}
}
