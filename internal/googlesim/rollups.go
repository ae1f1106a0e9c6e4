package googlesim

import (
	"math"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// Roll-ups sum the person's minutes, which are the grain of the list's
// points (generate.go): a minute counts in the window its minute starts
// in, so windows of whole minutes add up exactly to the list's points and
// to the simulated Fitbit's figures for the same minutes. A day's
// dailyRollUp is the person's day: steps, distance (mm), floors, elevation
// (mm) and calories are the simulated Fitbit's day totals exactly.
//
// Where the units force rounding: calories are summed in 1/1000 kcal and
// divided once (kcalSum = millikilocalories / 1000, a double), so Fitbit's
// whole kcal (millikilocalories rounded half up) are kcalSum rounded half
// up; the per-minute active-energy-burned points (kcal, three decimals)
// sum to kcalSum within float error (below 1e-9 kcal a day). Counts and
// millimetres are integers and exact.
//
// A window with no data (every minute off the wrist, or none begun yet)
// has no value, as Google's roll-ups omit off-wrist windows; a worn window
// with nothing counted is a true zero. total-calories always has a value:
// the basal rate burns off the wrist too.

// rollWindows computes roll's value for each window [bounds[i],
// bounds[i+1]) from ms, the minutes in [bounds[0], bounds[len-1]) in the
// order of their instants.
func rollWindows(ms []minuteRef, bounds []time.Time, roll rollFunc, now time.Time) []map[string]any {
	out := make([]map[string]any, 0, len(bounds)-1)
	j := 0
	for i := 0; i+1 < len(bounds); i++ {
		for j < len(ms) && ms[j].at().Before(bounds[i]) {
			j++
		}
		k := j
		for k < len(ms) && ms[k].at().Before(bounds[i+1]) {
			k++
		}
		out = append(out, roll(ms[j:k], now))
		j = k
	}
	return out
}

// rollups compute one window's value per data type.
var rollups = map[string]rollFunc{
	"steps":    wornSum("countSum", func(m *person.Minute) int { return m.Steps }),
	"distance": wornSum("millimetersSum", func(m *person.Minute) int { return m.DistanceMM }),
	"floors":   wornSum("countSum", func(m *person.Minute) int { return m.Floors }),
	"altitude": wornSum("gainMillimetersSum", func(m *person.Minute) int { return m.ElevationMM }),
	"active-energy-burned": func(ms []minuteRef, _ time.Time) map[string]any {
		milli, ok := sumWorn(ms, func(m *person.Minute) int { return m.ActMilliCal })
		if !ok {
			return nil
		}
		return map[string]any{"kcalSum": float64(milli) / 1000}
	},
	"total-calories": func(ms []minuteRef, _ time.Time) map[string]any {
		if len(ms) == 0 {
			return nil
		}
		milli := 0
		for _, m := range ms {
			milli += m.minute().MilliCal()
		}
		return map[string]any{"kcalSum": float64(milli) / 1000}
	},
	// Minutes out of bed per level, as Fitbit's day summary counts them
	// (off-wrist minutes are sedentary).
	"activity-level": func(ms []minuteRef, _ time.Time) map[string]any {
		if len(ms) == 0 {
			return nil
		}
		var minutes [4]int
		for _, m := range ms {
			if mm := m.minute(); !mm.InBed {
				minutes[mm.Level]++
			}
		}
		out := make([]map[string]any, len(activityLevels))
		for i, l := range activityLevels {
			out[i] = map[string]any{"activityLevelType": l, "totalDuration": seconds(time.Duration(minutes[i]) * time.Minute)}
		}
		return map[string]any{"activityLevelRollupsByActivityLevelType": out}
	},
	"active-minutes": func(ms []minuteRef, _ time.Time) map[string]any {
		var minutes [4]int
		worn := false
		for _, m := range ms {
			mm := m.minute()
			minutes[mm.Level]++
			worn = worn || !mm.OffWrist
		}
		if !worn {
			return nil
		}
		var out []map[string]any
		for l := person.LightlyActive; l <= person.VeryActive; l++ {
			out = append(out, map[string]any{"activityLevel": activeLevels[l], "activeMinutesSum": i64(minutes[l])})
		}
		return map[string]any{"activeMinutesRollupByActivityLevel": out}
	},
	"active-zone-minutes": func(ms []minuteRef, _ time.Time) map[string]any {
		minutes, _, worn := inZones(ms)
		if !worn {
			return nil
		}
		return map[string]any{"sumInFatBurnHeartZone": i64(minutes[1] * azmCredit[1]),
			"sumInCardioHeartZone": i64(minutes[2] * azmCredit[2]), "sumInPeakHeartZone": i64(minutes[3] * azmCredit[3])}
	},
	"time-in-heart-rate-zone":     timeInZonesRollUp,
	"calories-in-heart-rate-zone": caloriesInZonesRollUp,
	// The 5-second samples that have happened; HeartRateRollupValue's
	// three fields are doubles in health-api.json, JSON numbers, and the
	// average is unrounded.
	"heart-rate": func(ms []minuteRef, now time.Time) map[string]any {
		lo, hi, sum, n := math.MaxInt, 0, 0, 0
		for _, m := range ms {
			h := m.d.heart()
			for j := range person.SamplesPerMinute {
				v := int(h.Samples[m.i*person.SamplesPerMinute+j])
				if v == 0 || m.at().Add(time.Duration(j)*person.SampleInterval).After(now) {
					continue
				}
				lo, hi, sum, n = min(lo, v), max(hi, v), sum+v, n+1
			}
		}
		if n == 0 {
			return nil
		}
		return map[string]any{"beatsPerMinuteAvg": float64(sum) / float64(n), "beatsPerMinuteMin": float64(lo), "beatsPerMinuteMax": float64(hi)}
	},
}

// sumWorn adds f over the minutes on the wrist; ok is false when there is
// none.
func sumWorn(ms []minuteRef, f func(*person.Minute) int) (sum int, ok bool) {
	for _, m := range ms {
		if mm := m.minute(); !mm.OffWrist {
			sum += f(mm)
			ok = true
		}
	}
	return sum, ok
}

// wornSum is the roll-up of an integer per-minute type: its field is the
// sum, an int64 string.
func wornSum(field string, f func(*person.Minute) int) rollFunc {
	return func(ms []minuteRef, _ time.Time) map[string]any {
		sum, ok := sumWorn(ms, f)
		if !ok {
			return nil
		}
		return map[string]any{field: i64(sum)}
	}
}
