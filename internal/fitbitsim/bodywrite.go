package fitbitsim

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// bodyWrites are a user's changes to the person's weighings: logs created
// through the API (by local date) and the ids of deleted weight and fat
// logs. Fitbit keeps weight and fat as separate logs, so a weighing with
// both loses one half at a time.
type bodyWrites struct {
	added                     map[string][]person.WeightLog
	deletedWeight, deletedFat map[int64]bool
}

// weighings are the user's logs of day: the person's that have happened by
// now, less the deleted halves (KG 0 is no weight log, HasFat false no fat
// log), plus the created.
func (s *Server) weighings(user string, p *person.Person, day time.Time) []person.WeightLog {
	now := s.now()
	var happened []person.WeightLog
	for _, wl := range p.Weighings(day) {
		if !wl.Time.After(now) {
			happened = append(happened, wl)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.userLocked(user).body
	var out []person.WeightLog
	for _, wl := range append(happened, b.added[day.Format(time.DateOnly)]...) {
		if b.deletedWeight[wl.LogID] {
			wl.KG, wl.BMI = 0, 0
		}
		if b.deletedFat[wl.FatLog] {
			wl.HasFat = false
		}
		if wl.KG != 0 || wl.HasFat {
			out = append(out, wl)
		}
	}
	slices.SortStableFunc(out, func(a, b person.WeightLog) int { return a.Time.Compare(b.Time) })
	return out
}

// fromUnits converts a weight in the request's unit system to kg.
func (u units) fromUnits(v float64) float64 {
	switch u {
	case unitsUS:
		return v / 2.20462
	case unitsUK:
		return v * 6.35029
	}
	return v
}

// createBodyLog is POST /1/user/-/body/log/{weight|fat}.json with weight
// (in the Accept-Language unit system) or fat (%), date and optional time
// (Fitbit's default: the last second of the day).
func (s *Server) createBodyLog(w http.ResponseWriter, r *apiRequest, m []string) {
	form, ok := formOf(w, r)
	if !ok {
		return
	}
	kind := m[2]
	v, err := strconv.ParseFloat(form.Get(kind), 64)
	if err != nil || v <= 0 || kind == "fat" && v >= 100 {
		validation(w, kind, "Invalid "+kind+": "+form.Get(kind))
		return
	}
	p := personOf(r.user)
	day, err := p.Day(form.Get("date"))
	if err != nil {
		validation(w, "date", "Invalid date:"+form.Get("date"))
		return
	}
	clock := 24*60*60 - 1
	if tm := form.Get("time"); tm != "" {
		t, err := time.Parse(time.TimeOnly, tm)
		if err != nil {
			validation(w, "time", "Invalid time: "+tm+". Expected HH:mm:ss.")
			return
		}
		clock = t.Hour()*3600 + t.Minute()*60 + t.Second()
	}
	at := p.At(day, 0).Add(time.Duration(clock) * time.Second)
	wl := person.WeightLog{LogID: at.UnixMilli(), Time: at, Source: "API"}
	u := unitsFor(r.Request)
	if kind == "weight" {
		wl.KG = round(u.fromUnits(v), 1000)
		hm := float64(p.Profile.HeightMM) / 1000
		wl.BMI = wl.KG / (hm * hm)
	} else {
		wl.LogID, wl.FatLog, wl.FatPct, wl.HasFat = 0, at.UnixMilli(), v, true
	}
	s.mu.Lock()
	b := &s.userLocked(r.user).body
	if b.added == nil {
		b.added = map[string][]person.WeightLog{}
	}
	b.added[day.Format(time.DateOnly)] = append(b.added[day.Format(time.DateOnly)], wl)
	s.mu.Unlock()
	if kind == "weight" {
		writeJSON(w, http.StatusCreated, map[string]any{"weightLog": weightLogJSON(p, wl, u)})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"fatLog": fatLogJSON(p, wl)})
}

// deleteBodyLog is DELETE /1/user/-/body/log/{weight|fat}/{logId}.json: 204,
// or 404 when the user has no such log. A log id is the log's time in Unix
// milliseconds, so it names the day to look in.
func (s *Server) deleteBodyLog(w http.ResponseWriter, r *apiRequest, m []string) {
	id, err := strconv.ParseInt(m[3], 10, 64)
	if err != nil {
		validation(w, "logId", "Invalid logId: "+m[3])
		return
	}
	p := personOf(r.user)
	day := p.DayOf(time.UnixMilli(id))
	found := false
	for _, wl := range s.weighings(r.user, p, day) {
		found = found || m[2] == "weight" && wl.KG != 0 && wl.LogID == id || m[2] == "fat" && wl.HasFat && wl.FatLog == id
	}
	if !found {
		apierror.Write(w, http.StatusNotFound, apierror.Item{
			ErrorType: "not_found", FieldName: "logId", Message: "Log entry with id " + m[3] + " was not found."})
		return
	}
	s.mu.Lock()
	b := &s.userLocked(r.user).body
	if m[2] == "weight" {
		b.deletedWeight = setAdd(b.deletedWeight, id)
	} else {
		b.deletedFat = setAdd(b.deletedFat, id)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func setAdd(m map[int64]bool, id int64) map[int64]bool {
	if m == nil {
		m = map[int64]bool{}
	}
	m[id] = true
	return m
}
