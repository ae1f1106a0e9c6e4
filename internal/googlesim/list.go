package googlesim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// filterClause is one comparison of an AIP-160 filter, e.g.
// steps.interval.start_time >= "2026-11-01T00:00:00Z".
type filterClause struct {
	field string
	op    string
	t     time.Time
}

var clauseRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|>|<|=)\s*"([^"]*)"\s*$`)
var andRE = regexp.MustCompile(`(?i)\s+AND\s+`)

// parseFilter accepts a conjunction of time/date comparisons. Field names
// are not checked (loosely, like a tolerant server); a field mentioning
// "end" compares the point's end time, any other its start (or sample)
// time. Values are RFC 3339 timestamps, civil date-times (UTC) or dates.
func parseFilter(f string) ([]filterClause, error) {
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	if len(f) > 2048 {
		return nil, fmt.Errorf("filter too long")
	}
	var out []filterClause
	for _, part := range andRE.Split(f, -1) {
		m := clauseRE.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("invalid filter expression: %q", truncate(strings.TrimSpace(part), 100))
		}
		t, err := parseFilterTime(m[3])
		if err != nil {
			return nil, fmt.Errorf("invalid time %q in filter", truncate(m[3], 40))
		}
		out = append(out, filterClause{field: m[1], op: m[2], t: t})
	}
	return out, nil
}

func parseFilterTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time")
}

func (c filterClause) match(p point) bool {
	t := p.start
	if strings.Contains(c.field, "end") {
		t = p.end
	}
	if strings.Contains(c.field, "civil") {
		t = t.Add(p.civilOffset(strings.Contains(c.field, "end")))
	}
	switch c.op {
	case ">=":
		return !t.Before(c.t)
	case ">":
		return t.After(c.t)
	case "<=":
		return !t.After(c.t)
	case "<":
		return t.Before(c.t)
	}
	return t.Equal(c.t)
}

// bounds narrows the generation window [lo, hi] by the clauses (with a
// day of slack for end-time comparisons of sessions and for civil times,
// which are up to 14 hours from the physical ones).
func bounds(clauses []filterClause, lo, hi time.Time) (time.Time, time.Time) {
	for _, c := range clauses {
		slack := time.Duration(0)
		if strings.Contains(c.field, "end") || strings.Contains(c.field, "civil") {
			slack = 24 * time.Hour
		}
		switch c.op {
		case ">=", ">":
			if t := c.t.Add(-slack); t.After(lo) {
				lo = t
			}
		case "<=", "<":
			if t := c.t.Add(slack); t.Before(hi) {
				hi = t
			}
		case "=":
			if t := c.t.Add(-slack); t.After(lo) {
				lo = t
			}
			if t := c.t.Add(slack); t.Before(hi) {
				hi = t
			}
		}
	}
	return lo, hi
}

// pageToken is the (opaque) position of the next page.
type pageToken struct {
	Offset int    `json:"o"`
	Query  string `json:"q"` // hash of data type and filter
}

func queryHash(typ, filter string) string {
	h := fnv.New64a()
	fmt.Fprint(h, typ, "\x00", filter)
	return strconv.FormatUint(h.Sum64(), 36)
}

func encodePageToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string) (pageToken, bool) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 512 || json.Unmarshal(b, &t) != nil || t.Offset <= 0 {
		return t, false
	}
	return t, true
}

// pageSize reads the page size parameter: def when absent or 0, larger
// values coerced to max, as Google's list methods document; a bad one is
// answered 400 and reported false.
func pageSize(w http.ResponseWriter, r *http.Request, def, max int) (int, bool) {
	v := queryParam(r, "pageSize", "page_size")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		invalidArgument(w, "Invalid page_size: "+truncate(v, 20))
		return 0, false
	}
	if n == 0 {
		return def, true
	}
	return min(n, max), true
}

// pageOffset is where the request's page starts: 0 without a page token,
// or the token's offset when it was issued for the same query (AIP-158:
// the other parameters must match the call that returned the token);
// ok=false for any other token.
func pageOffset(r *http.Request, what, filter string) (offset int, ok bool) {
	v := queryParam(r, "pageToken", "page_token")
	if v == "" {
		return 0, true
	}
	t, ok := decodePageToken(v)
	if !ok || t.Query != queryHash(what, filter) {
		return 0, false
	}
	return t.Offset, true
}

// page returns the items of the page of size from offset, and the token of
// the next page ("" on the last one).
func page[T any](items []T, offset, size int, what, filter string) ([]T, string) {
	if offset >= len(items) {
		return nil, ""
	}
	end := min(offset+size, len(items))
	next := ""
	if end < len(items) {
		next = encodePageToken(pageToken{Offset: end, Query: queryHash(what, filter)})
	}
	return items[offset:end], next
}

