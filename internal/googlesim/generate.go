package googlesim

import (
	"math"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The points of each data type, rendered from the user's synthetic person
// the way Google's API presents a Fitbit tracker's measurements (the
// grain of each type as health-api.json describes it):
//
//   - Interval types that a tracker counts per minute are one point per
//     minute (interval [minute, minute+60s)), and only for the minutes with
//     something to count: steps (count), distance (millimeters), floors
//     (count), altitude (gainMillimeters: a floor is 3,048 mm of climb),
//     active-energy-burned (kcal, the minute's calories above the basal
//     rate), active-minutes (one LIGHT, MODERATE or VIGOROUS minute: the
//     person's lightly, fairly and very active minutes) and
//     active-zone-minutes (a minute in the fat burn zone earns 1, in cardio
//     or peak 2, per health-api.json). A minute with nothing counted, or
//     off the wrist, has no point (ASSUMED: lists leave gaps; roll-ups tell
//     true zeros from no data, see rollups.go).
//   - activity-level and time-in-heart-rate-zone are intervals of
//     consecutive minutes at one level or in one zone. activity-level
//     covers the minutes out of bed (off-wrist ones are SEDENTARY, as
//     Fitbit counts them; ASSUMED), time-in-heart-rate-zone the minutes with
//     a heart rate, each in the zone of its average (person.Heart.ZonesIn).
//   - heart-rate is every 5-second sample of the tracker, none while off
//     the wrist.
//   - heart-rate-variability and oxygen-saturation are one sample a night,
//     at the end of the main sleep, with the night's RMSSD and average SpO2
//     (ASSUMED: the simulator keeps no finer grain of them; the daily-*
//     types carry the night's summary).
//   - weight and body-fat are the person's weighings on the Aria scale;
//     height is one sample, taken when the account was created (Fitbit asked
//     for it then) and found by any list up to now, as Google keeps data
//     without a horizon.
//   - The daily types are one point per civil date: resting heart rate,
//     zone bounds (Fitbit's defaults for the age), the nightly measurements
//     and VO2 max (nightly.go).
//   - sleep is the person's sessions: interval from bedtime to wake-up,
//     the stages from the 30-second epochs merged into runs.
//
// Every point's offsets are the person's zone's at that instant, so civil
// times and civil filters are the person's wall clock. Minutes count once
// they have begun (the current minute too, as the simulated Fitbit counts
// it); samples and sessions once they have happened.

// generate returns the type's points with start in [lo, hi] that keep
// accepts, newest first, stopping after limit of them (all when
// negative); the first skip of them have no value (a later page's list
// does not render the pages before it).
func (s *Server) generate(user, typ string, lo, hi, now time.Time, keep func(point) bool, skip, limit int) []point {
	p := s.person(user)
	var out []point
	// emit adds the point at pt's times with value's value, rendered only
	// when the point is kept (a day holds 17,280 heart-rate samples), and
	// reports whether to go on.
	add := func(pt point, value func() map[string]any) bool {
		if !keep(pt) {
			return true
		}
		if len(out) >= skip {
			pt.value = value()
		}
		out = append(out, pt)
		return limit < 0 || len(out) < limit
	}
	emit := func(pt point, value func() map[string]any) bool {
		return pt.start.Before(lo) || pt.start.After(hi) || add(pt, value)
	}
	// days calls f for the person's local days holding [lo, hi], newest
	// first, until f reports false.
	days := func(f func(d time.Time) bool) {
		for d := p.DayOf(minTime(hi, now)); !d.Before(p.DayOf(lo)); d = d.AddDate(0, 0, -1) {
			if !f(d) {
				return
			}
		}
	}
	switch typ {
	case "steps", "distance", "floors", "altitude", "active-energy-burned", "active-minutes", "active-zone-minutes":
		value := minuteValues[typ]
		days(func(day time.Time) bool {
			d := s.personDay(p, day)
			for i := person.MinutesPerDay - 1; i >= 0; i-- {
				at := d.at[i]
				if at.After(now) || d.a.Minutes[i].Skipped {
					continue
				}
				if v := value(d, i); v != nil {
					end := at.Add(time.Minute)
					pt := point{start: at, end: end, startOff: offset(p, at), endOff: offset(p, end)}
					if !emit(pt, func() map[string]any {
						v["interval"] = interval(at, end, pt.startOff, pt.endOff)
						return v
					}) {
						return false
					}
				}
			}
			return true
		})
	case "activity-level", "time-in-heart-rate-zone":
		days(func(day time.Time) bool {
			runs := s.runs(p, day, typ, now)
			for i := len(runs) - 1; i >= 0; i-- {
				if !emit(runs[i], func() map[string]any { return runs[i].value }) {
					return false
				}
			}
			return true
		})
	case "heart-rate":
		days(func(day time.Time) bool {
			d := s.personDay(p, day)
			h := d.heart()
			for i := person.MinutesPerDay - 1; i >= 0; i-- {
				for j := person.SamplesPerMinute - 1; j >= 0; j-- {
					bpm := h.Samples[i*person.SamplesPerMinute+j]
					t := d.at[i].Add(time.Duration(j) * person.SampleInterval)
					if bpm == 0 || t.After(now) {
						continue
					}
					off := offset(p, t)
					if !emit(point{start: t, end: t, startOff: off, endOff: off}, func() map[string]any {
						return map[string]any{"sampleTime": sampleTime(t, off), "beatsPerMinute": i64(int(bpm))}
					}) {
						return false
					}
				}
			}
			return true
		})
	case "heart-rate-variability", "oxygen-saturation":
		days(func(day time.Time) bool {
			n, ok := p.Nightly(day)
			for _, sl := range p.Sleeps(day) {
				t := sl.End()
				if !ok || !sl.IsMain || t.After(now) {
					continue
				}
				off := offset(p, t)
				if !emit(point{start: t, end: t, startOff: off, endOff: off}, func() map[string]any {
					if typ == "oxygen-saturation" {
						return map[string]any{"sampleTime": sampleTime(t, off), "percentage": n.SpO2Avg}
					}
					return map[string]any{"sampleTime": sampleTime(t, off), "rootMeanSquareOfSuccessiveDifferencesMilliseconds": n.DailyRMSSD}
				}) {
					return false
				}
			}
			return true
		})
	case "weight", "body-fat":
		days(func(day time.Time) bool {
			logs := p.Weighings(day)
			for i := len(logs) - 1; i >= 0; i-- {
				w := logs[i]
				if w.Time.After(now) || typ == "body-fat" && !w.HasFat {
					continue
				}
				off := offset(p, w.Time)
				if !emit(point{start: w.Time, end: w.Time, startOff: off, endOff: off}, func() map[string]any {
					if typ == "body-fat" {
						return map[string]any{"sampleTime": sampleTime(w.Time, off), "percentage": w.FatPct}
					}
					// Grams from the log's 0.1 kg, rounded so that no float
					// noise (70.1 × 1000) reaches the answer.
					return map[string]any{"sampleTime": sampleTime(w.Time, off), "weightGrams": math.Round(w.KG * 1000)}
				}) {
					return false
				}
			}
			return true
		})
	case "height":
		t := p.At(p.DayOf(time.Date(p.Profile.MemberSince.Year(), p.Profile.MemberSince.Month(), p.Profile.MemberSince.Day(), 12, 0, 0, 0, p.Location())), 8*60)
		if !t.After(now) && !t.After(hi) && keep(point{start: t, end: t, startOff: offset(p, t), endOff: offset(p, t)}) {
			off := offset(p, t)
			out = append(out, point{start: t, end: t, startOff: off, endOff: off, value: map[string]any{"sampleTime": sampleTime(t, off), "heightMillimeters": i64(p.Profile.HeightMM)}})
		}
	case "daily-resting-heart-rate", "daily-heart-rate-zones", "daily-oxygen-saturation", "daily-heart-rate-variability",
		"daily-respiratory-rate", "daily-sleep-temperature-derivations", "daily-vo2-max":
		// A point's time is its civil date at UTC midnight (a date
		// filter's literal); a date is served once it has begun for the
		// person, which east of UTC is a day ahead of UTC's.
		for d := hi.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1); !d.Before(lo.UTC().Truncate(24 * time.Hour)); d = d.AddDate(0, 0, -1) {
			local, err := p.Day(d.Format(time.DateOnly))
			if err != nil || local.After(now) {
				continue
			}
			v, ok := s.dailyValue(p, user, typ, d, local)
			if ok && !add(point{start: d, end: d}, func() map[string]any { return v }) {
				break
			}
		}
	case "sleep":
		// A day's sleep ends on it and began the evening before: one day
		// more than [lo, hi] holds the sessions starting in it.
		days(func(day time.Time) bool {
			for _, d := range []time.Time{day.AddDate(0, 0, 1), day} {
				sl := p.Sleeps(d)
				for i := len(sl) - 1; i >= 0; i-- {
					if sl[i].End().After(now) || !p.DayOf(sl[i].Start).Equal(day) {
						continue
					}
					start, end := sl[i].Start, sl[i].End()
					if !emit(point{start: start, end: end, startOff: offset(p, start), endOff: offset(p, end)}, func() map[string]any { return sleepValue(p, sl[i]) }) {
						return false
					}
				}
			}
			return true
		})
	case "exercise": // exercise.go
		for _, pt := range exercisePoints(s.personKey(user), lo, hi, now) {
			if !emit(pt, func() map[string]any { return pt.value }) {
				break
			}
		}
	}
	return out
}

