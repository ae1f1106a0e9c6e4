package translate

import (
	"context"
	"math"
	"sort"
	"time"

	health "google.golang.org/api/health/v4"
)

// Fitbit's four heart-rate zones, in its order, and the Google zone type
// each is answered from. Google's LIGHT zone is the one below fat burn,
// which Fitbit called Out of Range (an approximation recorded in Table).
var heartZones = []struct{ fitbit, google string }{
	{"Out of Range", "LIGHT"}, {"Fat Burn", "MODERATE"}, {"Cardio", "VIGOROUS"}, {"Peak", "PEAK"},
}

// heartDay is one civil day of heart-rate summary data from Google.
type heartDay struct {
	resting int64
	zones   map[string]*health.HeartRateZone // by Google zone type
	minutes map[string]float64
	kcal    map[string]float64
}

// heartCalls is the Google calls of the heart summary over [start, end]:
// two lists (resting rate, zone bounds) and two roll-ups per chunk.
// listPageSize is list's largest page (health-api.json: at most 10000), so
// a year of daily points is one call, not fifteen of the default 25.
const listPageSize = 10000

func heartCalls(start, end time.Time) int {
	return 2 + chunks(start, end, rollUpCapDays) + chunks(start, end, shortRollUpCapDays)
}

// heartDays reads resting heart rate and zones (bounds, time and calories in
// each) for [start, end], keyed by yyyy-MM-dd.
func (e *Engine) heartDays(ctx context.Context, c *calls, start, end time.Time) (map[string]*heartDay, error) {
	out := make(map[string]*heartDay)
	get := func(k string) *heartDay {
		if out[k] == nil {
			out[k] = &heartDay{zones: map[string]*health.HeartRateZone{}, minutes: map[string]float64{}, kcal: map[string]float64{}}
		}
		return out[k]
	}
	rhr, err := e.listAll(ctx, c, "daily-resting-heart-rate", dayFilter("daily_resting_heart_rate.date", start, end), listPageSize)
	if err != nil {
		return nil, err
	}
	for _, p := range rhr {
		if v := p.DailyRestingHeartRate; v != nil && v.Date != nil {
			get(dateString(v.Date)).resting = v.BeatsPerMinute
		}
	}
	zones, err := e.listAll(ctx, c, "daily-heart-rate-zones", dayFilter("daily_heart_rate_zones.date", start, end), listPageSize)
	if err != nil {
		return nil, err
	}
	for _, p := range zones {
		if v := p.DailyHeartRateZones; v != nil && v.Date != nil {
			d := get(dateString(v.Date))
			for _, z := range v.HeartRateZones {
				d.zones[z.HeartRateZoneType] = z
			}
		}
	}
	// Time and calories in zone are optional (notRolledUp): minutes and
	// calories 0 without them.
	times, err := e.rollUpDays(ctx, c, "time-in-heart-rate-zone", rollUpCapDays, start, end)
	if err != nil && !notRolledUp(err) {
		return nil, err
	}
	for k, p := range times {
		if v := p.TimeInHeartRateZone; v != nil {
			for _, z := range v.TimeInHeartRateZones {
				if d, err := time.ParseDuration(z.Duration); err == nil {
					get(k).minutes[z.HeartRateZone] += d.Minutes()
				}
			}
		}
	}
	// Google caps calories-in-heart-rate-zone roll-ups at 14 days
	// (health-api.json), not 90.
	kcal, err := e.rollUpDays(ctx, c, "calories-in-heart-rate-zone", shortRollUpCapDays, start, end)
	if err != nil && !notRolledUp(err) {
		return nil, err
	}
	for k, p := range kcal {
		if v := p.CaloriesInHeartRateZone; v != nil {
			for _, z := range v.CaloriesInHeartRateZones {
				get(k).kcal[z.HeartRateZone] += z.Kcal
			}
		}
	}
	return out, nil
}

