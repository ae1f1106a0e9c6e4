package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	health "google.golang.org/api/health/v4"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
)

// bearer adds a fixed access token, standing in for the gateway's injector.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// rollUpShim answers the daily roll-ups the simulator does not serve yet
// with fixed values per day, and a height of 1.75 m, encoded from the
// generated types; every other
// call goes to the simulator through next. Drop a type here once
// internal/googlesim rolls it up.
type rollUpShim struct{ next http.RoundTripper }

var shimmed = map[string]func(p *health.DailyRollupDataPoint){
	"time-in-heart-rate-zone": func(p *health.DailyRollupDataPoint) {
		p.TimeInHeartRateZone = &health.TimeInHeartRateZoneRollupValue{TimeInHeartRateZones: []*health.TimeInHeartRateZoneValue{
			{HeartRateZone: "LIGHT", Duration: "72000s"}, {HeartRateZone: "MODERATE", Duration: "5400s"}, {HeartRateZone: "PEAK", Duration: "90s"}}}
	},
	"calories-in-heart-rate-zone": func(p *health.DailyRollupDataPoint) {
		p.CaloriesInHeartRateZone = &health.CaloriesInHeartRateZoneRollupValue{CaloriesInHeartRateZones: []*health.CaloriesInHeartRateZoneValue{
			{HeartRateZone: "LIGHT", Kcal: 1500.25}, {HeartRateZone: "MODERATE", Kcal: 400}}}
	},
	"altitude": func(p *health.DailyRollupDataPoint) {
		p.Altitude = &health.AltitudeRollupValue{GainMillimetersSum: 30480}
	},
	"active-energy-burned": func(p *health.DailyRollupDataPoint) {
		p.ActiveEnergyBurned = &health.ActiveEnergyBurnedRollupValue{KcalSum: 612.4}
	},
	"activity-level": func(p *health.DailyRollupDataPoint) {
		p.ActivityLevel = &health.ActivityLevelRollupValue{ActivityLevelRollupsByActivityLevelType: []*health.ActivityLevelRollupByActivityLevelType{
			{ActivityLevelType: "SEDENTARY", TotalDuration: "43200s"}, {ActivityLevelType: "LIGHTLY_ACTIVE", TotalDuration: "10800s"},
			{ActivityLevelType: "MODERATELY_ACTIVE", TotalDuration: "1230s"}, {ActivityLevelType: "VERY_ACTIVE", TotalDuration: "900s"}}}
	},
}

func (z rollUpShim) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/v4/users/me/dataTypes/height/dataPoints" {
		return jsonResponse(r, &health.ListDataPointsResponse{DataPoints: []*health.DataPoint{{
			Name:   "users/me/dataTypes/height/dataPoints/1",
			Height: &health.Height{HeightMillimeters: 1750, SampleTime: &health.ObservationSampleTime{PhysicalTime: "2026-01-01T08:00:00Z"}},
		}}})
	}
	typ, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v4/users/me/dataTypes/"), "/dataPoints:dailyRollUp")
	fill := shimmed[typ]
	if !ok || fill == nil {
		return z.next.RoundTrip(r)
	}
	var req health.DailyRollUpDataPointsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, err
	}
	day := func(d *health.Date) time.Time {
		return time.Date(int(d.Year), time.Month(d.Month), int(d.Day), 0, 0, 0, 0, time.UTC)
	}
	var resp health.DailyRollUpDataPointsResponse
	for d := day(req.Range.Start.Date); d.Before(day(req.Range.End.Date)); d = d.AddDate(0, 0, 1) {
		p := &health.DailyRollupDataPoint{CivilStartTime: civil(d), CivilEndTime: civil(d.AddDate(0, 0, 1))}
		fill(p)
		resp.RollupDataPoints = append(resp.RollupDataPoints, p)
	}
	return jsonResponse(r, &resp)
}

func jsonResponse(r *http.Request, v any) (*http.Response, error) {
	b, err := json.Marshal(v)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), Request: r}, err
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
	e, err := NewEngine(context.Background(), &http.Client{Transport: rollUpShim{bearer(tok.AccessToken)}}, s.URL(), func() time.Time { return simNow })
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
	for k, want := range map[string]any{
		"elevation": 30.48, "activityCalories": int64(612), "sedentaryMinutes": int64(720), "lightlyActiveMinutes": int64(180),
		"fairlyActiveMinutes": int64(21), "veryActiveMinutes": int64(15),
	} {
		if sum[k] != want {
			t.Errorf("%s = %#v, want %#v", k, sum[k], want)
		}
	}
	if bmr, out := sum["caloriesBMR"].(int64), sum["caloriesOut"].(int64); bmr != out-612 || sum["floors"].(int64) <= 0 {
		t.Errorf("caloriesBMR %d of %d out, floors %v", bmr, out, sum["floors"])
	}
	if _, ok := sum["restingHeartRate"].(int64); !ok || len(sum["heartRateZones"].([]map[string]any)) != 4 {
		t.Errorf("heart: %v %v", sum["restingHeartRate"], sum["heartRateZones"])
	}
	us := serve(t, e, "/1/user/-/activities/date/2026-11-19.json", US).Body.(map[string]any)["summary"].(map[string]any)
	if us["elevation"] != 100.0 {
		t.Errorf("elevation in ft: %v", us["elevation"])
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
	for path, want := range map[string]string{
		"/1/user/-/activities/elevation/date/2026-11-19/7d.json":                "30.48",
		"/1/user/-/activities/minutesVeryActive/date/2026-11-19/7d.json":        "15",
		"/1/user/-/activities/minutesSedentary/date/2026-11-19/7d.json":         "720",
		"/1/user/-/activities/tracker/activityCalories/date/2026-11-19/1w.json": "612",
	} {
		a := serve(t, e, path, Metric)
		for key, v := range a.Body.(map[string]any) {
			series := v.([]map[string]string)
			if len(series) != 7 || series[6]["value"] != want || !strings.HasPrefix(key, "activities-") {
				t.Errorf("%s: %s %v, want 7 days of %s", path, key, series, want)
			}
		}
		if a.GoogleCalls != 2 {
			t.Errorf("%s: %d Google calls", path, a.GoogleCalls)
		}
	}
	floors := serve(t, e, "/1/user/-/activities/floors/date/2026-11-19/1d.json", Metric).Body.(map[string]any)["activities-floors"].([]map[string]string)
	if floors[0]["value"] == "0" {
		t.Error("no floors from the simulator")
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
}
