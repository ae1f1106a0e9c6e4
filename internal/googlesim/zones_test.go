package googlesim

import (
	"net/http"
	"testing"
	"time"

	health "google.golang.org/api/health/v4"
)

// The zone roll-ups count the heart-rate list's minutes (the average of
// their 5-second samples) by the daily-heart-rate-zones bounds.
func TestHeartRateZones(t *testing.T) {
	const sampled = `heart_rate.sample_time.civil_time >= "2026-11-19T00:00:00" AND heart_rate.sample_time.civil_time < "2026-11-20T00:00:00"`
	day := &health.CivilTimeInterval{
		Start: &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 19}},
		End:   &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 20}}}
	d, _, svc, c := startWithClient(t, AreaMetrics+".readonly", AreaActivity+".readonly")
	dps := svc.Users.DataTypes.DataPoints

	zl, err := dps.List("users/me/dataTypes/daily-heart-rate-zones").Filter(`daily_heart_rate_zones.date = "2026-11-19"`).Do()
	if err != nil || len(zl.DataPoints) != 1 {
		t.Fatalf("zones %+v %v", zl, err)
	}
	strict(t, d, "list daily-heart-rate-zones", c.last(), &health.ListDataPointsResponse{})
	zones := zl.DataPoints[0].DailyHeartRateZones.HeartRateZones
	if len(zones) != 4 || zones[0].HeartRateZoneType != "LIGHT" || zones[3].HeartRateZoneType != "PEAK" {
		t.Fatalf("zones %+v", zones)
	}
	// u1's day (Los Angeles): its samples, averaged per minute, each
	// minute in the zone of its average.
	want := map[string]time.Duration{}
	var worn time.Duration
	byMinute := map[time.Time][]int64{}
	req := dps.List("users/me/dataTypes/heart-rate").PageSize(10000).Filter(sampled)
	for {
		hr, err := req.Do()
		if err != nil {
			t.Fatalf("heart rate samples: %v", err)
		}
		for _, p := range hr.DataPoints {
			at, _ := time.Parse(time.RFC3339, p.HeartRate.SampleTime.PhysicalTime)
			byMinute[at.Truncate(time.Minute)] = append(byMinute[at.Truncate(time.Minute)], p.HeartRate.BeatsPerMinute)
		}
		if hr.NextPageToken == "" {
			break
		}
		req.PageToken(hr.NextPageToken)
	}
	if len(byMinute) < 1200 {
		t.Fatalf("%d minutes with a heart rate", len(byMinute))
	}
	for _, samples := range byMinute {
		var sum int64
		for _, v := range samples {
			sum += v
		}
		bpm := (sum + int64(len(samples))/2) / int64(len(samples))
		z := zones[0].HeartRateZoneType
		for _, b := range zones[1:] {
			if bpm >= b.MinBeatsPerMinute {
				z = b.HeartRateZoneType
			}
		}
		want[z] += time.Minute
		worn += time.Minute
	}

	times, err := dps.DailyRollUp("users/me/dataTypes/time-in-heart-rate-zone", &health.DailyRollUpDataPointsRequest{Range: day}).Do()
	if err != nil || len(times.RollupDataPoints) != 1 {
		t.Fatalf("time in zones %+v %v", times, err)
	}
	strict(t, d, "dailyRollUp time-in-heart-rate-zone", c.last(), &health.DailyRollUpDataPointsResponse{})
	var total time.Duration
	for _, z := range times.RollupDataPoints[0].TimeInHeartRateZone.TimeInHeartRateZones {
		got, err := time.ParseDuration(z.Duration)
		if err != nil || got != want[z.HeartRateZone] {
			t.Fatalf("%s: %s, the list's samples give %s", z.HeartRateZone, z.Duration, want[z.HeartRateZone])
		}
		total += got
	}
	if total != worn {
		t.Fatalf("the day's zones add up to %s", total)
	}
	kcal, err := dps.DailyRollUp("users/me/dataTypes/calories-in-heart-rate-zone", &health.DailyRollUpDataPointsRequest{Range: day}).Do()
	if err != nil || len(kcal.RollupDataPoints) != 1 || len(kcal.RollupDataPoints[0].CaloriesInHeartRateZone.CaloriesInHeartRateZones) != 4 {
		t.Fatalf("calories in zones %+v %v", kcal, err)
	}
	strict(t, d, "dailyRollUp calories-in-heart-rate-zone", c.last(), &health.DailyRollUpDataPointsResponse{})
	for _, z := range kcal.RollupDataPoints[0].CaloriesInHeartRateZone.CaloriesInHeartRateZones {
		if (z.Kcal > 0) != (want[z.HeartRateZone] > 0) {
			t.Fatalf("%s: %v kcal in %s", z.HeartRateZone, z.Kcal, want[z.HeartRateZone])
		}
	}
	// The same windows through rollUp; the 14-day cap of
	// calories-in-heart-rate-zone.
	if r, err := dps.RollUp("users/me/dataTypes/time-in-heart-rate-zone", rollUpRequest("2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z", "86400s")).Do(); err != nil ||
		len(r.RollupDataPoints) != 1 || len(r.RollupDataPoints[0].TimeInHeartRateZone.TimeInHeartRateZones) != 4 {
		t.Fatalf("rollUp time in zones %+v %v", r, err)
	}
	_, err = dps.RollUp("users/me/dataTypes/calories-in-heart-rate-zone", rollUpRequest("2026-11-01T00:00:00Z", "2026-11-16T00:00:00Z", "86400s")).Do()
	wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = dps.List("users/me/dataTypes/calories-in-heart-rate-zone").Do()
	wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
}
