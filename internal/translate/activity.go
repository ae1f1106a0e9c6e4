package translate

import (
	"context"
	"math"
	"time"

	health "google.golang.org/api/health/v4"
)

// seriesType is how one Fitbit resource is read from a daily roll-up.
type seriesType struct {
	dataType string
	capDays  int
	value    func(*health.DailyRollupDataPoint, UnitSystem) float64
	decimals int
	// intraday is the decimals of an intraday window, where they differ:
	// Fitbit gave a window's calories to a fraction of a kcal.
	intraday int
}

// places is the decimals Fitbit showed the type's values with, in a day's
// series or an intraday window: a distance's depend on the unit.
func (st seriesType) places(u UnitSystem, window bool) int {
	switch {
	case st.dataType == "distance":
		return u.DistancePlaces()
	case window:
		return st.intraday
	}
	return st.decimals
}

// lessSeries names, for a series derived by difference, the series whose
// day's value is taken off its own, each rounded first: caloriesBMR is
// total-calories less active-energy-burned, never below 0, as in the daily
// summary.
var lessSeries = map[string]string{"caloriesBMR": "activityCalories"}

// activityLevel is the Google activity-level type of each of Fitbit's four
// minute resources. health-api.json lists activityLevel among
// DailyRollupDataPoint's values, so one roll-up answers all four (the
// reference's third-party note that it has no daily roll-up is not
// followed: the discovery document is the authority).
var activityLevel = map[string]string{
	"minutesSedentary": "SEDENTARY", "minutesLightlyActive": "LIGHTLY_ACTIVE",
	"minutesFairlyActive": "MODERATELY_ACTIVE", "minutesVeryActive": "VERY_ACTIVE",
}

// levelMinutes is the whole minutes at the Google activity level in p.
func levelMinutes(p *health.DailyRollupDataPoint, level string) float64 {
	if p == nil || p.ActivityLevel == nil {
		return 0
	}
	var m float64
	for _, l := range p.ActivityLevel.ActivityLevelRollupsByActivityLevelType {
		if d, err := time.ParseDuration(l.TotalDuration); err == nil && l.ActivityLevelType == level {
			m += d.Minutes()
		}
	}
	return math.Round(m)
}

func minutesSeries(level string) seriesType {
	return seriesType{"activity-level", rollUpCapDays, func(p *health.DailyRollupDataPoint, _ UnitSystem) float64 { return levelMinutes(p, level) }, 0, 0}
}

var seriesTypes = map[string]seriesType{
	"steps": {"steps", rollUpCapDays, func(p *health.DailyRollupDataPoint, _ UnitSystem) float64 {
		if p.Steps == nil {
			return 0
		}
		return float64(p.Steps.CountSum)
	}, 0, 0},
	"distance": {"distance", rollUpCapDays, func(p *health.DailyRollupDataPoint, u UnitSystem) float64 {
		if p.Distance == nil {
			return 0
		}
		return u.Distance(float64(p.Distance.MillimetersSum))
	}, 6, 6},
	"floors": {"floors", rollUpCapDays, func(p *health.DailyRollupDataPoint, _ UnitSystem) float64 {
		if p.Floors == nil {
			return 0
		}
		return float64(p.Floors.CountSum)
	}, 0, 0},
	"elevation": {"altitude", rollUpCapDays, func(p *health.DailyRollupDataPoint, u UnitSystem) float64 {
		if p.Altitude == nil {
			return 0
		}
		return u.Elevation(float64(p.Altitude.GainMillimetersSum))
	}, 2, 2},
	"calories": {"total-calories", shortRollUpCapDays, func(p *health.DailyRollupDataPoint, _ UnitSystem) float64 {
		if p.TotalCalories == nil {
			return 0
		}
		return p.TotalCalories.KcalSum
	}, 0, 4},
	// Basal energy: basal-energy-burned has no daily roll-up (Google
	// answers 400 for it), so it is what is not active energy.
	"caloriesBMR": {"total-calories", shortRollUpCapDays, func(p *health.DailyRollupDataPoint, _ UnitSystem) float64 {
		if p.TotalCalories == nil {
			return 0
		}
		return p.TotalCalories.KcalSum
	}, 0, 0},
	"activityCalories": {"active-energy-burned", rollUpCapDays, func(p *health.DailyRollupDataPoint, _ UnitSystem) float64 {
		if p.ActiveEnergyBurned == nil {
			return 0
		}
		return p.ActiveEnergyBurned.KcalSum
	}, 0, 0},
	"minutesSedentary":     minutesSeries("SEDENTARY"),
	"minutesLightlyActive": minutesSeries("LIGHTLY_ACTIVE"),
	"minutesFairlyActive":  minutesSeries("MODERATELY_ACTIVE"),
	"minutesVeryActive":    minutesSeries("VERY_ACTIVE"),
}

