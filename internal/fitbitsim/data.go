package fitbitsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The simulated data is internal/simkit/person's: one synthetic person per
// user, the same one the simulated Google Health renders, so the two
// simulators' answers can be compared field by field. This file and the
// other data files only render it in Fitbit's shapes and units.

// persons caches each user's person (its time zone is loaded once).
var persons sync.Map // user -> *person.Person

func personOf(user string) *person.Person {
	if p, ok := persons.Load(user); ok {
		return p.(*person.Person)
	}
	p, _ := persons.LoadOrStore(user, person.New(user))
	return p.(*person.Person)
}

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

// length converts millimetres to cm, or inches for en_US (heights and
// strides).
func (u units) length(mm int) float64 {
	if u == unitsUS {
		return round1(float64(mm) / 25.4)
	}
	return round1(float64(mm) / 10)
}

// weight converts kg to kg, lb (en_US) or stone (en_GB).
func (u units) weight(kg float64) float64 {
	switch u {
	case unitsUS:
		return round1(kg * 2.20462)
	case unitsUK:
		// Stone to two decimals, so that a pound still shows (0.1 st is
		// 1.4 lb); Fitbit does not document the precision.
		return round2(kg / 6.35029)
	}
	return round1(kg)
}

// distance converts millimetres to km, or miles for en_US, unrounded.
func (u units) distance(mm int) float64 {
	km := float64(mm) / 1e6
	if u == unitsUS {
		return round(km/1.609344, 1e5)
	}
	return km
}

// elevation converts millimetres to m, or feet for en_US.
func (u units) elevation(mm int) float64 {
	if u == unitsUS {
		return round2(float64(mm) / 304.8)
	}
	return round2(float64(mm) / 1000)
}

func round(f, per float64) float64 { return math.Round(f*per) / per }
func round1(f float64) float64     { return round(f, 10) }
func round2(f float64) float64     { return round(f, 100) }

// kcal rounds millikilocalories to whole kilocalories.
func kcal(milli int) int { return (milli + 500) / 1000 }

