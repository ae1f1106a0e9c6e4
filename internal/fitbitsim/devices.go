package fitbitsim

import (
	"net/http"
	"slices"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// getDevices is /1/user/-/devices.json: the person's one tracker, its
// battery and last sync (person.LastSync), as googlesim's pairedDevices.
func (s *Server) getDevices(w http.ResponseWriter, r *apiRequest, _ []string) {
	p := personOf(r.user)
	d := p.Device()
	now := s.now()
	level := p.Battery(now)
	writeJSON(w, http.StatusOK, []map[string]any{{
		"battery":       person.BatteryStatus(level),
		"batteryLevel":  level,
		"deviceVersion": d.Version,
		"features":      []any{},
		"id":            d.ID,
		"lastSyncTime":  p.LastSync(now).In(p.Location()).Format(localLayout),
		"mac":           d.MAC,
		"type":          d.Type,
	}})
}

// exerciseJSON is one entry of the activity log list: a walk or run the
// tracker detected, with its average heart rate and minutes per zone (the
// day's zones, over the minutes of the bout), and the tracker as its source,
// as Fitbit's log entries have them
// (https://dev.fitbit.com/build/reference/web-api/activity/get-activity-log-list/).
func exerciseJSON(p *person.Person, a *person.Activity, h *person.Heart, e person.Exercise, u units) map[string]any {
	ms := int64(e.Minutes) * 60_000
	unit := "Kilometer"
	if u == unitsUS {
		unit = "Mile"
	}
	dev := p.Device()
	out := map[string]any{
		"activeDuration":    ms,
		"activityName":      e.Name,
		"activityTypeId":    e.ActivityTypeID,
		"calories":          kcal(e.MilliCal),
		"distance":          u.distance(e.DistanceMM),
		"distanceUnit":      unit,
		"duration":          ms,
		"logId":             e.Start.UnixMilli(),
		"logType":           "auto_detected",
		"originalDuration":  ms,
		"originalStartTime": e.Start.In(p.Location()).Format("2006-01-02T15:04:05.000-07:00"),
		"startTime":         e.Start.In(p.Location()).Format("2006-01-02T15:04:05.000-07:00"),
		"steps":             e.Steps,
		"source": map[string]any{"id": dev.ID, "name": dev.Version, "type": "tracker", "url": "https://www.fitbit.com/",
			"trackerFeatures": []string{"HEARTRATE", "DISTANCE", "CALORIES", "ELEVATION", "STEPS"}},
	}
	from, to := e.StartMinute, e.StartMinute+e.Minutes
	sum, n := 0, 0
	for _, s := range h.Samples[from*person.SamplesPerMinute : to*person.SamplesPerMinute] {
		if s != 0 {
			sum, n = sum+int(s), n+1
		}
	}
	if n > 0 {
		out["averageHeartRate"] = (sum + n/2) / n
		var zones []map[string]any
		for _, z := range h.ZonesIn(a, from, to) {
			zones = append(zones, map[string]any{"name": z.Name, "min": z.Min, "max": z.Max, "minutes": z.Minutes})
		}
		out["heartRateZones"] = zones
	}
	return out
}

// getActivityList is /1/user/-/activities/list.json, paged like Fitbit:
// beforeDate with sort=desc or afterDate with sort=asc, offset and limit.
func (s *Server) getActivityList(w http.ResponseWriter, r *apiRequest, _ []string) {
	u := unitsFor(r.Request)
	s.servePage(w, r, "activities", func(p *person.Person, d time.Time, desc bool) []map[string]any {
		a := p.Activity(d)
		if len(a.Exercises) == 0 {
			return nil
		}
		h := p.Heart(d)
		var out []map[string]any
		for _, e := range a.Exercises {
			if e.Start.Add(time.Duration(e.Minutes) * time.Minute).After(s.now()) {
				continue // not over yet: not logged
			}
			out = append(out, exerciseJSON(p, a, h, e, u))
		}
		if desc {
			slices.Reverse(out)
		}
		return out
	})
}

// getSleepList is /1.2/user/-/sleep/list.json, paged like the activity list.
func (s *Server) getSleepList(w http.ResponseWriter, r *apiRequest, _ []string) {
	s.servePage(w, r, "sleep", func(p *person.Person, d time.Time, _ bool) []map[string]any {
		var out []map[string]any
		for _, sl := range s.sleepsOf(p, d) {
			out = append(out, sleepRecord(p, d, sl))
		}
		return out
	})
}

// servePage answers a list endpoint: the items of the days the page walks,
// in the page's order, under key, with Fitbit's pagination object.
func (s *Server) servePage(w http.ResponseWriter, r *apiRequest, key string, items func(p *person.Person, d time.Time, desc bool) []map[string]any) {
	p := personOf(r.user)
	pp, ok := s.resolvePage(w, r.Request, p)
	if !ok {
		return
	}
	var all []map[string]any
	want := pp.offset + pp.limit + 1 // one more tells whether there is a next page
	for _, d := range pp.days(p, s.now()) {
		if all = append(all, items(p, d, pp.desc)...); len(all) >= want {
			break
		}
	}
	page := all[min(pp.offset, len(all)):min(pp.offset+pp.limit, len(all))]
	writeJSON(w, http.StatusOK, map[string]any{
		key:          append([]map[string]any{}, page...),
		"pagination": pagination(r.Request, pp, len(all) > pp.offset+pp.limit),
	})
}

// getSleepRange is /1.2/user/-/sleep/date/{start}/{end}.json (at most 100
// days), oldest first.
func (s *Server) getSleepRange(w http.ResponseWriter, r *apiRequest, m []string) {
	p, sp, ok := s.spanOf(w, r, m[2], m[3], nil, 100)
	if !ok {
		return
	}
	items := []map[string]any{}
	for _, d := range sp.days() {
		for _, sl := range s.sleepsOf(p, d) {
			items = append(items, sleepRecord(p, d, sl))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sleep": items})
}
