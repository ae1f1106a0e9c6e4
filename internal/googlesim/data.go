package googlesim

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// dataType describes one Google Health data type (kebab-case in paths).
type dataType struct {
	area     string // scope area needed to read it
	field    string // the DataPoint union field (camelCase)
	maxPage  int    // page size limit of the list method
	listable bool   // false: roll-ups only (total-calories)
}

const (
	defaultPageSize = 25
	maxPageSize     = 10000
	sessionPageSize = 25 // sleep and exercise
	// History is how far back the simulated data goes.
	History = 90 * 24 * time.Hour
)

var dataTypes = map[string]dataType{
	"steps":                {AreaActivity, "steps", maxPageSize, true},
	"distance":             {AreaActivity, "distance", maxPageSize, true},
	"floors":               {AreaActivity, "floors", maxPageSize, true},
	"altitude":             {AreaActivity, "altitude", maxPageSize, true},
	"active-energy-burned": {AreaActivity, "activeEnergyBurned", maxPageSize, true},
	"active-minutes":       {AreaActivity, "activeMinutes", maxPageSize, true},
	"active-zone-minutes":  {AreaActivity, "activeZoneMinutes", maxPageSize, true},
	"activity-level":       {AreaActivity, "activityLevel", maxPageSize, true},
	"exercise":             {AreaActivity, "exercise", sessionPageSize, true},
	"total-calories":       {AreaActivity, "totalCalories", 0, false},
	// Activity, as Google's data-types pages give it.
	"calories-in-heart-rate-zone": {AreaActivity, "caloriesInHeartRateZone", 0, false},
	"heart-rate":                  {AreaMetrics, "heartRate", maxPageSize, true},
	"daily-resting-heart-rate":    {AreaMetrics, "dailyRestingHeartRate", maxPageSize, true},
	"daily-heart-rate-zones":      {AreaMetrics, "dailyHeartRateZones", maxPageSize, true},
	"time-in-heart-rate-zone":     {AreaMetrics, "timeInHeartRateZone", maxPageSize, true},
	"heart-rate-variability":      {AreaMetrics, "heartRateVariability", maxPageSize, true},
	"weight":                      {AreaMetrics, "weight", maxPageSize, true},
	"body-fat":                    {AreaMetrics, "bodyFat", maxPageSize, true},
	"height":                      {AreaMetrics, "height", maxPageSize, true},
	"oxygen-saturation":           {AreaMetrics, "oxygenSaturation", maxPageSize, true},
	// The daily measurements of a night (nightly.go).
	"daily-oxygen-saturation":             {AreaMetrics, "dailyOxygenSaturation", maxPageSize, true},
	"daily-heart-rate-variability":        {AreaMetrics, "dailyHeartRateVariability", maxPageSize, true},
	"daily-respiratory-rate":              {AreaMetrics, "dailyRespiratoryRate", maxPageSize, true},
	"daily-sleep-temperature-derivations": {AreaMetrics, "dailySleepTemperatureDerivations", maxPageSize, true},
	// Google's data-types pages do not give its scope; activity, with the
	// other fitness types, is ASSUMED.
	"daily-vo2-max": {AreaActivity, "dailyVo2Max", maxPageSize, true},
	"sleep":         {AreaSleep, "sleep", sessionPageSize, true},
}

// rng is deterministic per user and purpose (see simkit.Rand).
var (
	rng     = simkit.Rand
	between = simkit.Between
)

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// int64s are JSON strings in Google's APIs.
func i64(n int) string { return fmt.Sprint(n) }

