package googlesim

import (
	"strconv"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The heart rate zones: Fitbit's defaults for the person's age (package
// person), named with Google's zone types in Fitbit's order (Out of Range,
// Fat Burn, Cardio, Peak).
var zoneTypes = [4]string{"LIGHT", "MODERATE", "VIGOROUS", "PEAK"}

// dailyHeartRateZones is a daily-heart-rate-zones value: the bounds on the
// civil date d (local is the person's day of it).
func dailyHeartRateZones(p *person.Person, d, local time.Time) map[string]any {
	z := person.Zones(p.Age(local))
	out := make([]map[string]any, len(z))
	for i := range z {
		out[i] = map[string]any{"heartRateZoneType": zoneTypes[i],
			"minBeatsPerMinute": strconv.Itoa(z[i].Min), "maxBeatsPerMinute": strconv.Itoa(z[i].Max)}
	}
	return map[string]any{"date": civilDate(d), "heartRateZones": out}
}

// inZones adds up, per zone, the minutes of ms with a heart rate (each in
// the zone of its average, as person.Heart.ZonesIn counts them) and their
// calories in 1/1000 kcal; worn reports whether any minute had one.
func inZones(ms []minuteRef) (minutes, milliCal [4]int, worn bool) {
	for _, m := range ms {
		if z := minuteZone(m.d, m.i); z >= 0 {
			minutes[z]++
			milliCal[z] += m.minute().MilliCal()
			worn = true
		}
	}
	return minutes, milliCal, worn
}

func timeInZonesRollUp(ms []minuteRef, _ time.Time) map[string]any {
	minutes, _, worn := inZones(ms)
	if !worn {
		return nil
	}
	out := make([]map[string]any, len(zoneTypes))
	for i, zt := range zoneTypes {
		out[i] = map[string]any{"heartRateZone": zt, "duration": seconds(time.Duration(minutes[i]) * time.Minute)}
	}
	return map[string]any{"timeInHeartRateZones": out}
}

// caloriesInZonesRollUp's kcal are the zone's millikilocalories / 1000, the
// simulated Fitbit's caloriesOut exactly (both divide the same integer).
func caloriesInZonesRollUp(ms []minuteRef, _ time.Time) map[string]any {
	_, milli, worn := inZones(ms)
	if !worn {
		return nil
	}
	out := make([]map[string]any, len(zoneTypes))
	for i, zt := range zoneTypes {
		out[i] = map[string]any{"heartRateZone": zt, "kcal": float64(milli[i]) / 1000}
	}
	return map[string]any{"caloriesInHeartRateZones": out}
}
