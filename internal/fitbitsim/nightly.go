package fitbitsim

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// The nightly summaries (SpO2, HRV, breathing rate, skin temperature) and
// cardio fitness, by date and by range of at most 30 days
// (https://dev.fitbit.com/build/reference/web-api/spo2/, …/heartrate-variability/,
// …/breathing-rate/, …/temperature/, …/cardio-fitness-score/). A night
// without measurements has no entry.
const maxNightlyRange = 30

// nightly renders one kind of summary.
type nightly struct {
	key   string // the answer's list key; "" for SpO2, whose answer is the entry itself
	value func(p *person.Person, day time.Time) (map[string]any, bool)
	extra map[string]any // fields beside dateTime and value
}

var nightlies = map[string]nightly{
	"spo2": {"", func(p *person.Person, d time.Time) (map[string]any, bool) {
		n, ok := p.Nightly(d)
		return map[string]any{"avg": n.SpO2Avg, "min": n.SpO2Min, "max": n.SpO2Max}, ok
	}, nil},
	"hrv": {"hrv", func(p *person.Person, d time.Time) (map[string]any, bool) {
		n, ok := p.Nightly(d)
		return map[string]any{"dailyRmssd": n.DailyRMSSD, "deepRmssd": n.DeepRMSSD}, ok
	}, nil},
	"br": {"br", func(p *person.Person, d time.Time) (map[string]any, bool) {
		n, ok := p.Nightly(d)
		return map[string]any{"breathingRate": n.BreathingRate}, ok
	}, nil},
	"temp/skin": {"tempSkin", func(p *person.Person, d time.Time) (map[string]any, bool) {
		n, ok := p.Nightly(d)
		return map[string]any{"nightlyRelative": n.SkinTempRelative}, ok
	}, map[string]any{"logType": "dedicated_temp_sensor"}},
	"cardioscore": {"cardioScore", func(p *person.Person, d time.Time) (map[string]any, bool) {
		return map[string]any{"vo2Max": vo2Text(p, d)}, true
	}, nil},
}

// vo2Text is Fitbit's cardio fitness value: a single number on days with a
// run (Fitbit estimates it from GPS runs), otherwise a range of 4 around
// the estimate.
func vo2Text(p *person.Person, d time.Time) string {
	v := p.VO2Max(d)
	for _, e := range p.Activity(d).Exercises {
		if e.Name == "Run" {
			return fmt.Sprintf("%.1f", v)
		}
	}
	lo := int(math.Floor(v)) - 2
	return fmt.Sprintf("%d-%d", lo, lo+4)
}

// getNightly is /1/user/-/{spo2|hrv|br|temp/skin|cardioscore}/date/{date}[/{end}].json.
func (s *Server) getNightly(w http.ResponseWriter, r *apiRequest, m []string) {
	n := nightlies[m[2]]
	p, sp, ok := s.spanOf(w, r, m[3], m[4], nil, maxNightlyRange)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, d := range sp.days() {
		v, ok := n.value(p, d)
		if !ok {
			continue
		}
		e := map[string]any{"dateTime": d.Format(time.DateOnly), "value": v}
		for k, x := range n.extra {
			e[k] = x
		}
		out = append(out, e)
	}
	switch {
	case n.key != "":
		writeJSON(w, http.StatusOK, map[string]any{n.key: out})
	case m[4] != "": // SpO2 by range is a bare list
		writeJSON(w, http.StatusOK, out)
	case len(out) == 0: // and an empty day is {}
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		writeJSON(w, http.StatusOK, out[0])
	}
}