// minuteValues are the per-minute types' point values, nil for a minute
// without one.
var minuteValues = map[string]func(d *personDay, i int) map[string]any{
	"steps": func(d *personDay, i int) map[string]any {
		return nonZero(d.a.Minutes[i].Steps, "count")
	},
	"distance": func(d *personDay, i int) map[string]any {
		return nonZero(d.a.Minutes[i].DistanceMM, "millimeters")
	},
	"floors": func(d *personDay, i int) map[string]any {
		return nonZero(d.a.Minutes[i].Floors, "count")
	},
	"altitude": func(d *personDay, i int) map[string]any {
		return nonZero(d.a.Minutes[i].ElevationMM, "gainMillimeters")
	},
	"active-energy-burned": func(d *personDay, i int) map[string]any {
		if mc := d.a.Minutes[i].ActMilliCal; mc > 0 {
			return map[string]any{"kcal": float64(mc) / 1000}
		}
		return nil
	},
	"active-minutes": func(d *personDay, i int) map[string]any {
		if l := activeLevels[d.a.Minutes[i].Level]; l != "" {
			return map[string]any{"activeMinutesByActivityLevel": []map[string]any{{"activityLevel": l, "activeMinutes": "1"}}}
		}
		return nil
	},
	"active-zone-minutes": func(d *personDay, i int) map[string]any {
		if z := minuteZone(d, i); z > 0 {
			return map[string]any{"heartRateZone": azmZones[z], "activeZoneMinutes": i64(azmCredit[z])}
		}
		return nil
	},
}

