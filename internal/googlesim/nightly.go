package googlesim

import (
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The daily measurements of the night that ends on a day, which Fitbit
// serves as SpO2, HRV, breathing rate, skin temperature and cardio fitness
// summaries: daily-oxygen-saturation, daily-heart-rate-variability,
// daily-respiratory-rate, daily-sleep-temperature-derivations (a night
// without measurements has a point in none of them) and daily-vo2-max.
// They come from the shared synthetic person (package person), so that
// the simulated Fitbit can render the same nights.

// dailyValue is the value of a daily type on the civil date d (UTC
// midnight, the date of the point; local is the person's day of it),
// ok=false when there is none. Fields per health-api.json (revision
// 20261111).
func (s *Server) dailyValue(p *person.Person, user, typ string, d, local time.Time) (map[string]any, bool) {
	switch typ {
	case "daily-resting-heart-rate":
		return map[string]any{"date": civilDate(d), "beatsPerMinute": i64(p.RestingHeartRate(local))}, true
	case "daily-heart-rate-zones":
		return dailyHeartRateZones(p, d, local), true
	case "daily-vo2-max":
		v := p.VO2Max(local)
		return map[string]any{"date": civilDate(d), "vo2Max": v, "cardioFitnessLevel": cardioFitnessLevel(v), "estimated": false}, true
	}
	n, ok := p.Nightly(local)
	if !ok {
		return nil, false
	}
	switch typ {
	case "daily-oxygen-saturation":
		// The bounds are "of the confidence interval of oxygen saturation
		// samples during sleep": the night's lowest and highest, which
		// Fitbit's summary reports as min and max.
		return map[string]any{"date": civilDate(d), "averagePercentage": n.SpO2Avg,
			"lowerBoundPercentage": n.SpO2Min, "upperBoundPercentage": n.SpO2Max}, true
	case "daily-heart-rate-variability":
		return map[string]any{"date": civilDate(d), "averageHeartRateVariabilityMilliseconds": n.DailyRMSSD,
			"deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds": n.DeepRMSSD}, true
	case "daily-respiratory-rate":
		return map[string]any{"date": civilDate(d), "breathsPerMinute": n.BreathingRate}, true
	case "daily-sleep-temperature-derivations":
		// Google gives absolute temperatures, Fitbit the nightly one
		// relative to the baseline; the baseline (33.0..34.9 °C, to 0.1) is
		// ASSUMED, and the nightly value is the baseline plus the person's
		// relative temperature.
		base := float64(between(rng(user, "skin-temp-base"), 330, 349)) / 10
		return map[string]any{"date": civilDate(d), "nightlyTemperatureCelsius": round1(base + n.SkinTempRelative),
			"baselineTemperatureCelsius": base}, true
	}
	return nil, false
}

// cardioFitnessLevel buckets a VO2 max. health-api.json lists the levels
// without their bounds, which depend on age and sex at Fitbit; these
// fixed bounds are ASSUMED.
func cardioFitnessLevel(vo2 float64) string {
	switch {
	case vo2 < 35:
		return "POOR"
	case vo2 < 40:
		return "FAIR"
	case vo2 < 44:
		return "AVERAGE"
	case vo2 < 48:
		return "GOOD"
	case vo2 < 52:
		return "VERY_GOOD"
	}
	return "EXCELLENT"
}
