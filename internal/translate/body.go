package translate

import (
	"context"
	"fmt"
	"sort"
	"time"

	health "google.golang.org/api/health/v4"
)

// bodyPageSize is Google's largest page for weight, body fat and height:
// three years of daily weigh-ins fit one page.
const bodyPageSize = 10000

// sample is one weight, body-fat or height data point at its local time.
type sample struct {
	name  string
	at    time.Time // local civil time (in a UTC time.Time)
	value float64   // grams, percent or millimetres
	src   *health.DataSource
}

// sampleLocal is a sample time as the user's clock showed it: Google's civil
// time when given, else the physical time at its offset.
func sampleLocal(st *health.ObservationSampleTime) (time.Time, bool) {
	if st == nil {
		return time.Time{}, false
	}
	if c := st.CivilTime; c != nil && c.Date != nil {
		t := time.Date(int(c.Date.Year), time.Month(c.Date.Month), int(c.Date.Day), 0, 0, 0, 0, time.UTC)
		if tm := c.Time; tm != nil {
			t = t.Add(time.Duration(tm.Hours)*time.Hour + time.Duration(tm.Minutes)*time.Minute + time.Duration(tm.Seconds)*time.Second)
		}
		return t, true
	}
	return localTime(st.PhysicalTime, st.UtcOffset)
}

// bodySamples lists the type's samples matching filter, oldest first; one
// page only for a pageSize of 1.
func (e *Engine) bodySamples(ctx context.Context, c *calls, dataType, filter string, pageSize int64) ([]sample, error) {
	pages := -1
	if pageSize == 1 {
		pages = 1
	}
	pts, err := e.list(ctx, c, dataType, filter, pageSize, pages)
	if err != nil {
		return nil, err
	}
	var out []sample
	for _, p := range pts {
		var st *health.ObservationSampleTime
		var v float64
		switch {
		case p.Weight != nil:
			st, v = p.Weight.SampleTime, p.Weight.WeightGrams
		case p.BodyFat != nil:
			st, v = p.BodyFat.SampleTime, p.BodyFat.Percentage
		case p.Height != nil:
			st, v = p.Height.SampleTime, float64(p.Height.HeightMillimeters)
		default:
			continue
		}
		if t, ok := sampleLocal(st); ok {
			out = append(out, sample{p.Name, t, v, p.DataSource})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out, nil
}

// sampleFilter selects samples by local time on the days [start, end], or,
// with before set, the samples before start.
func sampleFilter(dataType string, start, end time.Time, before bool) string {
	field := snake(dataType) + ".sample_time.civil_time"
	if before {
		return fmt.Sprintf(`%s < %q`, field, start.Format(dayLayout))
	}
	return dayFilter(field, start, end)
}

// latest is the newest sample before start (Google lists newest first, so a
// page of one), or nil.
func (e *Engine) latest(ctx context.Context, c *calls, dataType string, start time.Time) (*sample, error) {
	s, err := e.bodySamples(ctx, c, dataType, sampleFilter(dataType, start, start, true), 1)
	if err != nil || len(s) == 0 {
		return nil, err
	}
	return &s[len(s)-1], nil
}

// bmi is weight / height² (kg/m²), one decimal as Fitbit showed it; 0
// without a height.
func bmi(grams float64, height *sample) float64 {
	if height == nil || height.value <= 0 {
		return 0
	}
	m := height.value / 1000
	return round(grams/1000/(m*m), 1)
}

// source is Fitbit's log source: Aria for a scale, API for data written
// through a web API, Web for other manual entries.
func source(ds *health.DataSource) string {
	switch {
	case ds == nil:
		return "API"
	case ds.Device != nil && ds.Device.FormFactor == "SCALE":
		return "Aria"
	case ds.Platform == "GOOGLE_WEB_API" || ds.Platform == "FITBIT_WEB_API":
		return "API"
	}
	return "Web"
}

// bodyLog answers the weight or body-fat logs of the days asked for. Weight
// logs join the body-fat sample taken at the same time, and the bmi from the
// newest height up to the range's end.
func (e *Engine) bodyLog(ctx context.Context, c *calls, r *Request, units UnitSystem) (any, error) {
	start, end, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	fats, err := e.bodySamples(ctx, c, "body-fat", sampleFilter("body-fat", start, end, false), bodyPageSize)
	if err != nil {
		return nil, err
	}
	logs := []map[string]any{}
	if r.Endpoint == FatLog {
		for _, f := range fats {
			logs = append(logs, logEntry(f, map[string]any{"fat": round(f.value, 2)}))
		}
		return map[string]any{"fat": logs}, nil
	}
	weights, err := e.bodySamples(ctx, c, "weight", sampleFilter("weight", start, end, false), bodyPageSize)
	if err != nil {
		return nil, err
	}
	height, err := e.latest(ctx, c, "height", end.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	fatAt := map[time.Time]float64{}
	for _, f := range fats {
		fatAt[f.at] = f.value
	}
	for _, w := range weights {
		v := map[string]any{"weight": units.Weight(w.value), "bmi": bmi(w.value, height)}
		if f, ok := fatAt[w.at]; ok {
			v["fat"] = round(f, 2)
		}
		logs = append(logs, logEntry(w, v))
	}
	return map[string]any{"weight": logs}, nil
}

func logEntry(s sample, v map[string]any) map[string]any {
	v["logId"] = logID(s.name)
	v["date"] = s.at.Format(dayLayout)
	v["time"] = s.at.Format("15:04:05")
	v["source"] = source(s.src)
	return v
}

// bodySeries answers body-weight, body-fat or body-bmi: a value for every
// day, the day's last sample or, on days without one, the last before it
// (Fitbit carried the latest log forward); 0 before any. One list over the
// range and one for the sample before it; bmi adds the newest height.
func (e *Engine) bodySeries(ctx context.Context, c *calls, r *Request, units UnitSystem) (any, error) {
	start, end, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	dataType := "weight"
	if r.Resource == "fat" {
		dataType = "body-fat"
	}
	samples, err := e.bodySamples(ctx, c, dataType, sampleFilter(dataType, start, end, false), bodyPageSize)
	if err != nil {
		return nil, err
	}
	prev, err := e.latest(ctx, c, dataType, start)
	if err != nil {
		return nil, err
	}
	var height *sample
	if r.Resource == "bmi" {
		if height, err = e.latest(ctx, c, "height", end.AddDate(0, 0, 1)); err != nil {
			return nil, err
		}
	}
	byDay := map[string]float64{}
	for _, s := range samples { // oldest first: the day's last wins
		byDay[s.at.Format(dayLayout)] = s.value
	}
	last, have := 0.0, prev != nil
	if have {
		last = prev.value
	}
	series := []map[string]string{}
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		k := d.Format(dayLayout)
		if v, ok := byDay[k]; ok {
			last, have = v, true
		}
		value := 0.0
		if have {
			switch r.Resource {
			case "weight":
				value = units.Weight(last)
			case "fat":
				value = round(last, 2)
			case "bmi":
				value = bmi(last, height)
			}
		}
		series = append(series, map[string]string{"dateTime": k, "value": formatValue(value, 2)})
	}
	return map[string]any{"body-" + r.Resource: series}, nil
}
