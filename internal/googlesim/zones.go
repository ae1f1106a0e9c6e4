package googlesim

import (
	"strconv"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The heart rate zones: Fitbit's defaults for the user's age (package
// person), named with Google's zone types in Fitbit's order (Out of Range,
// Fat Burn, Cardio, Peak).
var zoneTypes = [4]string{"LIGHT", "MODERATE", "VIGOROUS", "PEAK"}

// heartSample is how long one generated heart-rate sample stands for.
const heartSample = 15 * time.Minute

func zonesOn(user string, d time.Time) [4]person.Zone {
	return person.Zones(profileFor(user, d)["age"].(int))
}

// zoneOf is the index of the zone bpm is in: at least its Min and below
// the next zone's Min.
func zoneOf(z [4]person.Zone, bpm int) int {
	for i := len(z) - 1; i > 0; i-- {
		if bpm >= z[i].Min {
			return i
		}
	}
	return 0
}

// dailyHeartRateZones is a daily-heart-rate-zones value: the day's bounds.
func dailyHeartRateZones(user string, d time.Time) map[string]any {
	z := zonesOn(user, d)
	out := make([]map[string]any, len(z))
	for i := range z {
		out[i] = map[string]any{"heartRateZoneType": zoneTypes[i],
			"minBeatsPerMinute": strconv.Itoa(z[i].Min), "maxBeatsPerMinute": strconv.Itoa(z[i].Max)}
	}
	return map[string]any{"date": civilDate(d), "heartRateZones": out}
}

// inZones adds up, per zone, the heart-rate samples in [ws, we) up to
// now: the time they stand for and the calories burned meanwhile (the
// basal rate scaled by the heart rate over the resting one, an ASSUMED
// model).
func inZones(user string, ws, we, now time.Time) (minutes [4]int, kcal [4]float64) {
	bmr := float64(between(rng(user, "bmr"), 1400, 2000))
	for t := ws.Truncate(heartSample); t.Before(we) && !t.After(now); t = t.Add(heartSample) {
		if t.Before(ws) {
			continue
		}
		bpm := heartRateAt(user, t)
		i := zoneOf(zonesOn(user, t), bpm)
		minutes[i] += int(heartSample / time.Minute)
		kcal[i] += bmr / 1440 * heartSample.Minutes() * float64(bpm) / float64(restingHR(user, day(t)))
	}
	return minutes, kcal
}

func timeInZonesRollUp(user string, ws, we, now time.Time) map[string]any {
	minutes, _ := inZones(user, ws, we, now)
	out := make([]map[string]any, len(zoneTypes))
	for i, zt := range zoneTypes {
		out[i] = map[string]any{"heartRateZone": zt, "duration": strconv.Itoa(minutes[i]*60) + "s"}
	}
	return map[string]any{"timeInHeartRateZones": out}
}

func caloriesInZonesRollUp(user string, ws, we, now time.Time) map[string]any {
	_, kcal := inZones(user, ws, we, now)
	out := make([]map[string]any, len(zoneTypes))
	for i, zt := range zoneTypes {
		out[i] = map[string]any{"heartRateZone": zt, "kcal": round1(kcal[i])}
	}
	return map[string]any{"caloriesInHeartRateZones": out}
}
