package fitbitsim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// Dates in paths are the user's local days: "today" is today in the
// person's time zone, by the simulator's clock.

// resolveDate accepts yyyy-MM-dd or "today" and returns the local midnight.
func (s *Server) resolveDate(w http.ResponseWriter, p *person.Person, d string) (time.Time, bool) {
	if d == "today" {
		return p.DayOf(s.now()), true
	}
	t, err := p.Day(d)
	if err != nil {
		apierror.Write(w, http.StatusBadRequest, apierror.Item{
			ErrorType: "validation", FieldName: "date", Message: "Invalid date:" + d})
		return time.Time{}, false
	}
	return t, true
}

// periods are Fitbit's period path segments, as a step back from the end
// date (the start is the day after end minus the step).
var periods = map[string]struct{ y, m, d int }{
	"1d": {0, 0, 1}, "7d": {0, 0, 7}, "30d": {0, 0, 30}, "1w": {0, 0, 7},
	"1m": {0, 1, 0}, "3m": {0, 3, 0}, "6m": {0, 6, 0}, "1y": {1, 0, 0},
}

// span is the days a request covers, oldest first.
type span struct {
	from, to time.Time // local midnights, inclusive
}

func (sp span) days() []time.Time {
	var out []time.Time
	for d := sp.from; !d.After(sp.to); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// spanOf is the request's person and the span it asks for.
func (s *Server) spanOf(w http.ResponseWriter, r *apiRequest, date, second string, allowed []string, maxDays int) (*person.Person, span, bool) {
	p := personOf(r.user)
	sp, ok := s.resolveSpan(w, p, date, second, allowed, maxDays)
	return p, sp, ok
}

// resolveSpan reads a {date}/{period} or {start}/{end} pair, or a lone date
// (second empty). allowed lists
// the periods the endpoint takes (nil: none, a range only); maxDays caps a
// range.
func (s *Server) resolveSpan(w http.ResponseWriter, p *person.Person, date, second string, allowed []string, maxDays int) (span, bool) {
	first, ok := s.resolveDate(w, p, date)
	if !ok || second == "" {
		return span{first, first}, ok
	}
	if per, isPeriod := periods[second]; isPeriod || second == "max" {
		if !contains(allowed, second) {
			validation(w, "period", "Invalid period: "+second+".")
			return span{}, false
		}
		from := first.AddDate(-per.y, -per.m, -per.d).AddDate(0, 0, 1)
		if second == "max" {
			from = p.DayOf(p.Profile.MemberSince)
		}
		return span{from, first}, true
	}
	end, ok := s.resolveDate(w, p, second)
	if !ok {
		return span{}, false
	}
	if end.Before(first) {
		validation(w, "endDate", "The end date must not be before the start date.")
		return span{}, false
	}
	if n := daysBetween(first, end) + 1; maxDays > 0 && n > maxDays {
		validation(w, "endDate", fmt.Sprintf("The date range is %d days; at most %d are allowed.", n, maxDays))
		return span{}, false
	}
	return span{first, end}, true
}

// daysBetween counts calendar days, whatever daylight saving does to hours.
func daysBetween(a, b time.Time) int {
	ua := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	ub := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(ub.Sub(ua) / (24 * time.Hour))
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// clockWindow reads /time/HH:mm/HH:mm as minutes of the day, the end
// inclusive as Fitbit's is; no window is the whole day.
func clockWindow(w http.ResponseWriter, start, end string) (from, to int, ok bool) {
	if start == "" && end == "" {
		return 0, person.MinutesPerDay - 1, true
	}
	parse := func(field, v string) (int, bool) {
		t, err := time.Parse("15:04", v)
		if err != nil {
			validation(w, field, "Invalid time: "+v+". Expected HH:mm.")
			return 0, false
		}
		return t.Hour()*60 + t.Minute(), true
	}
	if from, ok = parse("startTime", start); !ok {
		return
	}
	if to, ok = parse("endTime", end); !ok {
		return
	}
	if to < from {
		validation(w, "endTime", "The end time must not be before the start time.")
		return 0, 0, false
	}
	return from, to, true
}

// pageParams are the list endpoints' paging parameters: beforeDate with
// sort=desc or afterDate with sort=asc, offset, limit (1..100).
type pageParams struct {
	before, after time.Time
	desc          bool
	offset, limit int
}

func (s *Server) resolvePage(w http.ResponseWriter, r *http.Request, p *person.Person) (pageParams, bool) {
	q := r.URL.Query()
	var pp pageParams
	var err error
	if pp.limit, err = strconv.Atoi(q.Get("limit")); err != nil || pp.limit < 1 || pp.limit > 100 {
		validation(w, "limit", "limit is required and must be between 1 and 100.")
		return pp, false
	}
	if o := q.Get("offset"); o != "" {
		if pp.offset, err = strconv.Atoi(o); err != nil || pp.offset < 0 {
			validation(w, "offset", "Invalid offset: "+o)
			return pp, false
		}
	}
	before, after, sort := q.Get("beforeDate"), q.Get("afterDate"), q.Get("sort")
	switch {
	case before != "" && after == "" && sort == "desc":
		pp.desc = true
		t, ok := s.resolveDate(w, p, before[:min(len(before), 10)])
		pp.before = t
		return pp, ok
	case after != "" && before == "" && sort == "asc":
		t, ok := s.resolveDate(w, p, after[:min(len(after), 10)])
		pp.after = t
		return pp, ok
	}
	validation(w, "sort", "Use beforeDate with sort=desc or afterDate with sort=asc.")
	return pp, false
}

// days is the days the page walks, in its order: from the day before
// beforeDate back to the day the person joined, or from afterDate (a date
// alone is its midnight) to today.
func (pp pageParams) days(p *person.Person, now time.Time) []time.Time {
	var out []time.Time
	if pp.desc {
		first := p.DayOf(p.Profile.MemberSince)
		for d := pp.before.AddDate(0, 0, -1); !d.Before(first); d = d.AddDate(0, 0, -1) {
			out = append(out, d)
		}
		return out
	}
	today := p.DayOf(now)
	for d := pp.after; !d.After(today); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// pagination is the list answers' pagination object; next links the
// following page, if there are more items.
func pagination(r *http.Request, pp pageParams, more bool) map[string]any {
	q := r.URL.Query()
	out := map[string]any{"limit": pp.limit, "offset": pp.offset, "sort": q.Get("sort"), "previous": "", "next": ""}
	if pp.desc {
		out["beforeDate"] = q.Get("beforeDate")
	} else {
		out["afterDate"] = q.Get("afterDate")
	}
	if more {
		q.Set("offset", strconv.Itoa(pp.offset+pp.limit))
		out["next"] = "https://api.fitbit.com" + r.URL.Path + "?" + q.Encode()
	}
	if pp.offset > 0 {
		q.Set("offset", strconv.Itoa(max(0, pp.offset-pp.limit)))
		out["previous"] = "https://api.fitbit.com" + r.URL.Path + "?" + q.Encode()
	}
	return out
}