// queryParam reads a parameter given in camelCase or snake_case.
func queryParam(r *http.Request, camel, snake string) string {
	q := r.URL.Query()
	if v := q.Get(camel); v != "" {
		return v
	}
	return q.Get(snake)
}

// ListResponse is the body of a dataPoints list. Like every proto3 JSON
// answer, empty fields are omitted: no data is "{}".
type ListResponse struct {
	DataPoints    []map[string]any `json:"dataPoints,omitempty"`
	NextPageToken string           `json:"nextPageToken,omitempty"`
}

// listDataPoints is GET /v4/users/me/dataTypes/{type}/dataPoints.
func (s *Server) listDataPoints(w http.ResponseWriter, r *apiRequest, m []string) {
	s.queryDataPoints(w, r, m, false)
}

// queryDataPoints answers list or, with reconcile, reconcile: the same
// filter, points and paging (a page token is bound to its method), but
// the reconciled stream has ReconciledDataPoints, and the documented
// default page size of 1440.
func (s *Server) queryDataPoints(w http.ResponseWriter, r *apiRequest, m []string, reconcile bool) {
	typ := m[2]
	dt := dataTypes[typ]
	if !dt.listable {
		invalidArgument(w, "Data type "+typ+" can only be read with dailyRollUp or rollUp.")
		return
	}
	def, bound := defaultPageSize, typ
	if reconcile {
		def, bound = min(defaultReconcilePageSize, dt.maxPage), "reconcile "+typ
	}
	size, ok := pageSize(w, r.Request, def, dt.maxPage)
	if !ok {
		return
	}
	filter := queryParam(r.Request, "filter", "filter")
	clauses, err := parseFilter(filter)
	if err != nil {
		invalidArgument(w, "Invalid filter: "+err.Error())
		return
	}
	offset, ok := pageOffset(r.Request, bound, filter)
	if !ok {
		invalidArgument(w, "Invalid page token.")
		return
	}
	now := s.now().UTC()
	// A day ahead of the clock: east of UTC the person's date is ahead of
	// UTC's, and a daily point's time is its date; nothing is generated
	// past the clock.
	lo, hi := bounds(clauses, now.Add(-History), now.Add(24*time.Hour))
	matches := func(p point) bool {
		for _, c := range clauses {
			if !c.match(p) {
				return false
			}
		}
		return true
	}
	var pts []point
	if !hi.Before(lo) {
		// Generated points come newest first, as the answer lists them:
		// no more than the page and one more are needed, except where the
		// user's writes are merged in.
		skip, limit := offset, offset+size+1
		if slices.Contains(writableTypes, typ) {
			skip, limit = 0, -1
		}
		pts = s.generate(r.user, typ, lo, hi, now, matches, skip, limit)
	}
	all := s.written(r.user, typ, pts, matches)
	person := s.person(r.user)
	var resp ListResponse
	all, resp.NextPageToken = page(all, offset, size, bound, filter)
	for _, p := range all {
		dp := p.json(person, r.user, typ)
		if reconcile {
			dp = reconciled(typ, dp)
		}
		resp.DataPoints = append(resp.DataPoints, dp)
	}
	writeJSON(w, http.StatusOK, resp)
}

// CivilDate is google.type.Date.
type CivilDate struct {
	Year  int `json:"year"`
	Month int `json:"month"`
	Day   int `json:"day"`
}

// CivilTime is google.type.TimeOfDay.
type CivilTime struct {
	Hours   int `json:"hours,omitempty"`
	Minutes int `json:"minutes,omitempty"`
	Seconds int `json:"seconds,omitempty"`
	Nanos   int `json:"nanos,omitempty"`
}

// CivilDateTime is a civil (local) date and time.
type CivilDateTime struct {
	Date *CivilDate `json:"date,omitempty"`
	Time *CivilTime `json:"time,omitempty"`
}

// DailyRollUpRequest is the body of dataPoints:dailyRollUp. The range is
// closed-open: end is the first day not included.
type DailyRollUpRequest struct {
	Range struct {
		Start *CivilDateTime `json:"start"`
		End   *CivilDateTime `json:"end"`
	} `json:"range"`
	WindowSizeDays json.Number `json:"windowSizeDays,omitempty"`
	// The discovery document's DailyRollUpDataPointsRequest also has these;
	// they are accepted (unknown fields are rejected) and, as the
	// simulator has one data source and answers at most 90 windows at
	// once, not acted on.
	DataSourceFamily string      `json:"dataSourceFamily,omitempty"`
	PageSize         json.Number `json:"pageSize,omitempty"`
	PageToken        string      `json:"pageToken,omitempty"`
}

