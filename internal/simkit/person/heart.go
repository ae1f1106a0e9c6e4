package person

import (
	"math"
	"time"
)

// SampleInterval is the spacing of heart-rate samples.
const SampleInterval = 5 * time.Second

// SamplesPerMinute is how many heart-rate samples a minute holds.
const SamplesPerMinute = int(time.Minute / SampleInterval)

// Zone is a heart-rate zone and the day's time and calories in it. A minute
// is in the zone when its average heart rate is in [Min, Max).
type Zone struct {
	Name     string
	Min, Max int
	Minutes  int
	MilliCal int
}

// Heart is one local day of heart rate.
type Heart struct {
	Day     time.Time
	Samples [MinutesPerDay * SamplesPerMinute]uint8 // bpm; 0 while off the wrist
	Resting int
	Zones   [4]Zone // Out of Range, Fat Burn, Cardio, Peak
}

// MinuteAverage is minute i's average over its on-wrist samples, rounded;
// ok is false when the tracker was off the wrist all minute.
func (h *Heart) MinuteAverage(i int) (bpm int, ok bool) {
	sum, n := 0, 0
	for _, s := range h.Samples[i*SamplesPerMinute : (i+1)*SamplesPerMinute] {
		if s != 0 {
			sum += int(s)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return (sum + n/2) / n, true
}

// Zones are Fitbit's default zones for age: 50 %, 70 % and 85 % of the
// maximum heart rate 220 − age, from 30 to 220 bpm.
func Zones(age int) [4]Zone {
	hrMax := float64(220 - age)
	fat, cardio, peak := int(math.Round(hrMax*0.5)), int(math.Round(hrMax*0.7)), int(math.Round(hrMax*0.85))
	return [4]Zone{
		{Name: "Out of Range", Min: 30, Max: fat},
		{Name: "Fat Burn", Min: fat, Max: cardio},
		{Name: "Cardio", Min: cardio, Max: peak},
		{Name: "Peak", Min: peak, Max: 220},
	}
}

// RestingHeartRate is the day's resting heart rate.
func (p *Person) RestingHeartRate(day time.Time) int {
	return int(p.restingBase) + between(p.rng(p.DayOf(day), "rhr"), -3, 3)
}

// Heart returns the heart rate of the local day holding day.
func (p *Person) Heart(day time.Time) *Heart {
	day = p.DayOf(day)
	a := p.Activity(day)
	h := &Heart{Day: day, Resting: p.RestingHeartRate(day), Zones: Zones(p.Age(day))}
	r := p.rng(day, "heart")
	rhr := h.Resting
	hrMax := 220 - p.Age(day)
	for i, m := range a.Minutes {
		if m.OffWrist || m.Skipped {
			continue
		}
		var base int
		switch {
		case m.InBed:
			base = rhr - 3 + between(r, 0, 6)
		case m.Level == VeryActive:
			base = hrMax*80/100 + between(r, -8, 8)
		case m.Level == FairlyActive:
			base = rhr + between(r, 40, 60)
		case m.Level == LightlyActive:
			base = rhr + between(r, 18, 35)
		default:
			base = rhr + between(r, 6, 18)
		}
		for j := range SamplesPerMinute {
			h.Samples[i*SamplesPerMinute+j] = uint8(min(219, max(31, base+between(r, -2, 2))))
		}
	}
	h.Zones = h.ZonesIn(a, 0, MinutesPerDay)
	return h
}

// ZonesIn counts the zones over the minutes [from, to) of the day, such as
// the part of today that has happened; a is the same day's activity, whose
// calories the zones add up.
func (h *Heart) ZonesIn(a *Activity, from, to int) [4]Zone {
	zones := h.Zones
	for z := range zones {
		zones[z].Minutes, zones[z].MilliCal = 0, 0
	}
	for i := max(0, from); i < min(MinutesPerDay, to); i++ {
		bpm, ok := h.MinuteAverage(i)
		for z := range zones {
			if ok && bpm >= zones[z].Min && bpm < zones[z].Max {
				zones[z].Minutes++
				zones[z].MilliCal += a.Minutes[i].MilliCal()
			}
		}
	}
	return zones
}
