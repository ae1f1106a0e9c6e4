package googlesim

import (
	"math"
	"testing"
	"time"

	health "google.golang.org/api/health/v4"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The simulator renders the synthetic person: a civil day's roll-ups are
// the person's day totals (the simulated Fitbit's), every time carries the
// person's offset, and the profile, settings, sleep and weighings are the
// person's. u1 lives in Los Angeles; the clock is 2026-11-20 10:15:30 UTC,
// 02:15 there; Nov 1 is a daylight-saving day.
func TestRendersPerson(t *testing.T) {
	d, s, svc, c := startWithClient(t, AreaActivity+".readonly", AreaMetrics+".readonly", AreaSleep+".readonly",
		AreaProfile+".readonly", AreaSettings+".readonly")
	dps := svc.Users.DataTypes.DataPoints
	p := s.person("u1")
	if p.Profile.TimeZone != "America/Los_Angeles" {
		t.Fatalf("u1 lives in %s", p.Profile.TimeZone)
	}
	now := s.now()
	civil := func(day time.Time) *health.CivilDateTime {
		return &health.CivilDateTime{Date: &health.Date{Year: int64(day.Year()), Month: int64(day.Month()), Day: int64(day.Day())}}
	}
	daily := func(typ string, from, to time.Time) []*health.DailyRollupDataPoint {
		t.Helper()
		resp, err := dps.DailyRollUp("users/me/dataTypes/"+typ, &health.DailyRollUpDataPointsRequest{
			Range: &health.CivilTimeInterval{Start: civil(from), End: civil(to)}, WindowSizeDays: 1}).Do()
		if err != nil || len(resp.RollupDataPoints) != int(to.Sub(from).Hours()/24+0.5) {
			t.Fatalf("dailyRollUp %s: %v", typ, err)
		}
		strict(t, d, "dailyRollUp "+typ, c.last(), &health.DailyRollUpDataPointsResponse{})
		return resp.RollupDataPoints
	}
	milli := func(kcal float64) int { return int(math.Round(kcal * 1000)) }

	first, _ := p.Day("2026-10-28")
	last, _ := p.Day("2026-11-10") // 13 days, Nov 1 among them, within the 14-day caps
	steps, dist, floors, alt := daily("steps", first, last), daily("distance", first, last), daily("floors", first, last), daily("altitude", first, last)
	total, active, levels := daily("total-calories", first, last), daily("active-energy-burned", first, last), daily("activity-level", first, last)
	zoneTime, zoneCal := daily("time-in-heart-rate-zone", first, last), daily("calories-in-heart-rate-zone", first, last)
	for i, day := 0, first; day.Before(last); i, day = i+1, day.AddDate(0, 0, 1) {
		a, h := p.Activity(day), p.Heart(day)
		tot := a.Totals()
		if steps[i].Steps.CountSum != int64(tot.Steps) || dist[i].Distance.MillimetersSum != int64(tot.DistanceMM) ||
			floors[i].Floors.CountSum != int64(tot.Floors) || alt[i].Altitude.GainMillimetersSum != int64(tot.ElevationMM) {
			t.Fatalf("%s: steps %d, mm %d, floors %d, elevation %d; the person's %+v", day.Format(time.DateOnly), steps[i].Steps.CountSum,
				dist[i].Distance.MillimetersSum, floors[i].Floors.CountSum, alt[i].Altitude.GainMillimetersSum, tot)
		}
		if milli(total[i].TotalCalories.KcalSum) != tot.MilliCal || milli(active[i].ActiveEnergyBurned.KcalSum) != tot.ActMilliCal {
			t.Fatalf("%s: calories %v, active %v; the person's %+v", day.Format(time.DateOnly), total[i].TotalCalories.KcalSum, active[i].ActiveEnergyBurned.KcalSum, tot)
		}
		got := map[string]int{}
		for _, l := range levels[i].ActivityLevel.ActivityLevelRollupsByActivityLevelType {
			dur, _ := time.ParseDuration(l.TotalDuration)
			got[l.ActivityLevelType] = int(dur.Minutes())
		}
		if got["SEDENTARY"] != tot.Sedentary || got["LIGHTLY_ACTIVE"] != tot.Lightly || got["MODERATELY_ACTIVE"] != tot.Fairly || got["VERY_ACTIVE"] != tot.Very {
			t.Fatalf("%s: levels %v, the person's %+v", day.Format(time.DateOnly), got, tot)
		}
		for z, zt := range zoneTime[i].TimeInHeartRateZone.TimeInHeartRateZones {
			dur, _ := time.ParseDuration(zt.Duration)
			kc := zoneCal[i].CaloriesInHeartRateZone.CaloriesInHeartRateZones[z]
			if zt.HeartRateZone != zoneTypes[z] || int(dur.Minutes()) != h.Zones[z].Minutes || milli(kc.Kcal) != h.Zones[z].MilliCal {
				t.Fatalf("%s: zone %s %s %v kcal, the person's %+v", day.Format(time.DateOnly), zt.HeartRateZone, zt.Duration, kc.Kcal, h.Zones[z])
			}
		}
	}

	// Today so far: the minutes begun by the clock.
	today := p.DayOf(now)
	upto := int(now.Sub(today)/time.Minute) + 1
	if got := daily("steps", today, today.AddDate(0, 0, 1))[0]; got.Steps == nil || got.Steps.CountSum != int64(p.Activity(today).Sum(0, upto).Steps) {
		t.Fatalf("today's steps %+v, the person's %d", got.Steps, p.Activity(today).Sum(0, upto).Steps)
	}

	// Offsets: the person's, daylight saving included, in the civil times
	// too.
	for _, c := range []struct {
		day, off string
	}{{"2026-10-31", "-25200s"}, {"2026-11-02", "-28800s"}} {
		resp, err := dps.List("users/me/dataTypes/steps").PageSize(1).
			Filter(`steps.interval.civil_start_time >= "` + c.day + `T12:00:00" AND steps.interval.civil_start_time < "` + c.day + `T23:00:00"`).Do()
		if err != nil || len(resp.DataPoints) != 1 {
			t.Fatalf("%s: %v", c.day, err)
		}
		iv := resp.DataPoints[0].Steps.Interval
		start, _ := time.Parse(time.RFC3339, iv.StartTime)
		if iv.StartUtcOffset != c.off || iv.EndUtcOffset != c.off || iv.CivilStartTime == nil ||
			iv.CivilStartTime.Time.Hours != int64(start.In(p.Location()).Hour()) || resp.DataPoints[0].DataSource.Device.DisplayName != "Charge 6" {
			t.Fatalf("%s: %+v %+v", c.day, iv, resp.DataPoints[0].DataSource.Device)
		}
	}

	// Resting heart rate, sleep and weighings of the person's days.
	day, _ := p.Day("2026-11-12")
	rhr, err := dps.List("users/me/dataTypes/daily-resting-heart-rate").Filter(`daily_resting_heart_rate.date = "2026-11-12"`).Do()
	if err != nil || len(rhr.DataPoints) != 1 || rhr.DataPoints[0].DailyRestingHeartRate.BeatsPerMinute != int64(p.RestingHeartRate(day)) {
		t.Fatalf("resting %+v %v", rhr, err)
	}
	sl, err := dps.Reconcile("users/me/dataTypes/sleep").Filter(`sleep.interval.civil_end_time >= "2026-11-12" AND sleep.interval.civil_end_time < "2026-11-13"`).Do()
	if err != nil || len(sl.DataPoints) != 1 {
		t.Fatalf("sleep %+v %v", sl, err)
	}
	want := p.Sleeps(day)[0]
	got := sl.DataPoints[0].Sleep
	if got.Interval.StartTime != timestamp(want.Start) || got.Interval.EndTime != timestamp(want.End()) ||
		got.Summary.MinutesAsleep != int64(want.AsleepMinutes()) || got.Summary.MinutesInSleepPeriod != int64(want.TimeInBedMinutes()) ||
		len(got.Stages) != len(want.Runs()) || !got.Metadata.MainSleep {
		t.Fatalf("sleep %+v %+v, the person's starts %v, %d runs", got.Interval, got.Summary, want.Start, len(want.Runs()))
	}
	for _, st := range got.Summary.StagesSummary {
		for _, ps := range person.Stages {
			if sleepStages[ps] == st.Type && st.Minutes != int64(want.Seconds(ps)/60) {
				t.Fatalf("%s: %d minutes, the person's %d s", st.Type, st.Minutes, want.Seconds(ps))
			}
		}
	}
	weighings := 0
	for d := day.AddDate(0, 0, -20); d.Before(day); d = d.AddDate(0, 0, 1) {
		weighings += len(p.Weighings(d))
	}
	wl, err := dps.List("users/me/dataTypes/weight").Filter(`weight.sample_time.civil_time >= "2026-10-23" AND weight.sample_time.civil_time < "2026-11-12"`).Do()
	if err != nil || len(wl.DataPoints) != weighings || weighings == 0 {
		t.Fatalf("%d weighings, %+v %v", weighings, wl, err)
	}
	w := wl.DataPoints[0].Weight
	at, _ := time.Parse(time.RFC3339, w.SampleTime.PhysicalTime)
	if logs := p.Weighings(at); len(logs) != 1 || w.WeightGrams != math.Round(logs[0].KG*1000) || wl.DataPoints[0].DataSource.Device.FormFactor != "SCALE" {
		t.Fatalf("weight %+v, the person's %+v", w, logs)
	}

	// Height: one sample, found by a list of any recent window's past.
	hl, err := dps.List("users/me/dataTypes/height").PageSize(1).Filter(`height.sample_time.civil_time < "2026-11-19"`).Do()
	if err != nil || len(hl.DataPoints) != 1 || hl.DataPoints[0].Height.HeightMillimeters != int64(p.Profile.HeightMM) {
		t.Fatalf("height %+v %v", hl, err)
	}

	// Profile and settings.
	pr, err := svc.Users.GetProfile("users/me/profile").Do()
	if err != nil || pr.Age != int64(p.Age(today)) || pr.UserConfiguredWalkingStrideLengthMm != int64(p.Profile.StrideWalkingMM) ||
		pr.MembershipStartDate.Year != int64(p.Profile.MemberSince.Year()) {
		t.Fatalf("profile %+v %v", pr, err)
	}
	st, err := svc.Users.GetSettings("users/me/settings").Do()
	if err != nil || st.TimeZone != "America/Los_Angeles" || st.UtcOffset != "-28800s" {
		t.Fatalf("settings %+v %v", st, err)
	}
}

// TestEastOfUTC: in Sydney (UTC+11 in November) the person's day starts
// 11 hours before UTC's: at 20:00 UTC on Nov 20 it is Nov 21 there, and
// that day's daily points and roll-ups are served.
func TestEastOfUTC(t *testing.T) {
	s, clk := start(t, Config{LegacyUserIDs: map[string]string{"u1": "5J3M2P"}})
	clk.Advance(9*time.Hour + 44*time.Minute + 30*time.Second) // 20:00 UTC
	p := s.person("u1")
	if p.Profile.TimeZone != "Australia/Sydney" {
		t.Fatalf("5J3M2P lives in %s", p.Profile.TimeZone)
	}
	svc, _ := healthClient(t, s, s.MintTokens("u1", AreaMetrics+".readonly", AreaActivity+".readonly", AreaSettings+".readonly").AccessToken)
	dps := svc.Users.DataTypes.DataPoints
	today := p.DayOf(s.now())
	rhr, err := dps.List("users/me/dataTypes/daily-resting-heart-rate").Filter(`daily_resting_heart_rate.date = "2026-11-21"`).Do()
	if err != nil || len(rhr.DataPoints) != 1 || today.Format(time.DateOnly) != "2026-11-21" ||
		rhr.DataPoints[0].DailyRestingHeartRate.BeatsPerMinute != int64(p.RestingHeartRate(today)) {
		t.Fatalf("today's resting rate %+v %v", rhr, err)
	}
	resp, err := dps.DailyRollUp("users/me/dataTypes/steps", &health.DailyRollUpDataPointsRequest{Range: &health.CivilTimeInterval{
		Start: &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 21}},
		End:   &health.CivilDateTime{Date: &health.Date{Year: 2026, Month: 11, Day: 22}}}}).Do()
	upto := int(s.now().Sub(today)/time.Minute) + 1
	if err != nil || len(resp.RollupDataPoints) != 1 || resp.RollupDataPoints[0].Steps.CountSum != int64(p.Activity(today).Sum(0, upto).Steps) {
		t.Fatalf("today's steps %+v %v", resp, err)
	}
	st, err := svc.Users.GetSettings("users/me/settings").Do()
	if err != nil || st.UtcOffset != "39600s" {
		t.Fatalf("settings %+v %v", st, err)
	}
}