func (c *CivilDateTime) toTime() (time.Time, bool) {
	if c == nil || c.Date == nil {
		return time.Time{}, false
	}
	d := c.Date
	t := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
	if d.Year < 1 || d.Year > 9999 || t.Year() != d.Year || int(t.Month()) != d.Month || t.Day() != d.Day {
		return time.Time{}, false
	}
	if tm := c.Time; tm != nil {
		if tm.Hours < 0 || tm.Hours > 23 || tm.Minutes < 0 || tm.Minutes > 59 || tm.Seconds < 0 || tm.Seconds > 59 || tm.Nanos < 0 || tm.Nanos > 999999999 {
			return time.Time{}, false
		}
		t = t.Add(time.Duration(tm.Hours)*time.Hour + time.Duration(tm.Minutes)*time.Minute +
			time.Duration(tm.Seconds)*time.Second + time.Duration(tm.Nanos))
	}
	return t, true
}

func civilDateTimeJSON(t time.Time) civilJSON {
	out := civilJSON{Date: civilDate(t)}
	if h, m, s := t.Clock(); h != 0 || m != 0 || s != 0 {
		out.Time = &timeOfDayJSON{h, m, s}
	}
	return out
}

// Roll-up range caps, per health-api.json's RollUpDataPointsRequest and
// DailyRollUpDataPointsRequest: "The maximum range for
// `calories-in-heart-rate-zone`, `heart-rate`, `active-minutes` and
// `total-calories` is 14 days. The maximum range for all other data types
// is 90 days."
const (
	maxRollUpRange      = 90 * 24 * time.Hour
	maxShortRollUpRange = 14 * 24 * time.Hour
)

func maxRange(typ string) time.Duration {
	switch typ {
	case "calories-in-heart-rate-zone", "heart-rate", "active-minutes", "total-calories":
		return maxShortRollUpRange
	}
	return maxRollUpRange
}

// rollFunc computes one roll-up window's value of a data type from the
// window's minutes (rollups.go); nil when the window has no data.
type rollFunc = func(ms []minuteRef, now time.Time) map[string]any

// rollUpBody finds the path's data type's roll-up and decodes the request
// body into req, or answers 400 and reports false.
func rollUpBody(w http.ResponseWriter, r *apiRequest, m []string, req any) (string, rollFunc, bool) {
	typ := m[2]
	roll, ok := rollups[typ]
	if !ok {
		invalidArgument(w, "Data type "+typ+" does not support roll-ups.")
		return "", nil, false
	}
	return typ, roll, decodeBody(w, r.body, req)
}

// validRange reports whether [start, end) is a range typ may be rolled up
// over, or answers 400.
func validRange(w http.ResponseWriter, typ string, start, end time.Time) bool {
	switch {
	case !end.After(start):
		invalidArgument(w, "The range's end must be after its start.")
	case end.Sub(start) > maxRange(typ):
		invalidArgument(w, "The requested range is too large.")
	default:
		return true
	}
	return false
}

// intField reads an integer request field (an int32 is a JSON number, but
// a string is accepted too, as proto3 JSON allows): def when absent or 0,
// ok=false when negative, malformed or above max.
func intField(v json.Number, def, max int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(strings.Trim(string(v), `"`))
	switch {
	case err != nil || n < 0 || n > max:
		return 0, false
	case n == 0:
		return def, true
	}
	return n, true
}

// dailyRollUp is POST /v4/users/me/dataTypes/{type}/dataPoints:dailyRollUp.
func (s *Server) dailyRollUp(w http.ResponseWriter, r *apiRequest, m []string) {
	var req DailyRollUpRequest
	typ, roll, ok := rollUpBody(w, r, m, &req)
	if !ok {
		return
	}
	start, okStart := req.Range.Start.toTime()
	end, okEnd := req.Range.End.toTime()
	switch {
	case req.Range.Start == nil || req.Range.End == nil:
		invalidArgument(w, "range.start and range.end are required.")
		return
	case !okStart || !okEnd:
		invalidArgument(w, "range.start and range.end must be valid civil date-times.")
		return
	case !validRange(w, typ, start, end):
		return
	}
	window, ok := intField(req.WindowSizeDays, 1, 31)
	if !ok {
		invalidArgument(w, "Invalid window_size_days.")
		return
	}
	now := s.now().UTC()
	p := s.person(r.user)
	// The civil windows are the person's: a day is local midnight to
	// local midnight.
	physical := func(c time.Time) time.Time {
		return time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), p.Location())
	}
	var civil, windows []time.Time
	for ws := start; ws.Before(end); ws = ws.AddDate(0, 0, window) {
		civil = append(civil, ws)
		windows = append(windows, physical(ws))
	}
	civil, windows = append(civil, end), append(windows, physical(end))
	values := rollWindows(s.minutesIn(p, windows[0], windows[len(windows)-1], now), windows, roll, now)
	out := make([]map[string]any, len(values))
	for i, v := range values {
		out[i] = map[string]any{"civilStartTime": civilDateTimeJSON(civil[i]), "civilEndTime": civilDateTimeJSON(civil[i+1])}
		if v != nil {
			out[i][dataTypes[typ].field] = v
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rollupDataPoints": out})
}