// summaryTypes are the roll-ups of the daily summary, one call each;
// optional ones are 0 when Google does not roll them up (notRolledUp).
var (
	summaryTypes      = []string{"steps", "distance", "floors", "elevation", "calories", "activityCalories", "minutesSedentary"}
	optionalInSummary = map[string]bool{"elevation": true, "activityCalories": true, "minutesSedentary": true}
)

// summaryCalls is the Google calls of the daily summary after settings.
func summaryCalls() int { return len(summaryTypes) + heartCalls(time.Time{}, time.Time{}) }

// dailySummary answers the daily activity summary from one one-day roll-up
// per data type (activity-level once for the four minute fields) and the
// heart summary; goals and logged activities have no Google source.
func (e *Engine) dailySummary(ctx context.Context, c *calls, r *Request, units UnitSystem) (any, error) {
	day, _, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	if c.n+summaryCalls() > MaxGoogleCalls {
		return nil, ErrTooManyCalls
	}
	k := day.Format(dayLayout)
	vals := map[string]float64{}
	var levels *health.DailyRollupDataPoint
	for _, name := range summaryTypes {
		st := seriesTypes[name]
		pts, err := e.rollUpDays(ctx, c, st.dataType, st.capDays, day, day)
		if err != nil && !(optionalInSummary[name] && notRolledUp(err)) {
			return nil, err
		}
		if p := pts[k]; p != nil {
			vals[name] = st.value(p, units)
			if st.dataType == "activity-level" {
				levels = p
			}
		}
	}
	hearts, err := e.heartDays(ctx, c, day, day)
	if err != nil {
		return nil, err
	}
	heart := hearts[k].fitbitValue()
	distance := round(vals["distance"], 2)
	kcal, active := round(vals["calories"], 0), round(vals["activityCalories"], 0)
	summary := map[string]any{
		"steps":            int64(vals["steps"]),
		"floors":           int64(vals["floors"]),
		"elevation":        round(vals["elevation"], 2),
		"caloriesOut":      int64(kcal),
		"activityCalories": int64(active),
		// Basal energy has no daily roll-up: what is not active.
		"caloriesBMR":          int64(math.Max(kcal-active, 0)),
		"sedentaryMinutes":     int64(levelMinutes(levels, "SEDENTARY")),
		"lightlyActiveMinutes": int64(levelMinutes(levels, "LIGHTLY_ACTIVE")),
		"fairlyActiveMinutes":  int64(levelMinutes(levels, "MODERATELY_ACTIVE")),
		"veryActiveMinutes":    int64(levelMinutes(levels, "VERY_ACTIVE")),
		"heartRateZones":       heart["heartRateZones"],
		"distances": []map[string]any{
			{"activity": "total", "distance": distance},
			{"activity": "tracker", "distance": distance},
		},
	}
	if rhr, ok := heart["restingHeartRate"]; ok {
		summary["restingHeartRate"] = rhr
	}
	return map[string]any{"activities": []any{}, "summary": summary}, nil
}
