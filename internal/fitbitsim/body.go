package fitbitsim

import (
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// Body logs and series (https://dev.fitbit.com/build/reference/web-api/body/).
const (
	maxBodyLogRange    = 31
	maxBodySeriesRange = 1095
)

var (
	bodyLogPeriods    = []string{"1d", "7d", "30d", "1w", "1m"}
	bodySeriesPeriods = []string{"1d", "7d", "30d", "1w", "1m", "3m", "6m", "1y", "max"}
)

func weightLogJSON(p *person.Person, wl person.WeightLog, u units) map[string]any {
	t := wl.Time.In(p.Location())
	out := map[string]any{
		"bmi":    round2(wl.BMI),
		"date":   t.Format(time.DateOnly),
		"logId":  wl.LogID,
		"source": wl.Source,
		"time":   t.Format(time.TimeOnly),
		"weight": u.weight(wl.KG),
	}
	if wl.HasFat {
		out["fat"] = wl.FatPct
	}
	return out
}

func fatLogJSON(p *person.Person, wl person.WeightLog) map[string]any {
	t := wl.Time.In(p.Location())
	return map[string]any{
		"date": t.Format(time.DateOnly), "fat": wl.FatPct, "logId": wl.FatLog, "source": wl.Source, "time": t.Format(time.TimeOnly),
	}
}

// getBodyLogs is /1/user/-/body/log/{weight|fat}/date/{date}[/{period|end}].json.
func (s *Server) getBodyLogs(w http.ResponseWriter, r *apiRequest, m []string) {
	p, sp, ok := s.spanOf(w, r, m[3], m[4], bodyLogPeriods, maxBodyLogRange)
	if !ok {
		return
	}
	u := unitsFor(r.Request)
	out := []map[string]any{}
	for _, d := range sp.days() {
		for _, wl := range p.Weighings(d) {
			switch {
			case m[2] == "weight":
				out = append(out, weightLogJSON(p, wl, u))
			case wl.HasFat:
				out = append(out, fatLogJSON(p, wl))
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{m[2]: out})
}

// getBodySeries is /1/user/-/body/{weight|fat|bmi}/date/{date}/{period|end}.json.
// Like Fitbit, a day without a log carries the last logged value forward
// (looking back up to 30 days, before which the day's own weight is used).
func (s *Server) getBodySeries(w http.ResponseWriter, r *apiRequest, m []string) {
	p, sp, ok := s.spanOf(w, r, m[3], m[4], bodySeriesPeriods, maxBodySeriesRange)
	if !ok {
		return
	}
	u := unitsFor(r.Request)
	hm := float64(p.Profile.HeightMM) / 1000
	value := func(wl person.WeightLog) (float64, bool) {
		switch m[2] {
		case "weight":
			return u.weight(wl.KG), true
		case "bmi":
			return round2(wl.BMI), true
		}
		return wl.FatPct, wl.HasFat
	}
	last, have := 0.0, false
	for i := 1; i <= 30 && !have; i++ { // the value carried into the first day
		ws := p.Weighings(sp.from.AddDate(0, 0, -i))
		for j := len(ws) - 1; j >= 0 && !have; j-- {
			last, have = value(ws[j])
		}
	}
	out := []map[string]any{}
	for _, d := range sp.days() {
		for _, wl := range p.Weighings(d) {
			if v, ok := value(wl); ok {
				last, have = v, true
			}
		}
		if !have {
			kg := p.WeightKG(d)
			last, have = value(person.WeightLog{KG: kg, BMI: kg / (hm * hm)})
		}
		v := "0"
		if have {
			v = str(last)
		}
		out = append(out, map[string]any{"dateTime": d.Format(time.DateOnly), "value": v})
	}
	writeJSON(w, http.StatusOK, map[string]any{"body-" + m[2]: out})
}