func nonZero(n int, field string) map[string]any {
	if n == 0 {
		return nil
	}
	return map[string]any{field: i64(n)}
}

// activeLevels are Google's active-minutes levels of the person's levels
// (sedentary minutes are not active).
var activeLevels = [4]string{person.LightlyActive: "LIGHT", person.FairlyActive: "MODERATE", person.VeryActive: "VIGOROUS"}

// activityLevels are Google's activity-level types of the person's levels.
var activityLevels = [4]string{"SEDENTARY", "LIGHTLY_ACTIVE", "MODERATELY_ACTIVE", "VERY_ACTIVE"}

// The active-zone-minutes zone and credit of the person's zones (Out of
// Range earns none).
var (
	azmZones  = [4]string{"", "FAT_BURN", "CARDIO", "PEAK"}
	azmCredit = [4]int{0, 1, 2, 2}
)

// minuteZone is the zone (0..3) of minute i's average heart rate, -1
// without one (off the wrist), as person.Heart.ZonesIn counts it.
func minuteZone(d *personDay, i int) int {
	h := d.heart()
	bpm, ok := h.MinuteAverage(i)
	if !ok {
		return -1
	}
	for z, zone := range h.Zones {
		if bpm >= zone.Min && bpm < zone.Max {
			return z
		}
	}
	return -1
}

