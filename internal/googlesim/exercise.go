package googlesim

import (
	"fmt"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The exercise data type: the walks and runs of the shared synthetic person
// (person.Activity(day).Exercises), the bouts the simulated Fitbit lists in
// its activity log list, as Google's Exercise sessions. Fields and enum
// values per health-api.json's Exercise, SessionTimeInterval and
// MetricsSummary (revision 20261111); proto3 JSON leaves out zero values.

// exerciseKinds are Google's exerciseType and the displayName Google
// generates for it ("Walking" for WALKING), by the person's Fitbit activity
// type id; any other is OTHER, whose displayName is the user's own.
var exerciseKinds = map[int]struct{ enum, name string }{
	90013: {"WALKING", "Walking"},
	90009: {"RUNNING", "Running"},
}

// exerciseSlack is how far beyond [lo, hi] exercisePoints looks: list
// narrows the window it generates by a civil-time filter's literal read as
// UTC, and a local time is at most 14 hours from UTC, so the sessions a
// civil filter matches are all generated; the filter then picks them.
const exerciseSlack = 14 * time.Hour

// exercisePoints is the exercise sessions of key's person starting in
// [lo-exerciseSlack, hi+exerciseSlack] and ended by now, newest first.
func exercisePoints(key string, lo, hi, now time.Time) []point {
	p := person.New(key)
	lo, hi = lo.Add(-exerciseSlack), hi.Add(exerciseSlack)
	var out []point
	for d := p.DayOf(hi); !d.Before(p.DayOf(lo)); d = p.DayOf(d.Add(-12 * time.Hour)) {
		a := p.Activity(d)
		var h *person.Heart
		for i := len(a.Exercises) - 1; i >= 0; i-- {
			e := a.Exercises[i]
			end := e.Start.Add(time.Duration(e.Minutes) * time.Minute)
			if end.After(now) || e.Start.Before(lo) || e.Start.After(hi) {
				continue
			}
			if h == nil {
				h = p.Heart(d) // a day of samples: only for days with sessions to show
			}
			out = append(out, point{start: e.Start, end: end, startOff: offset(p, e.Start), endOff: offset(p, end), value: exerciseValue(p, a, h, e)})
		}
	}
	return out
}

// exerciseValue is one Exercise: its interval at the person's UTC offsets,
// type and metrics summed from the minutes and heart-rate samples it spans.
func exerciseValue(p *person.Person, a *person.Activity, h *person.Heart, e person.Exercise) map[string]any {
	loc := p.Location()
	end := e.Start.Add(time.Duration(e.Minutes) * time.Minute)
	from, to := e.StartMinute, e.StartMinute+e.Minutes
	kind, ok := exerciseKinds[e.ActivityTypeID]
	if !ok {
		kind.enum, kind.name = "OTHER", e.Name
	}
	seconds := e.Minutes * 60
	metrics := map[string]any{
		"steps":               i64(e.Steps),
		"distanceMillimeters": float64(e.DistanceMM),
		"caloriesKcal":        float64(e.MilliCal) / 1000,
	}
	if gain := a.Sum(from, to).ElevationMM; gain > 0 {
		metrics["elevationGainMillimeters"] = float64(gain)
	}
	if e.DistanceMM > 0 && seconds > 0 {
		metrics["averageSpeedMillimetersPerSecond"] = float64(e.DistanceMM) / float64(seconds)
		metrics["averagePaceSecondsPerMeter"] = float64(seconds) / (float64(e.DistanceMM) / 1000)
	}
	sum, n := 0, 0
	for _, s := range h.Samples[from*person.SamplesPerMinute : to*person.SamplesPerMinute] {
		if s != 0 {
			sum, n = sum+int(s), n+1
		}
	}
	if n > 0 {
		metrics["averageHeartRateBeatsPerMinute"] = i64((sum + n/2) / n)
	}
	// Fitbit's zones in Google's names, as daily-heart-rate-zones gives
	// them: Out of Range is LIGHT, Fat Burn MODERATE, Cardio VIGOROUS.
	durations := map[string]any{}
	for i, z := range h.ZonesIn(a, from, to) {
		if z.Minutes > 0 {
			durations[[]string{"lightTime", "moderateTime", "vigorousTime", "peakTime"}[i]] = fmt.Sprintf("%ds", z.Minutes*60)
		}
	}
	if len(durations) > 0 {
		metrics["heartRateZoneDurations"] = durations
	}
	return map[string]any{
		"interval": map[string]any{
			"startTime":      timestamp(e.Start),
			"startUtcOffset": utcOffset(e.Start, loc),
			"endTime":        timestamp(end),
			"endUtcOffset":   utcOffset(end, loc),
			"civilStartTime": civilDateTimeJSON(e.Start.In(loc)),
			"civilEndTime":   civilDateTimeJSON(end.In(loc)),
		},
		"exerciseType":   kind.enum,
		"displayName":    kind.name,
		"activeDuration": fmt.Sprintf("%ds", seconds),
		"metricsSummary": metrics,
		"createTime":     timestamp(end),
		"updateTime":     timestamp(end),
	}
}

// utcOffset is loc's offset at t as a google-duration ("3600s").
func utcOffset(t time.Time, loc *time.Location) string {
	_, off := t.In(loc).Zone()
	return fmt.Sprintf("%ds", off)
}