// TestDaylightSavingStarts: on the day Los Angeles springs forward (Mar 14,
// 2027) the person's skipped hour carries nothing (package person), though
// time.Date gives its minutes the instants of the hour before: no point is
// at them twice, and the list adds up to the person's day as the roll-up
// does.
func TestDaylightSavingStarts(t *testing.T) {
	s, _ := start(t, Config{Now: func() time.Time { return time.Date(2027, 3, 20, 10, 0, 0, 0, time.UTC) }})
	svc, _ := healthClient(t, s, s.MintTokens("u1", AreaActivity+".readonly", AreaMetrics+".readonly").AccessToken)
	dps := svc.Users.DataTypes.DataPoints
	p := s.person("u1")
	day, _ := p.Day("2027-03-14")
	want := p.Activity(day).Totals().Steps
	resp, err := dps.List("users/me/dataTypes/steps").PageSize(10000).
		Filter(`steps.interval.civil_start_time >= "2027-03-14" AND steps.interval.civil_start_time < "2027-03-15"`).Do()
	if err != nil || resp.NextPageToken != "" {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var sum int64
	for _, dp := range resp.DataPoints {
		names[dp.Name] = true
		sum += dp.Steps.Count
	}
	rolled, err := dps.DailyRollUp("users/me/dataTypes/steps", &health.DailyRollUpDataPointsRequest{Range: &health.CivilTimeInterval{
		Start: &health.CivilDateTime{Date: &health.Date{Year: 2027, Month: 3, Day: 14}},
		End:   &health.CivilDateTime{Date: &health.Date{Year: 2027, Month: 3, Day: 15}}}}).Do()
	if err != nil || len(names) != len(resp.DataPoints) || sum != int64(want) || rolled.RollupDataPoints[0].Steps.CountSum != int64(want) {
		t.Fatalf("%d points, %d names, %d steps, rolled up %+v; the person's %d (%v)", len(resp.DataPoints), len(names), sum, rolled, want, err)
	}
	// The night's zones: runs of the 23 hours that happened, none of them
	// twice.
	zones, err := dps.List("users/me/dataTypes/time-in-heart-rate-zone").PageSize(10000).
		Filter(`time_in_heart_rate_zone.interval.civil_start_time >= "2027-03-14" AND time_in_heart_rate_zone.interval.civil_start_time < "2027-03-15"`).Do()
	if err != nil {
		t.Fatal(err)
	}
	names = map[string]bool{}
	var minutes time.Duration
	for _, dp := range zones.DataPoints {
		names[dp.Name] = true
		iv := dp.TimeInHeartRateZone.Interval
		start, _ := time.Parse(time.RFC3339, iv.StartTime)
		end, _ := time.Parse(time.RFC3339, iv.EndTime)
		minutes += end.Sub(start)
	}
	worn := 0
	for _, z := range p.Heart(day).Zones {
		worn += z.Minutes
	}
	if len(names) != len(zones.DataPoints) || minutes != time.Duration(worn)*time.Minute {
		t.Fatalf("%d names for %d runs, %v in them; the person's %d minutes", len(names), len(zones.DataPoints), minutes, worn)
	}
}