// fitbitValue is a day's "value" object of activities-heart. A day without
// a resting rate has none, as in Fitbit's answers; zones Google did not
// bound have no min and max.
func (d *heartDay) fitbitValue() map[string]any {
	zones := make([]map[string]any, 0, len(heartZones))
	for _, hz := range heartZones {
		z := map[string]any{"name": hz.fitbit, "minutes": 0, "caloriesOut": 0.0}
		if d != nil {
			z["minutes"] = int(math.Round(d.minutes[hz.google]))
			z["caloriesOut"] = round(d.kcal[hz.google], 5)
			if b := d.zones[hz.google]; b != nil {
				z["min"], z["max"] = b.MinBeatsPerMinute, b.MaxBeatsPerMinute
			}
		}
		zones = append(zones, z)
	}
	v := map[string]any{"customHeartRateZones": []any{}, "heartRateZones": zones}
	if d != nil && d.resting > 0 {
		v["restingHeartRate"] = d.resting
	}
	return v
}

// heartSeries answers {"activities-heart":[{dateTime, value}]}, a day per
// entry, oldest first.
func (e *Engine) heartSeries(ctx context.Context, c *calls, r *Request) (any, error) {
	start, end, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	if c.n+heartCalls(start, end) > MaxGoogleCalls {
		return nil, ErrTooManyCalls
	}
	days, err := e.heartDays(ctx, c, start, end)
	if err != nil {
		return nil, err
	}
	series := []map[string]any{}
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		k := d.Format(dayLayout)
		series = append(series, map[string]any{"dateTime": k, "value": days[k].fitbitValue()})
	}
	return map[string]any{"activities-heart": series}, nil
}

// intradaySteps are the dataset intervals of the detail levels.
var intradaySteps = map[string]time.Duration{"1sec": time.Second, "1min": time.Minute, "5min": 5 * time.Minute, "15min": 15 * time.Minute}

// heartIntraday answers the day's summary and activities-heart-intraday,
// from one list of the raw heart-rate samples (paged at Google's largest
// page) bucketed by the detail level in the user's local time, each bucket
// its samples' mean rounded to whole bpm; 1sec gives the samples as they
// are. Minutes without samples (off the wrist) are absent, as in Fitbit's
// answers.
func (e *Engine) heartIntraday(ctx context.Context, c *calls, r *Request) (any, error) {
	day, _, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	if c.n+heartCalls(day, day)+1 > MaxGoogleCalls {
		return nil, ErrTooManyCalls
	}
	days, err := e.heartDays(ctx, c, day, day)
	if err != nil {
		return nil, err
	}
	from, to := day, day.Add(24*time.Hour) // [from, to)
	if r.HasWindow {
		from = day.Add(time.Duration(r.From.minutes()) * time.Minute)
		to = day.Add(time.Duration(r.To.minutes()+1) * time.Minute)
	}
	const field = "heart_rate.sample_time.civil_time"
	filter := field + ` >= "` + from.Format("2006-01-02T15:04:05") + `" AND ` + field + ` < "` + to.Format("2006-01-02T15:04:05") + `"`
	pts, err := e.listAll(ctx, c, "heart-rate", filter, 10000)
	if err != nil {
		return nil, err
	}
	step := intradaySteps[r.Detail]
	type acc struct{ sum, n int64 }
	buckets := map[time.Time]*acc{}
	for _, p := range pts {
		hr := p.HeartRate
		if hr == nil || hr.SampleTime == nil {
			continue
		}
		t, ok := localTime(hr.SampleTime.PhysicalTime, hr.SampleTime.UtcOffset)
		if !ok || t.Before(from) || !t.Before(to) {
			continue
		}
		k := t.Truncate(step)
		if buckets[k] == nil {
			buckets[k] = &acc{}
		}
		buckets[k].sum += hr.BeatsPerMinute
		buckets[k].n++
	}
	keys := make([]time.Time, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Before(keys[j]) })
	dataset := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		b := buckets[k]
		dataset = append(dataset, map[string]any{"time": k.Format("15:04:05"), "value": int64(math.Round(float64(b.sum) / float64(b.n)))})
	}
	interval, typ := int(step/time.Minute), "minute"
	if step == time.Second {
		interval, typ = 1, "second"
	}
	k := day.Format(dayLayout)
	return map[string]any{
		"activities-heart":          []map[string]any{{"dateTime": k, "value": days[k].fitbitValue()}},
		"activities-heart-intraday": map[string]any{"dataset": dataset, "datasetInterval": interval, "datasetType": typ},
	}, nil
}