func civilDate(t time.Time) map[string]any {
	return map[string]any{"year": t.Year(), "month": int(t.Month()), "day": t.Day()}
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func interval(start, end time.Time) map[string]any {
	return map[string]any{"startTime": timestamp(start), "startUtcOffset": "0s", "endTime": timestamp(end), "endUtcOffset": "0s"}
}

func sampleTime(t time.Time) map[string]any {
	return map[string]any{"physicalTime": timestamp(t), "utcOffset": "0s"}
}

func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// hourWeights shape a day's steps (UTC hours).
var hourWeights = [24]int{0, 0, 0, 0, 0, 0, 1, 4, 8, 6, 5, 5, 7, 6, 5, 5, 6, 8, 9, 6, 4, 2, 1, 0}

func hourlySteps(user string, hour time.Time) int {
	base := between(rng(user, "steps-base"), 5000, 12000)
	w := hourWeights[hour.UTC().Hour()]
	if w == 0 {
		return 0
	}
	r := rng(user, "steps", hour.UTC().Format(time.RFC3339))
	return base * w / 100 * between(r, 60, 140) / 100
}

func strideMM(user string) int { return between(rng(user, "stride"), 650, 820) }

func hourlyFloors(user string, hour time.Time) int {
	if hourWeights[hour.UTC().Hour()] == 0 {
		return 0
	}
	return rng(user, "floors", hour.UTC().Format(time.RFC3339)).IntN(4)
}

func heartRateAt(user string, t time.Time) int {
	rest := restingHR(user, day(t))
	r := rng(user, "hr", t.UTC().Format(time.RFC3339))
	return rest + hourWeights[t.UTC().Hour()]*3 + r.IntN(15)
}

func heightMM(user string) int { return between(rng(user, "height"), 1550, 1950) }

func restingHR(user string, d time.Time) int {
	base := between(rng(user, "rhr-base"), 48, 72)
	return base + rng(user, "rhr", d.Format(time.DateOnly)).IntN(5) - 2
}

// weighIn reports whether the user weighed in on day d, and when.
func weighIn(user string, d time.Time) (time.Time, bool) {
	r := rng(user, "weigh-in", d.Format(time.DateOnly))
	if r.IntN(3) == 0 {
		return time.Time{}, false
	}
	return d.Add(7*time.Hour + time.Duration(r.IntN(60))*time.Minute), true
}

func weightGrams(user string, d time.Time) float64 {
	base := float64(between(rng(user, "weight-base"), 52000, 98000))
	r := rng(user, "weight", d.Format(time.DateOnly))
	return base + float64(r.IntN(1200)-600)
}

// sleepSession is the night ending on day d.
func sleepSession(user string, d time.Time) (start, end time.Time) {
	r := rng(user, "sleep", d.Format(time.DateOnly))
	start = d.Add(-2*time.Hour + time.Duration(r.IntN(150))*time.Minute)
	end = d.Add(6*time.Hour + time.Duration(r.IntN(100))*time.Minute)
	return start, end
}

// point is one generated data point: its time key(s) and union value.
type point struct {
	start, end time.Time
	value      map[string]any
}

// civilOffset is the UTC offset of a sample point (its sampleTime's
// utcOffset): a filter on a civil time compares the physical time shifted
// by it. Generated points are UTC; a written one keeps the offset it was
// written with.
func (p point) civilOffset() time.Duration {
	st, _ := p.value["sampleTime"].(map[string]any)
	s, _ := st["utcOffset"].(string)
	if iv, ok := p.value["interval"].(map[string]any); ok && s == "" {
		s, _ = iv["startUtcOffset"].(string) // a session's (exercise.go)
	}
	d, _ := parseDuration(s)
	return d
}

// generate returns the type's points with start in [lo, hi] (end <= now
// for intervals), newest first.
// key is the user's synthetic person (Server.personKey).
func generate(user, key, typ string, lo, hi, now time.Time) []point {
	var out []point
	hourly := func(f func(h time.Time) map[string]any) {
		for h := hi.Truncate(time.Hour); !h.Before(lo); h = h.Add(-time.Hour) {
			if h.Add(time.Hour).After(now) {
				continue
			}
			if v := f(h); v != nil {
				out = append(out, point{h, h.Add(time.Hour), v})
			}
		}
	}
	daily := func(f func(d time.Time) (point, bool)) {
		for d := day(hi).Add(24 * time.Hour); !d.Before(day(lo).Add(-24 * time.Hour)); d = d.Add(-24 * time.Hour) {
			if p, ok := f(d); ok && !p.start.Before(lo) && !p.start.After(hi) && !p.end.After(now) {
				out = append(out, p)
			}
		}
	}
	switch typ {
	case "steps":
		hourly(func(h time.Time) map[string]any {
			if n := hourlySteps(user, h); n > 0 {
				return map[string]any{"interval": interval(h, h.Add(time.Hour)), "count": i64(n)}
			}
			return nil
		})
	case "distance":
		hourly(func(h time.Time) map[string]any {
			if n := hourlySteps(user, h); n > 0 {
				return map[string]any{"interval": interval(h, h.Add(time.Hour)), "millimeters": i64(n * strideMM(user))}
			}
			return nil
		})
	case "floors":
		hourly(func(h time.Time) map[string]any {
			if n := hourlyFloors(user, h); n > 0 {
				return map[string]any{"interval": interval(h, h.Add(time.Hour)), "count": i64(n)}
			}
			return nil
		})
	case "heart-rate":
		const step = 15 * time.Minute
		for t := hi.Truncate(step); !t.Before(lo); t = t.Add(-step) {
			if t.After(now) {
				continue
			}
			out = append(out, point{t, t, map[string]any{"sampleTime": sampleTime(t), "beatsPerMinute": i64(heartRateAt(user, t))}})
		}
	case "daily-resting-heart-rate":
		daily(func(d time.Time) (point, bool) {
			return point{d, d, map[string]any{"date": civilDate(d), "beatsPerMinute": i64(restingHR(user, d))}}, true
		})
	case "daily-heart-rate-zones":
		daily(func(d time.Time) (point, bool) { return point{d, d, dailyHeartRateZones(user, d)}, true })
	case "daily-oxygen-saturation", "daily-heart-rate-variability", "daily-respiratory-rate",
		"daily-sleep-temperature-derivations", "daily-vo2-max":
		p := person.New(key)
		daily(func(d time.Time) (point, bool) {
			v, ok := dailyMeasurement(p, user, typ, d)
			return point{d, d, v}, ok
		})
	case "weight", "body-fat":
		daily(func(d time.Time) (point, bool) {
			t, ok := weighIn(user, d)
			if !ok {
				return point{}, false
			}
			v := map[string]any{"sampleTime": sampleTime(t), "weightGrams": weightGrams(user, d)}
			if typ == "body-fat" {
				pct := float64(between(rng(user, "fat-base"), 120, 320)) / 10
				v = map[string]any{"sampleTime": sampleTime(t), "percentage": round1(pct + rng(user, "fat", d.Format(time.DateOnly)).Float64() - 0.5)}
			}
			return point{t, t, v}, true
		})
	case "height":
		// One measurement, at the start of the history: heights are
		// entered rarely, and the newest one stands.
		if t := day(now.Add(-History)).Add(8 * time.Hour); !t.Before(lo) && !t.After(hi) {
			out = append(out, point{t, t, map[string]any{"sampleTime": sampleTime(t), "heightMillimeters": i64(heightMM(user))}})
		}
	case "exercise":
		out = exercisePoints(key, lo, hi, now)
	case "sleep":
		daily(func(d time.Time) (point, bool) {
			start, end := sleepSession(user, d)
			return point{start, end, sleepValue(user, start, end)}, true
		})
	}
	return out
}

var sleepStages = []string{"LIGHT", "DEEP", "LIGHT", "REM", "AWAKE"}

func sleepValue(user string, start, end time.Time) map[string]any {
	r := rng(user, "stages", timestamp(start))
	var stages []map[string]any
	minutes := map[string]int{}
	for t, i := start, 0; t.Before(end); i++ {
		typ := sleepStages[i%len(sleepStages)]
		d := time.Duration(between(r, 5, 60)) * time.Minute
		if typ == "AWAKE" {
			d = time.Duration(between(r, 1, 8)) * time.Minute
		}
		e := minTime(t.Add(d), end)
		stages = append(stages, map[string]any{"startTime": timestamp(t), "endTime": timestamp(e), "type": typ})
		minutes[typ] += int(e.Sub(t) / time.Minute)
		t = e
	}
	total := int(end.Sub(start) / time.Minute)
	return map[string]any{
		"interval": interval(start, end),
		"type":     "STAGES",
		"stages":   stages,
		"summary": map[string]any{
			"minutesInSleepPeriod": i64(total),
			"minutesAsleep":        i64(total - minutes["AWAKE"]),
			"minutesAwake":         i64(minutes["AWAKE"]),
			"stagesSummary": []map[string]any{
				{"type": "AWAKE", "minutes": i64(minutes["AWAKE"])},
				{"type": "LIGHT", "minutes": i64(minutes["LIGHT"])},
				{"type": "DEEP", "minutes": i64(minutes["DEEP"])},
				{"type": "REM", "minutes": i64(minutes["REM"])},
			},
		},
	}
}

func dataSource(typ string) map[string]any {
	method := "PASSIVELY_MEASURED"
	if typ == "weight" || typ == "body-fat" {
		method = "MANUAL"
	}
	return map[string]any{
		"recordingMethod": method,
		"device":          map[string]any{"manufacturer": "Google", "displayName": "Pixel Watch 3"},
		"platform":        "FITBIT",
	}
}

// dataPointJSON renders a generated point as a DataPoint resource.
func dataPointJSON(user, typ string, p point) map[string]any {
	return map[string]any{
		"name":               generatedName(user, typ, p),
		"dataSource":         dataSource(typ),
		dataTypes[typ].field: p.value,
	}
}

// generatedName is the stable name of a generated point.
func generatedName(user, typ string, p point) string {
	h := fnv.New64a()
	fmt.Fprint(h, user, typ, p.start.UnixNano())
	return fmt.Sprintf("users/%s/dataTypes/%s/dataPoints/%016x", user, typ, h.Sum64())
}

func profileFor(user string, now time.Time) map[string]any {
	r := rng(user, "profile")
	born := time.Date(between(r, 1955, 2004), time.Month(between(r, 1, 12)), between(r, 1, 28), 0, 0, 0, 0, time.UTC)
	age := now.Year() - born.Year()
	if now.YearDay() < born.YearDay() {
		age--
	}
	member := time.Date(between(r, 2012, 2024), time.Month(between(r, 1, 12)), between(r, 1, 28), 0, 0, 0, 0, time.UTC)
	// Fields and types as health-api.json's Profile (revision 20261111):
	// the lengths are int32, JSON numbers; there is no height field (height
	// is a data type).
	return map[string]any{
		"age":                                 age,
		"membershipStartDate":                 civilDate(member),
		"userConfiguredWalkingStrideLengthMm": strideMM(user),
		"userConfiguredRunningStrideLengthMm": strideMM(user) * 13 / 10,
		"autoWalkingStrideLengthMm":           strideMM(user),
		"autoRunningStrideLengthMm":           strideMM(user) * 13 / 10,
	}
}

var zones = []string{"Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo", "America/Los_Angeles"}

// settingsFor follows health-api.json's Settings (revision 20261111): the
// enum values carry their type's prefix (DISTANCE_UNIT_KILOMETERS), there
// is no startDayOfWeek, and utcOffset is a google-duration string.
func settingsFor(user string) map[string]any {
	r := rng(user, "settings")
	imperial := r.IntN(3) == 0
	units := map[string]any{"distanceUnit": "DISTANCE_UNIT_KILOMETERS", "weightUnit": "WEIGHT_UNIT_KILOGRAMS",
		"heightUnit": "HEIGHT_UNIT_CENTIMETERS", "temperatureUnit": "TEMPERATURE_UNIT_CELSIUS",
		"waterUnit": "WATER_UNIT_ML", "swimUnit": "SWIM_UNIT_METERS", "glucoseUnit": "GLUCOSE_UNIT_MMOL_L"}
	if imperial {
		units = map[string]any{"distanceUnit": "DISTANCE_UNIT_MILES", "weightUnit": "WEIGHT_UNIT_POUNDS",
			"heightUnit": "HEIGHT_UNIT_INCHES", "temperatureUnit": "TEMPERATURE_UNIT_FAHRENHEIT",
			"waterUnit": "WATER_UNIT_FL_OZ", "swimUnit": "SWIM_UNIT_YARDS", "glucoseUnit": "GLUCOSE_UNIT_MG_DL"}
	}
	units["timeZone"] = zones[r.IntN(len(zones))]
	// The simulated data is UTC (see the package documentation), and so is
	// the offset it reports.
	units["utcOffset"] = "0s"
	units["languageLocale"] = "en-US"
	units["autoStrideEnabled"] = true
	units["strideLengthWalkingType"] = "STRIDE_LENGTH_TYPE_AUTO"
	units["strideLengthRunningType"] = "STRIDE_LENGTH_TYPE_AUTO"
	return units
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
