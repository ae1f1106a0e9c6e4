package googlesim

import (
	"math"
	"net/http"
	"testing"
	"time"

	health "google.golang.org/api/health/v4"
)

func rollUpRequest(start, end, window string) *health.RollUpDataPointsRequest {
	return &health.RollUpDataPointsRequest{Range: &health.Interval{StartTime: start, EndTime: end}, WindowSize: window}
}

func TestRollUp(t *testing.T) {
	d, s, svc, c := startWithClient(t, AreaActivity+".readonly", AreaMetrics+".readonly")
	dps := svc.Users.DataTypes.DataPoints

	// Hourly windows over u1's day (Los Angeles), in pages of 10, add up
	// to the day's dailyRollUp.
	var hours []*health.RollupDataPoint
	req := rollUpRequest("2026-11-19T08:00:00Z", "2026-11-20T08:00:00Z", "3600s")
	req.PageSize = 10
	pages := 0
	for {
		resp, err := dps.RollUp("users/me/dataTypes/steps", req).Do()
		if err != nil {
			t.Fatal(err)
		}
		strict(t, d, "rollUp steps", c.last(), &health.RollUpDataPointsResponse{})
		pages++
		hours = append(hours, resp.RollupDataPoints...)
		if req.PageToken = resp.NextPageToken; req.PageToken == "" {
			break
		}
	}
	if len(hours) != 24 || pages != 3 || hours[0].StartTime != "2026-11-19T08:00:00Z" || hours[23].EndTime != "2026-11-20T08:00:00Z" {
		t.Fatalf("%d windows in %d pages: %+v", len(hours), pages, hours[0])
	}
	var sum int64
	for i, h := range hours {
		if i > 0 && h.StartTime != hours[i-1].EndTime {
			t.Fatalf("windows not contiguous at %d", i)
		}
		if h.Steps != nil { // nil: an hour off the wrist
			sum += h.Steps.CountSum
		}
	}
	daily, err := dps.DailyRollUp("users/me/dataTypes/steps", &health.DailyRollUpDataPointsRequest{Range: &health.CivilTimeInterval{
		Start: &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 19}},
		End:   &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 20}}}}).Do()
	if err != nil || len(daily.RollupDataPoints) != 1 || daily.RollupDataPoints[0].Steps.CountSum != sum || sum == 0 {
		t.Fatalf("hours sum to %d, the day %+v %v", sum, daily, err)
	}

	// The last window is cut at the range's end; none start after the clock.
	resp, err := dps.RollUp("users/me/dataTypes/heart-rate", rollUpRequest("2026-11-20T08:00:00Z", "2026-11-21T00:00:00Z", "5400s")).Do()
	if err != nil {
		t.Fatal(err)
	}
	strict(t, d, "rollUp heart-rate", c.last(), &health.RollUpDataPointsResponse{})
	if len(resp.RollupDataPoints) != 2 || resp.RollupDataPoints[1].EndTime != "2026-11-20T11:00:00Z" ||
		resp.RollupDataPoints[0].HeartRate.BeatsPerMinuteMax < resp.RollupDataPoints[0].HeartRate.BeatsPerMinuteMin {
		t.Fatalf("heart rate windows %+v", resp.RollupDataPoints)
	}
	cut, err := dps.RollUp("users/me/dataTypes/floors", rollUpRequest("2026-11-19T00:00:00Z", "2026-11-19T02:30:00Z", "3600s")).Do()
	if err != nil || len(cut.RollupDataPoints) != 3 || cut.RollupDataPoints[2].EndTime != "2026-11-19T02:30:00Z" {
		t.Fatalf("cut window %+v %v", cut, err)
	}

	// Google's errors: range caps (14 days for heart-rate and
	// total-calories, 90 for the rest), window, range, body, type, token.
	bad := func(what, typ string, req *health.RollUpDataPointsRequest) {
		t.Helper()
		_, err := dps.RollUp("users/me/dataTypes/"+typ, req).Do()
		if err == nil {
			t.Fatalf("%s: accepted", what)
		}
		wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
	}
	bad("heart rate 15 days", "heart-rate", rollUpRequest("2026-11-01T00:00:00Z", "2026-11-16T00:00:00Z", "86400s"))
	bad("calories 15 days", "total-calories", rollUpRequest("2026-11-01T00:00:00Z", "2026-11-16T00:00:00Z", "86400s"))
	bad("steps 91 days", "steps", rollUpRequest("2026-08-01T00:00:00Z", "2026-10-31T00:00:00Z", "86400s"))
	bad("no window", "steps", rollUpRequest("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", ""))
	bad("sub-second window", "steps", rollUpRequest("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "0.5s"))
	bad("reversed", "steps", rollUpRequest("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z", "60s"))
	bad("civil time", "steps", rollUpRequest("2026-11-01", "2026-11-02", "60s"))
	bad("no range", "steps", &health.RollUpDataPointsRequest{WindowSize: "60s"})
	bad("exercise", "exercise", rollUpRequest("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "60s"))
	other := rollUpRequest("2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z", "60s")
	other.PageToken = hours[0].StartTime
	bad("bad token", "steps", other)
	req.PageToken, req.WindowSize = "", "1800s"
	first, _ := dps.RollUp("users/me/dataTypes/steps", req).Do()
	other.PageToken = first.NextPageToken // of another window size
	bad("token of another request", "steps", other)

	ro, rc := healthClient(t, s, s.MintTokens("u1", AreaSleep+".readonly").AccessToken)
	_, err = ro.Users.DataTypes.DataPoints.RollUp("users/me/dataTypes/steps", rollUpRequest("2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z", "3600s")).Do()
	if det := wantGoogleError(t, err, rc, http.StatusForbidden, "PERMISSION_DENIED"); len(det) != 1 || det[0].Reason != "ACCESS_TOKEN_SCOPE_INSUFFICIENT" {
		t.Fatalf("details %+v", det)
	}
}

// TestRollUpAtWindowBoundary: with the clock on a window's start, that
// window's first minute has begun, so rollUp answers the window, as the
// list and dailyRollUp count the minute: today's 15-minute windows add up
// to today's dailyRollUp.
func TestRollUpAtWindowBoundary(t *testing.T) {
	now := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC) // 07:00 in Los Angeles
	s, _ := start(t, Config{Now: func() time.Time { return now }})
	svc, _ := healthClient(t, s, s.MintTokens("u1", AreaActivity+".readonly", AreaMetrics+".readonly").AccessToken)
	dps := svc.Users.DataTypes.DataPoints
	day, _ := s.person("u1").Day("2026-11-20")
	req := rollUpRequest(day.UTC().Format(time.RFC3339), day.AddDate(0, 0, 1).UTC().Format(time.RFC3339), "900s")
	req.PageSize = 1000
	resp, err := dps.RollUp("users/me/dataTypes/total-calories", req).Do()
	if err != nil {
		t.Fatal(err)
	}
	windows := resp.RollupDataPoints
	if n := len(windows); n != 7*4+1 || windows[n-1].StartTime != "2026-11-20T15:00:00Z" {
		t.Fatalf("%d windows, the last %+v", n, windows[n-1])
	}
	var kcal float64
	for _, w := range windows {
		kcal += w.TotalCalories.KcalSum
	}
	daily, err := dps.DailyRollUp("users/me/dataTypes/total-calories", &health.DailyRollUpDataPointsRequest{Range: &health.CivilTimeInterval{
		Start: &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 20}},
		End:   &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 21}}}}).Do()
	if err != nil || math.Abs(daily.RollupDataPoints[0].TotalCalories.KcalSum-kcal) > 1e-6 {
		t.Fatalf("windows sum to %v kcal, the day %+v %v", kcal, daily, err)
	}
	// The person's minutes up to the one at the clock, 07:00, inclusive.
	if want := s.person("u1").Activity(day).Sum(0, 7*60+1).MilliCal; math.Abs(kcal-float64(want)/1000) > 1e-6 {
		t.Fatalf("windows sum to %v kcal, the person's minutes to %d mcal", kcal, want)
	}
}
