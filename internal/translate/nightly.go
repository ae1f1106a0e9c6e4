package translate

import (
	"context"
	"strconv"

	health "google.golang.org/api/health/v4"
)

// The summaries of a night's measurements: SpO2, HRV, breathing rate, skin
// temperature and cardio fitness, each one listing of Google's daily type
// for the days asked for (Fitbit's ranges here are at most 30 days, well
// within one page), in Fitbit's shapes
// (https://dev.fitbit.com/build/reference/web-api/spo2/,
// …/heartrate-variability/, …/breathing-rate/, …/temperature/,
// …/cardio-fitness-score/).
type nightly struct {
	dataType string // Google's daily type
	key      string // Fitbit's array key; "" for SpO2, which has none
	value    func(p *health.DataPoint) (map[string]any, bool)
	extra    map[string]any // fields beside dateTime and value
}

var nightlies = map[Endpoint]nightly{
	SpO2: {"daily-oxygen-saturation", "", func(p *health.DataPoint) (map[string]any, bool) {
		v := p.DailyOxygenSaturation
		if v == nil {
			return nil, false
		}
		// Google's bounds of the night's samples are what Fitbit reported
		// as min and max.
		return map[string]any{"avg": round(v.AveragePercentage, 1), "min": round(v.LowerBoundPercentage, 1), "max": round(v.UpperBoundPercentage, 1)}, true
	}, nil},
	HRV: {"daily-heart-rate-variability", "hrv", func(p *health.DataPoint) (map[string]any, bool) {
		v := p.DailyHeartRateVariability
		if v == nil {
			return nil, false
		}
		return map[string]any{"dailyRmssd": round(v.AverageHeartRateVariabilityMilliseconds, 3),
			"deepRmssd": round(v.DeepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds, 3)}, true
	}, nil},
	BreathingRate: {"daily-respiratory-rate", "br", func(p *health.DataPoint) (map[string]any, bool) {
		v := p.DailyRespiratoryRate
		if v == nil {
			return nil, false
		}
		return map[string]any{"breathingRate": round(v.BreathsPerMinute, 1)}, true
	}, nil},
	SkinTemperature: {"daily-sleep-temperature-derivations", "tempSkin", func(p *health.DataPoint) (map[string]any, bool) {
		v := p.DailySleepTemperatureDerivations
		if v == nil || v.BaselineTemperatureCelsius == 0 {
			return nil, false
		}
		// Fitbit reported the night relative to the user's baseline, in
		// °C whatever the unit system.
		return map[string]any{"nightlyRelative": round(v.NightlyTemperatureCelsius-v.BaselineTemperatureCelsius, 2)}, true
	}, map[string]any{"logType": "dedicated_temp_sensor"}},
	CardioFitness: {"daily-vo2-max", "cardioScore", func(p *health.DataPoint) (map[string]any, bool) {
		v := p.DailyVo2Max
		if v == nil || v.Vo2Max <= 0 {
			return nil, false
		}
		// Fitbit gave a measured VO2 max as one number with one decimal in
		// a string ("41.8"), and an estimate as a range such as "44-48";
		// Google's is one number, so it is given as Fitbit gave a measured
		// one, which keeps its precision (the golden test holds it within a
		// Fitbit range).
		return map[string]any{"vo2Max": strconv.FormatFloat(v.Vo2Max, 'f', 1, 64)}, true
	}, nil},
}

func (e *Engine) nightly(ctx context.Context, c *calls, r *Request) (any, error) {
	n := nightlies[r.Endpoint]
	start, end, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	pts, err := e.listAll(ctx, c, n.dataType, dayFilter(snake(n.dataType)+".date", start, end), 0)
	if err != nil {
		return nil, err
	}
	byDay := map[string]map[string]any{}
	for _, p := range pts {
		if v, ok := n.value(p); ok {
			if d := nightlyDate(p); d != "" {
				byDay[d] = v
			}
		}
	}
	entries := []map[string]any{}
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		k := d.Format(dayLayout)
		v, ok := byDay[k]
		if !ok {
			continue // Fitbit left out nights without a measurement
		}
		entry := map[string]any{"dateTime": k, "value": v}
		for f, x := range n.extra {
			entry[f] = x
		}
		entries = append(entries, entry)
	}
	switch {
	case n.key != "":
		return map[string]any{n.key: entries}, nil
	case r.Ranged:
		return entries, nil
	case len(entries) == 0:
		return map[string]any{}, nil // Fitbit's SpO2 for a night without one
	}
	return entries[0], nil
}

// nightlyDate is the date of a daily data point, whichever type it is.
func nightlyDate(p *health.DataPoint) string {
	var d *health.Date
	switch {
	case p.DailyOxygenSaturation != nil:
		d = p.DailyOxygenSaturation.Date
	case p.DailyHeartRateVariability != nil:
		d = p.DailyHeartRateVariability.Date
	case p.DailyRespiratoryRate != nil:
		d = p.DailyRespiratoryRate.Date
	case p.DailySleepTemperatureDerivations != nil:
		d = p.DailySleepTemperatureDerivations.Date
	case p.DailyVo2Max != nil:
		d = p.DailyVo2Max.Date
	}
	if d == nil {
		return ""
	}
	return dateString(d)
}