// runs are the day's activity-level or time-in-heart-rate-zone points,
// oldest first: consecutive minutes (by the clock: a daylight-saving jump
// ends a run) with one label, up to the minute in progress.
func (s *Server) runs(p *person.Person, day time.Time, typ string, now time.Time) []point {
	d := s.personDay(p, day)
	label := func(i int) (string, bool) {
		if typ == "activity-level" {
			m := d.a.Minutes[i]
			return activityLevels[m.Level], !m.InBed && !m.Skipped
		}
		z := minuteZone(d, i)
		return zoneTypes[max(z, 0)], z >= 0
	}
	var out []point
	for i := 0; i < person.MinutesPerDay; {
		l, ok := label(i)
		if !ok || d.at[i].After(now) {
			i++
			continue
		}
		j := i + 1
		for ; j < person.MinutesPerDay && !d.at[j].After(now) && d.at[j].Equal(d.at[j-1].Add(time.Minute)); j++ {
			if l2, ok2 := label(j); !ok2 || l2 != l {
				break
			}
		}
		start, end := d.at[i], d.at[j-1].Add(time.Minute)
		field := "activityLevelType"
		if typ == "time-in-heart-rate-zone" {
			field = "heartRateZoneType"
		}
		so, eo := offset(p, start), offset(p, end)
		out = append(out, point{start: start, end: end, startOff: so, endOff: eo,
			value: map[string]any{"interval": interval(start, end, so, eo), field: l}})
		i = j
	}
	return out
}

// sleepStages are Google's stage types of the person's stages.
var sleepStages = [...]string{person.Wake: "AWAKE", person.Light: "LIGHT", person.Deep: "DEEP", person.REM: "REM"}

// sleepValue is a session as Google's Sleep: its interval, the stages as
// runs of the 30-second epochs, and the summary of the same numbers
// Fitbit's record gives (minutes in bed, asleep and awake; per stage its
// whole minutes and count of runs).
func sleepValue(p *person.Person, sl person.Sleep) map[string]any {
	start, end := sl.Start, sl.End()
	var stages []map[string]any
	count := map[person.Stage]int{}
	for _, r := range sl.Runs() {
		re := r.Start.Add(time.Duration(r.Seconds) * time.Second)
		stages = append(stages, map[string]any{"startTime": timestamp(r.Start), "startUtcOffset": seconds(offset(p, r.Start)),
			"endTime": timestamp(re), "endUtcOffset": seconds(offset(p, re)), "type": sleepStages[r.Stage]})
		count[r.Stage]++
	}
	var summary []map[string]any
	for _, st := range []person.Stage{person.Wake, person.Light, person.Deep, person.REM} {
		summary = append(summary, map[string]any{"type": sleepStages[st], "minutes": i64(sl.Seconds(st) / 60), "count": i64(count[st])})
	}
	return map[string]any{
		"interval": interval(start, end, offset(p, start), offset(p, end)),
		"type":     "STAGES",
		"stages":   stages,
		"metadata": map[string]any{"mainSleep": sl.IsMain, "nap": false, "processed": true, "stagesStatus": "SUCCEEDED"},
		"summary": map[string]any{
			"minutesInSleepPeriod": i64(sl.TimeInBedMinutes()),
			"minutesAsleep":        i64(sl.AsleepMinutes()),
			"minutesAwake":         i64(sl.AwakeMinutes()),
			"minutesToFallAsleep":  "0",
			"minutesAfterWakeUp":   "0",
			"stagesSummary":        summary,
		},
	}
}
