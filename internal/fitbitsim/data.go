package fitbitsim

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// units is the unit system chosen by Accept-Language.
type units int

const (
	metric units = iota
	unitsUS
	unitsUK
)

func unitsFor(r *http.Request) units {
	switch strings.TrimSpace(r.Header.Get("Accept-Language")) {
	case "en_US":
		return unitsUS
	case "en_GB":
		return unitsUK
	}
	return metric
}

func (u units) height(cm float64) float64 {
	if u == unitsUS {
		return round1(cm / 2.54)
	}
	return round1(cm)
}

func (u units) weight(kg float64) float64 {
	switch u {
	case unitsUS:
		return round1(kg * 2.20462)
	case unitsUK:
		return round1(kg / 6.35029)
	}
	return round1(kg)
}

func (u units) distance(km float64) float64 {
	if u == unitsUS {
		return round2(km / 1.609344)
	}
	return round2(km)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// rng is deterministic per user, date and purpose (see simkit.Rand).
var (
	rng     = simkit.Rand
	between = simkit.Between
)

func profileFor(user string, u units) map[string]any {
	r := rng(user, "profile")
	gender := "MALE"
	if r.IntN(2) == 0 {
		gender = "FEMALE"
	}
	heightCM := float64(between(r, 155, 195))
	weightKG := float64(between(r, 50, 100)) + float64(r.IntN(10))/10
	born := time.Date(between(r, 1950, 2004), time.Month(between(r, 1, 12)), between(r, 1, 28), 0, 0, 0, 0, time.UTC)
	since := time.Date(between(r, 2012, 2024), time.Month(between(r, 1, 12)), between(r, 1, 28), 0, 0, 0, 0, time.UTC)
	return map[string]any{
		"encodedId":           user,
		"displayName":         "Sim user " + user,
		"fullName":            "Sim User " + user,
		"firstName":           "Sim",
		"lastName":            "User " + user,
		"gender":              gender,
		"timezone":            "Europe/London",
		"offsetFromUTCMillis": 0,
		"memberSince":         since.Format(time.DateOnly),
		"dateOfBirth":         born.Format(time.DateOnly),
		"age":                 2026 - born.Year(),
		"height":              u.height(heightCM),
		"weight":              u.weight(weightKG),
		"locale":              "en_US",
		"avatar":              "https://static0.fitbit.com/images/profile/defaultProfile_100.png",
		"strideLengthWalking": round1(heightCM * 0.415),
		"strideLengthRunning": round1(heightCM * 0.65),
	}
}

func restingHR(user string, day time.Time) int {
	return between(rng(user, day.Format(time.DateOnly), "rhr"), 52, 68)
}

func activitiesFor(user string, day time.Time, logs []map[string]any, u units) map[string]any {
	date := day.Format(time.DateOnly)
	r := rng(user, date, "activity")
	steps := between(r, 2500, 16000)
	km := float64(steps) * 0.00075
	very, fairly, lightly := between(r, 0, 60), between(r, 0, 45), between(r, 90, 300)
	sedentary := 1440 - very - fairly - lightly - between(r, 360, 540)
	bmr := between(r, 1500, 1900)
	activityCal := very*12 + fairly*8 + lightly*4
	if logs == nil {
		logs = []map[string]any{}
	}
	return map[string]any{
		"activities": logs,
		"goals": map[string]any{
			"activeMinutes": 30, "caloriesOut": 2500, "distance": u.distance(8.05), "floors": 10, "steps": 10000,
		},
		"summary": map[string]any{
			"activityCalories":     activityCal,
			"caloriesBMR":          bmr,
			"caloriesOut":          bmr + activityCal,
			"distances":            []map[string]any{{"activity": "total", "distance": u.distance(km)}},
			"fairlyActiveMinutes":  fairly,
			"lightlyActiveMinutes": lightly,
			"sedentaryMinutes":     sedentary,
			"steps":                steps,
			"floors":               between(r, 0, 25),
			"veryActiveMinutes":    very,
			"restingHeartRate":     restingHR(user, day),
		},
	}
}

// intraday asks heartFor for an intraday dataset.
type intraday struct {
	interval int
	typ      string
	step     time.Duration
	until    time.Time // exclusive
}

func heartFor(user string, day time.Time, id *intraday) map[string]any {
	date := day.Format(time.DateOnly)
	rhr := restingHR(user, day)
	r := rng(user, date, "heart")
	zones := []map[string]any{
		{"name": "Out of Range", "min": 30, "max": 97, "minutes": between(r, 1000, 1300), "caloriesOut": float64(between(r, 12000, 17000)) / 10},
		{"name": "Fat Burn", "min": 97, "max": 135, "minutes": between(r, 30, 200), "caloriesOut": float64(between(r, 1500, 6000)) / 10},
		{"name": "Cardio", "min": 135, "max": 164, "minutes": between(r, 0, 40), "caloriesOut": float64(between(r, 0, 3000)) / 10},
		{"name": "Peak", "min": 164, "max": 220, "minutes": between(r, 0, 10), "caloriesOut": float64(between(r, 0, 1000)) / 10},
	}
	out := map[string]any{
		"activities-heart": []map[string]any{{
			"dateTime": date,
			"value": map[string]any{
				"customHeartRateZones": []any{},
				"heartRateZones":       zones,
				"restingHeartRate":     rhr,
			},
		}},
	}
	if id == nil {
		return out
	}
	dataset := []map[string]any{}
	for t := day; t.Before(id.until) && t.Before(day.Add(24*time.Hour)); t = t.Add(id.step) {
		hour := t.Hour()
		base := rhr + 6
		if hour >= 7 && hour < 22 {
			base = rhr + 20
		}
		dataset = append(dataset, map[string]any{"time": t.Format(time.TimeOnly), "value": base + r.IntN(15)})
	}
	out["activities-heart-intraday"] = map[string]any{
		"dataset":         dataset,
		"datasetInterval": id.interval,
		"datasetType":     id.typ,
	}
	return out
}

func sleepFor(user string, day time.Time) map[string]any {
	date := day.Format(time.DateOnly)
	r := rng(user, date, "sleep")
	start := day.Add(-time.Duration(between(r, 30, 150)) * time.Minute) // the evening before
	const layout = "2006-01-02T15:04:05.000"
	levels := []string{"wake", "light", "deep", "light", "rem"}
	minutes := map[string]int{}
	counts := map[string]int{}
	var data []map[string]any
	t := start
	for i := 0; i < between(r, 14, 22); i++ {
		lvl := levels[i%len(levels)]
		secs := between(r, 4, 55) * 60
		if lvl == "wake" {
			secs = between(r, 1, 8) * 60
		}
		data = append(data, map[string]any{"dateTime": t.Format(layout), "level": lvl, "seconds": secs})
		minutes[lvl] += secs / 60
		counts[lvl]++
		t = t.Add(time.Duration(secs) * time.Second)
	}
	inBed := int(t.Sub(start) / time.Minute)
	awake := minutes["wake"]
	asleep := inBed - awake
	summary := map[string]any{}
	for _, l := range []string{"deep", "light", "rem", "wake"} {
		summary[l] = map[string]any{"count": counts[l], "minutes": minutes[l], "thirtyDayAvgMinutes": minutes[l] + between(r, -20, 20)}
	}
	efficiency := 0
	if inBed > 0 {
		efficiency = asleep * 100 / inBed
	}
	return map[string]any{
		"sleep": []map[string]any{{
			"dateOfSleep":         date,
			"duration":            inBed * 60 * 1000,
			"efficiency":          efficiency,
			"isMainSleep":         true,
			"logId":               int64(30_000_000_000) + int64(r.IntN(1_000_000_000)),
			"logType":             "auto_detected",
			"minutesAfterWakeup":  0,
			"minutesAsleep":       asleep,
			"minutesAwake":        awake,
			"minutesToFallAsleep": 0,
			"startTime":           start.Format(layout),
			"endTime":             t.Format(layout),
			"timeInBed":           inBed,
			"type":                "stages",
			"levels": map[string]any{
				"data":      data,
				"shortData": []any{},
				"summary":   summary,
			},
		}},
		"summary": map[string]any{
			"stages":             map[string]any{"deep": minutes["deep"], "light": minutes["light"], "rem": minutes["rem"], "wake": minutes["wake"]},
			"totalMinutesAsleep": asleep,
			"totalSleepRecords":  1,
			"totalTimeInBed":     inBed,
		},
	}
}
