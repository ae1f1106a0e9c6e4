package fitbitsim

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// activityResources are the activity time series Fitbit serves
// (https://dev.fitbit.com/build/reference/web-api/activity-timeseries/),
// each a value of a sum of minutes in the unit system.
var activityResources = map[string]func(t person.Totals, u units) any{
	"steps":                func(t person.Totals, _ units) any { return t.Steps },
	"distance":             func(t person.Totals, u units) any { return u.distance(t.DistanceMM) },
	"floors":               func(t person.Totals, _ units) any { return t.Floors },
	"elevation":            func(t person.Totals, u units) any { return u.elevation(t.ElevationMM) },
	"calories":             func(t person.Totals, _ units) any { return kcal(t.MilliCal) },
	"caloriesBMR":          func(t person.Totals, _ units) any { return kcal(t.BMRMilliCal) },
	"activityCalories":     func(t person.Totals, _ units) any { return kcal(t.ActMilliCal) },
	"minutesSedentary":     func(t person.Totals, _ units) any { return t.Sedentary },
	"minutesLightlyActive": func(t person.Totals, _ units) any { return t.Lightly },
	"minutesFairlyActive":  func(t person.Totals, _ units) any { return t.Fairly },
	"minutesVeryActive":    func(t person.Totals, _ units) any { return t.Very },
}

// intradayResources are those with an intraday form.
var intradayResources = []string{"steps", "distance", "floors", "elevation", "calories"}

// seriesPeriods are the periods the activity and heart series take.
var seriesPeriods = []string{"1d", "7d", "30d", "1w", "1m", "3m", "6m", "1y"}

// Fitbit's documented range caps.
const (
	maxActivityRange = 1095
	maxHeartRange    = 366
)

// seriesKey is the answer's key: activities-steps, activities-tracker-steps.
func seriesKey(tracker, resource string) string {
	if tracker != "" {
		return "activities-tracker-" + resource
	}
	return "activities-" + resource
}

// getActivitySeries is /1/user/-/activities/[tracker/]{resource}/date/{date}/{period|end}.json.
func (s *Server) getActivitySeries(w http.ResponseWriter, r *apiRequest, m []string) {
	p, sp, ok := s.spanOf(w, r, m[4], m[5], seriesPeriods, maxActivityRange)
	if !ok {
		return
	}
	value, u := activityResources[m[3]], unitsFor(r.Request)
	out := []map[string]any{}
	for _, d := range sp.days() {
		out = append(out, map[string]any{"dateTime": d.Format(time.DateOnly), "value": str(value(p.Activity(d).Totals(), u))})
	}
	writeJSON(w, http.StatusOK, map[string]any{seriesKey(m[2], m[3]): out})
}

// activityDetail maps an activity intraday detail level to its minutes.
var activityDetail = map[string]int{"1min": 1, "5min": 5, "15min": 15}

// intradayAllowed answers 403 unless the app may read intraday data, which
// Fitbit grants to personal apps and on request.
func (s *Server) intradayAllowed(w http.ResponseWriter) bool {
	if !s.cfg.IntradayApproved && s.cfg.AppType != PersonalApp {
		apierror.Write(w, http.StatusForbidden, apierror.Item{
			ErrorType: apierror.InsufficientPermissions,
			Message:   "API client is not authorized by Fitbit to access the resource requested. " + visit,
		})
		return false
	}
	return true
}

// available is how many minutes of day have happened by now: data stops at
// the simulator's clock.
func (s *Server) available(p *person.Person, day time.Time) int {
	now := s.now()
	switch today := p.DayOf(now); {
	case day.Before(today):
		return person.MinutesPerDay
	case day.After(today):
		return 0
	}
	l := now.In(p.Location())
	return l.Hour()*60 + l.Minute() + 1 // the current minute has begun
}

