package person

import (
	"math"
	"time"
)

// WeightKG is the person's weight on day, to 0.1 kg: a slow swing around
// the person's base plus a little day-to-day noise.
func (p *Person) WeightKG(day time.Time) float64 {
	day = p.DayOf(day)
	n := float64(day.Unix() / 86400)
	kg := p.baseKG + 1.5*math.Sin(2*math.Pi*n/90) + float64(between(p.rng(day, "weight"), -3, 3))/10
	return round(kg, 10)
}

// round rounds f to 1/per.
func round(f, per float64) float64 { return math.Round(f*per) / per }

// WeightLog is one weighing.
type WeightLog struct {
	LogID   int64 // the time in Unix milliseconds, as Fitbit's weight log ids are
	Time    time.Time
	KG      float64 // to 0.1 kg
	BMI     float64 // unrounded, from the height
	FatPct  float64 // to 0.1 %, when HasFat
	HasFat  bool
	FatLog  int64 // the body-fat log's id (Fitbit logs fat separately)
	Source  string
	Comment string
}

// Weighings returns the logs of the local day holding day: on about two
// mornings a week, with body fat on about half of them.
func (p *Person) Weighings(day time.Time) []WeightLog {
	day = p.DayOf(day)
	r := p.rng(day, "weighing")
	if r.IntN(7) >= 2 {
		return nil
	}
	at := p.At(day, between(r, 6*60+30, 8*60+30)).Add(time.Duration(between(r, 0, 59)) * time.Second)
	kg := p.WeightKG(day)
	m := float64(p.Profile.HeightMM) / 1000
	w := WeightLog{LogID: at.UnixMilli(), Time: at, KG: kg, BMI: kg / (m * m), Source: "Aria"}
	if r.IntN(2) == 0 {
		w.HasFat, w.FatLog = true, at.UnixMilli()
		base := 18.0
		if p.Profile.Gender == Female {
			base = 26
		}
		w.FatPct = round(base+float64(between(r, -30, 50))/10, 10)
	}
	return []WeightLog{w}
}

// Nightly are the measurements of the main sleep that ends on a day.
type Nightly struct {
	SpO2Avg, SpO2Min, SpO2Max float64 // percent, to 0.1
	DailyRMSSD, DeepRMSSD     float64 // ms, to 0.001
	BreathingRate             float64 // breaths per minute, to 0.1
	SkinTempRelative          float64 // °C against the personal baseline, to 0.1
}

// Nightly returns the night's measurements, ok false on the nights (about
// one in twelve) when the tracker produced none.
func (p *Person) Nightly(day time.Time) (n Nightly, ok bool) {
	day = p.DayOf(day)
	r := p.rng(day, "nightly")
	if r.IntN(12) == 0 {
		return Nightly{}, false
	}
	avg := float64(between(r, 940, 979)) / 10
	n.SpO2Avg = avg
	n.SpO2Min = round(avg-float64(between(r, 10, 40))/10, 10)
	n.SpO2Max = math.Min(100, round(avg+float64(between(r, 5, 20))/10, 10))
	n.DailyRMSSD = round(p.hrvBase+float64(between(r, -8000, 8000))/1000, 1000)
	n.DeepRMSSD = round(n.DailyRMSSD+float64(between(r, -3000, 8000))/1000, 1000)
	n.BreathingRate = float64(between(r, 120, 179)) / 10
	n.SkinTempRelative = float64(between(r, -15, 15)) / 10
	return n, true
}

// VO2Max is the day's cardio fitness estimate in ml/kg/min, to 0.1.
func (p *Person) VO2Max(day time.Time) float64 {
	day = p.DayOf(day)
	return round(p.vo2Base+float64(between(p.rng(day, "vo2"), -5, 5))/10, 10)
}