// str is a series value as Fitbit sends it: a string.
func str(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// localLayout is Fitbit's local timestamp, without an offset.
const localLayout = "2006-01-02T15:04:05.000"

func profileFor(p *person.Person, now time.Time, u units) map[string]any {
	pr := p.Profile
	today := p.DayOf(now)
	return map[string]any{
		"encodedId":               pr.UserID,
		"displayName":             pr.DisplayName,
		"fullName":                pr.FirstName + " " + pr.LastName,
		"firstName":               pr.FirstName,
		"lastName":                pr.LastName,
		"gender":                  pr.Gender,
		"timezone":                pr.TimeZone,
		"offsetFromUTCMillis":     p.OffsetMillis(now),
		"memberSince":             pr.MemberSince.Format(time.DateOnly),
		"dateOfBirth":             pr.BirthDate.Format(time.DateOnly),
		"age":                     p.Age(today),
		"height":                  u.length(pr.HeightMM),
		"weight":                  u.weight(p.WeightKG(today)),
		"locale":                  "en_US",
		"languageLocale":          "en_US",
		"autoStrideEnabled":       false, // the strides are the defaults from the height, not measured on runs
		"avatar":                  "https://static0.fitbit.com/images/profile/defaultProfile_100.png",
		"strideLengthWalking":     u.length(pr.StrideWalkingMM),
		"strideLengthRunning":     u.length(pr.StrideRunningMM),
		"strideLengthWalkingType": "default",
		"strideLengthRunningType": "default",
		"distanceUnit":            u.name(),
		"heightUnit":              u.name(),
		"weightUnit":              u.name(),
	}
}

// name is the profile's unit-system name.
func (u units) name() string {
	switch u {
	case unitsUS:
		return "en_US"
	case unitsUK:
		return "en_GB"
	}
	return "METRIC"
}

// zonesJSON renders heart-rate zones with their calories.
func zonesJSON(zones [4]person.Zone) []map[string]any {
	out := make([]map[string]any, 0, len(zones))
	for _, z := range zones {
		out = append(out, map[string]any{
			"name": z.Name, "min": z.Min, "max": z.Max, "minutes": z.Minutes, "caloriesOut": float64(z.MilliCal) / 1000,
		})
	}
	return out
}

// dayOf is the day's activity and the minutes of it that have happened
// by the simulator's clock: a day's totals grow through the day, as on
// Fitbit, and future days are empty.
func (s *Server) dayOf(p *person.Person, day time.Time) (*person.Activity, int) {
	return p.Activity(day), s.available(p, day)
}

// zonesOf is the day's heart-rate zones so far.
func (s *Server) zonesOf(p *person.Person, day time.Time) (*person.Heart, [4]person.Zone) {
	a, upto := s.dayOf(p, day)
	h := p.Heart(day)
	return h, h.ZonesIn(a, 0, upto)
}

func (s *Server) activitiesFor(p *person.Person, day time.Time, logs []map[string]any, u units) map[string]any {
	a, upto := s.dayOf(p, day)
	h, zones := s.zonesOf(p, day)
	t := a.Sum(0, upto)
	byLevel := map[person.Level]int{}
	for _, m := range a.Minutes[:upto] {
		byLevel[m.Level] += m.DistanceMM
	}
	if logs == nil {
		logs = []map[string]any{}
	}
	return map[string]any{
		"activities": logs,
		"goals": map[string]any{
			"activeMinutes": 30, "caloriesOut": 2500, "distance": u.distance(8_050_000), "floors": 10, "steps": 10000,
		},
		"summary": map[string]any{
			"activeScore":      -1,
			"activityCalories": kcal(t.ActMilliCal),
			"caloriesBMR":      kcal(t.BMRMilliCal),
			"caloriesOut":      kcal(t.MilliCal),
			"distances": []map[string]any{
				{"activity": "total", "distance": round2(u.distance(t.DistanceMM))},
				{"activity": "tracker", "distance": round2(u.distance(t.DistanceMM))},
				{"activity": "loggedActivities", "distance": 0},
				{"activity": "veryActive", "distance": round2(u.distance(byLevel[person.VeryActive]))},
				{"activity": "moderatelyActive", "distance": round2(u.distance(byLevel[person.FairlyActive]))},
				{"activity": "lightlyActive", "distance": round2(u.distance(byLevel[person.LightlyActive]))},
				{"activity": "sedentaryActive", "distance": round2(u.distance(byLevel[person.Sedentary]))},
			},
			"elevation":            u.elevation(t.ElevationMM),
			"fairlyActiveMinutes":  t.Fairly,
			"floors":               t.Floors,
			"heartRateZones":       zonesJSON(zones),
			"lightlyActiveMinutes": t.Lightly,
			"marginalCalories":     kcal(t.ActMilliCal) / 2,
			"restingHeartRate":     h.Resting,
			"sedentaryMinutes":     t.Sedentary,
			"steps":                t.Steps,
			"veryActiveMinutes":    t.Very,
		},
	}
}

// heartDay is one day's entry of activities-heart.
func (s *Server) heartDay(p *person.Person, day time.Time) map[string]any {
	h, zones := s.zonesOf(p, day)
	return map[string]any{
		"dateTime": day.Format(time.DateOnly),
		"value": map[string]any{
			"customHeartRateZones": []any{},
			"heartRateZones":       zonesJSON(zones),
			"restingHeartRate":     h.Resting,
		},
	}
}

// sleepRecord renders one session of the sleep that ends on day.
func sleepRecord(p *person.Person, day time.Time, s person.Sleep) map[string]any {
	loc := p.Location()
	data := []map[string]any{}
	counts := map[person.Stage]int{}
	for _, r := range s.Runs() {
		data = append(data, map[string]any{"dateTime": r.Start.In(loc).Format(localLayout), "level": r.Stage.String(), "seconds": r.Seconds})
		counts[r.Stage]++
	}
	summary := map[string]any{}
	for _, st := range person.Stages {
		// The average of the 30 nights before, as Fitbit's app shows it.
		avg := 0
		for i := 1; i <= 30; i++ {
			for _, o := range p.Sleeps(day.AddDate(0, 0, -i)) {
				avg += o.Seconds(st) / 60
			}
		}
		summary[st.String()] = map[string]any{"count": counts[st], "minutes": s.Seconds(st) / 60, "thirtyDayAvgMinutes": avg / 30}
	}
	return map[string]any{
		"dateOfSleep":         day.Format(time.DateOnly),
		"duration":            int64(s.End().Sub(s.Start) / time.Millisecond),
		"efficiency":          s.Efficiency(),
		"infoCode":            0,
		"isMainSleep":         s.IsMain,
		"logId":               s.LogID,
		"logType":             "auto_detected",
		"minutesAfterWakeup":  0,
		"minutesAsleep":       s.AsleepMinutes(),
		"minutesAwake":        s.AwakeMinutes(),
		"minutesToFallAsleep": 0,
		"startTime":           s.Start.In(loc).Format(localLayout),
		"endTime":             s.End().In(loc).Format(localLayout),
		"timeInBed":           s.TimeInBedMinutes(),
		"type":                "stages",
		"levels": map[string]any{
			"data":      data,
			"shortData": []any{},
			"summary":   summary,
		},
	}
}

// sleepsOf are the person's sleeps that end on day and have ended by now:
// a night still under way is not logged yet.
func (s *Server) sleepsOf(p *person.Person, day time.Time) []person.Sleep {
	now := s.now()
	var out []person.Sleep
	for _, sl := range p.Sleeps(day) {
		if !sl.End().After(now) {
			out = append(out, sl)
		}
	}
	return out
}

// sleepFor is the by-date answer: the records of sleeps, ending on day,
// and their summary.
func sleepFor(p *person.Person, day time.Time, sleeps []person.Sleep) map[string]any {
	recs := []map[string]any{}
	stages := map[string]int{}
	asleep, inBed := 0, 0
	for _, s := range sleeps {
		recs = append(recs, sleepRecord(p, day, s))
		for _, st := range person.Stages {
			stages[st.String()] += s.Seconds(st) / 60
		}
		asleep += s.AsleepMinutes()
		inBed += s.TimeInBedMinutes()
	}
	summary := map[string]any{"totalMinutesAsleep": asleep, "totalSleepRecords": len(recs), "totalTimeInBed": inBed}
	// Fitbit's reference shows the stages only with logs; a day without
	// one is ASSUMED to have none.
	if len(recs) > 0 {
		summary["stages"] = stages
	}
	return map[string]any{"sleep": recs, "summary": summary}
}