// getActivityIntraday is …/[tracker/]{resource}/date/{date}/1d/{detail}[/time/{from}/{to}].json.
func (s *Server) getActivityIntraday(w http.ResponseWriter, r *apiRequest, m []string) {
	resource, detail := m[3], m[5]
	if !contains(intradayResources, resource) {
		validation(w, "resource", "Intraday data is not available for "+resource+".")
		return
	}
	step, ok := activityDetail[detail]
	if !ok {
		validation(w, "detail-level", "Invalid detail-level: "+detail+". Allowed values: 1min, 5min, 15min.")
		return
	}
	if !s.intradayAllowed(w) {
		return
	}
	p := personOf(r.user)
	day, ok := s.resolveDate(w, p, m[4])
	if !ok {
		return
	}
	from, to, ok := clockWindow(w, m[6], m[7])
	if !ok {
		return
	}
	a, u, value := p.Activity(day), unitsFor(r.Request), activityResources[resource]
	until := min(to+1, s.available(p, day))
	dataset := []map[string]any{}
	// Intervals are aligned to the clock; a window's first one starts at
	// the window.
	for i := from - from%step; i < until; i += step {
		end := min(i+step, until)
		t := a.Sum(i, end)
		pt := map[string]any{"time": fmt.Sprintf("%02d:%02d:00", i/60, i%60), "value": value(t, u)}
		if resource == "calories" {
			pt["value"] = round(float64(t.MilliCal)/1000, 1e4)
			level, bmr := person.Sedentary, 0
			for _, mm := range a.Minutes[i:end] {
				level, bmr = max(level, mm.Level), bmr+mm.BMRMilliCal
			}
			pt["level"] = int(level)
			pt["mets"] = 10
			if bmr > 0 { // METs ×10, as Fitbit sends them: energy over resting energy
				pt["mets"] = int(float64(t.MilliCal)/float64(bmr)*10 + 0.5)
			}
		}
		dataset = append(dataset, pt)
	}
	total := a.Sum(from, until)
	key := seriesKey(m[2], resource)
	writeJSON(w, http.StatusOK, map[string]any{
		key: []map[string]any{{"dateTime": day.Format(time.DateOnly), "value": str(value(total, u))}},
		key + "-intraday": map[string]any{
			"dataset": dataset, "datasetInterval": step, "datasetType": "minute",
		},
	})
}

// getHeartSeries is /1/user/-/activities/heart/date/{date}/{period|end}.json.
func (s *Server) getHeartSeries(w http.ResponseWriter, r *apiRequest, m []string) {
	p, sp, ok := s.spanOf(w, r, m[2], m[3], seriesPeriods, maxHeartRange)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, d := range sp.days() {
		out = append(out, heartDay(p, d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"activities-heart": out})
}

// heartDetail maps a detail level to the intraday dataset's interval and
// type. 1sec gives every sample the tracker took (every 5 s).
var heartDetail = map[string]struct {
	interval int
	typ      string
	minutes  int // 0: every sample
}{
	"1sec":  {1, "second", 0},
	"1min":  {1, "minute", 1},
	"5min":  {5, "minute", 5},
	"15min": {15, "minute", 15},
}

// getHeartIntraday is …/heart/date/{date}/1d/{detail}[/time/{from}/{to}].json.
// Times when the tracker was off the wrist have no points, as on Fitbit.
func (s *Server) getHeartIntraday(w http.ResponseWriter, r *apiRequest, m []string) {
	p := personOf(r.user)
	day, ok := s.resolveDate(w, p, m[2])
	if !ok {
		return
	}
	level := m[3]
	d, ok := heartDetail[level]
	if !ok {
		apierror.Write(w, http.StatusBadRequest, apierror.Item{
			ErrorType: "validation", FieldName: "detail-level",
			Message: "Invalid detail-level: " + level + ". Allowed values: 1sec, 1min, 5min, 15min."})
		return
	}
	if !s.intradayAllowed(w) {
		return
	}
	from, to, ok := clockWindow(w, m[4], m[5])
	if !ok {
		return
	}
	h := p.Heart(day)
	until := min(to+1, s.available(p, day))
	dataset := []map[string]any{}
	if d.minutes == 0 {
		for i := from * person.SamplesPerMinute; i < until*person.SamplesPerMinute; i++ {
			if bpm := h.Samples[i]; bpm != 0 {
				sec := i * int(person.SampleInterval/time.Second)
				dataset = append(dataset, map[string]any{"time": fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60), "value": int(bpm)})
			}
		}
	} else {
		for i := from - from%d.minutes; i < until; i += d.minutes {
			sum, n := 0, 0
			for _, bpm := range h.Samples[i*person.SamplesPerMinute : min(i+d.minutes, until)*person.SamplesPerMinute] {
				if bpm != 0 {
					sum, n = sum+int(bpm), n+1
				}
			}
			if n > 0 {
				dataset = append(dataset, map[string]any{"time": fmt.Sprintf("%02d:%02d:00", i/60, i%60), "value": (sum + n/2) / n})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"activities-heart": []map[string]any{heartDay(p, day)},
		"activities-heart-intraday": map[string]any{
			"dataset": dataset, "datasetInterval": d.interval, "datasetType": d.typ,
		},
	})
}
