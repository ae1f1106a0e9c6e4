package translate

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Endpoint is a Fitbit v1 endpoint the package translates.
type Endpoint int

// The translated endpoints (https://dev.fitbit.com/build/reference/web-api/).
const (
	Profile Endpoint = iota + 1
	DailySummary
	ActivityTimeSeries
	ActivityIntraday
	HeartTimeSeries
	HeartIntraday
	SleepByDate
	SleepRange
	SleepList
	WeightLog
	FatLog
	BodyTimeSeries
	SpO2
	HRV
	BreathingRate
	SkinTemperature
	CardioFitness
	Devices
	ExerciseList
	WeightCreate
	WeightDelete
	FatCreate
	FatDelete
	SleepV1ByDate
)

var endpointNames = map[Endpoint]string{
	Profile: "profile", DailySummary: "daily activity summary", ActivityTimeSeries: "activity time series",
	ActivityIntraday: "activity intraday", HeartTimeSeries: "heart rate time series", HeartIntraday: "heart rate intraday",
	SleepByDate: "sleep by date", SleepRange: "sleep by date range", SleepList: "sleep list",
	WeightLog: "weight log", FatLog: "body fat log", BodyTimeSeries: "body time series",
	SpO2: "SpO2 summary", HRV: "HRV summary", BreathingRate: "breathing rate summary",
	SkinTemperature: "skin temperature summary", CardioFitness: "cardio fitness score", Devices: "devices",
	ExerciseList: "activity log list", WeightCreate: "create weight log", WeightDelete: "delete weight log",
	FatCreate: "create body fat log", FatDelete: "delete body fat log", SleepV1ByDate: "sleep v1 by date",
}

func (e Endpoint) String() string {
	if n, ok := endpointNames[e]; ok {
		return n
	}
	return "unknown"
}

// Request is a parsed, checked Fitbit v1 request.
type Request struct {
	Endpoint Endpoint
	// User is "-" or the Fitbit user id in the path; the caller checks an id
	// against the connection's Google legacyUserId.
	User string
	// Resource is the time-series resource ("steps", "weight", …) without the
	// tracker/ prefix, which sets Tracker.
	Resource string
	Tracker  bool
	// Start and End are the days asked for, inclusive. With a Period, End is
	// the path's date and Start follows from it (see Span).
	Start, End Date
	Period     Period
	// Ranged is true for the /date/{start}/{end} and period forms, whose
	// answers some endpoints shape differently from a single date's.
	Ranged bool
	// Detail is the intraday detail level (1sec, 1min, 5min, 15min); with
	// HasWindow, From and To are the /time/HH:mm/HH:mm window.
	Detail    string
	HasWindow bool
	From, To  Clock
	// List holds the paging query of the list endpoints.
	List ListQuery
	// The writes: the value in the user's unit system, the log's day and time,
	// or the log id to delete.
	Value float64
	Time  Clock
	LogID int64
}

// ListQuery is the query of Fitbit's list endpoints: exactly one of
// beforeDate and afterDate, a sort order matching it, an offset (0 but for
// the activity log list, whose next links page by offset) and a limit.
type ListQuery struct {
	Before bool      // beforeDate given, else afterDate
	At     time.Time // the date or date-time given, civil, in UTC
	Date   string    // the date or date-time as given, which pagination echoes
	Sort   string    // "asc" or "desc"
	Offset int
	Limit  int
}

// Fitbit's documented range limits, in days, inclusive of both ends.
const (
	maxActivityRangeDays = 1095
	maxHeartRangeDays    = 365
	maxSleepRangeDays    = 100
	maxBodyLogRangeDays  = 31
	maxBodySeriesDays    = 1095
	maxSummaryRangeDays  = 30
	maxListLimit         = 100
	maxPathLen           = 1024
)

// maxDays is the range limit of the request's endpoint; 1 for single days.
func (r *Request) maxDays() int {
	switch r.Endpoint {
	case ActivityTimeSeries:
		return maxActivityRangeDays
	case HeartTimeSeries:
		return maxHeartRangeDays
	case SleepRange:
		return maxSleepRangeDays
	case WeightLog, FatLog:
		return maxBodyLogRangeDays
	case BodyTimeSeries:
		return maxBodySeriesDays
	case SpO2, HRV, BreathingRate, SkinTemperature, CardioFitness:
		return maxSummaryRangeDays
	}
	return 1
}

// Span resolves the request's days in the user's time zone, and checks
// Fitbit's range limit, which Parse can only check when neither end is today.
func (r *Request) Span(now time.Time, loc *time.Location) (start, end time.Time, err error) {
	end = r.End.Resolve(now, loc)
	if r.Period != "" {
		start = r.Period.Start(end)
	} else {
		start = r.Start.Resolve(now, loc)
	}
	if err := checkRange(start, end, r.maxDays()); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return start, end, nil
}

func checkRange(start, end time.Time, max int) *Error {
	if end.Before(start) {
		return invalid("end-date", "the end date is before the start date")
	}
	if days := int(end.Sub(start).Hours()/24) + 1; days > max {
		return invalid("end-date", "the range is "+strconv.Itoa(days)+" days; Fitbit allows at most "+strconv.Itoa(max)+" for this endpoint")
	}
	return nil
}

// Activity time-series resources, and those that also have an intraday form.
var (
	activityResources = map[string]bool{
		"steps": true, "distance": true, "floors": true, "elevation": true, "calories": true,
		"caloriesBMR": true, "activityCalories": true, "minutesSedentary": true,
		"minutesLightlyActive": true, "minutesFairlyActive": true, "minutesVeryActive": true,
	}
	intradayResources = map[string]bool{"steps": true, "distance": true, "floors": true, "elevation": true, "calories": true}
	activityDetails   = map[string]bool{"1min": true, "5min": true, "15min": true}
	heartDetails      = map[string]bool{"1sec": true, "1min": true, "5min": true, "15min": true}
	bodyResources     = map[string]bool{"weight": true, "fat": true, "bmi": true}
	bodyLogPeriods    = map[Period]bool{"1d": true, "7d": true, "30d": true, "1w": true, "1m": true}
)

// Parse parses a Fitbit v1 request. Every refusal is an *Error: a malformed
// request is Fitbit's 400 validation error, and a path this package does not
// translate is a 404 not_available_from_successor naming Google's equivalent.
func Parse(method, path string, query url.Values) (*Request, error) {
	if len(path) > maxPathLen {
		return nil, invalid("path", "the path is too long")
	}
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, invalid("path", "the path must start with /")
	}
	version, rest, _ := strings.Cut(rest, "/")
	user, rest, ok := strings.Cut(strings.TrimPrefix(rest, "user/"), "/")
	if (version != "1" && version != "1.2") || !strings.HasPrefix(path, "/"+version+"/user/") || !ok {
		return nil, unknownPath(path)
	}
	if !validUser(user) {
		return nil, invalid("user-id", "the user id must be - or a Fitbit user id")
	}
	switch {
	case strings.HasSuffix(rest, ".xml"):
		return nil, &Error{Status: http.StatusBadRequest, Type: NotAvailable,
			Message: "only the .json form is translated; the .xml form is not supported"}
	case !strings.HasSuffix(rest, ".json"):
		return nil, invalid("path", "the path must end in .json")
	}
	seg := strings.Split(strings.TrimSuffix(rest, ".json"), "/")
	r := &Request{User: user}
	var err *Error
	switch {
	case version == "1.2":
		err = r.parseSleep(seg, query)
	case seg[0] == "sleep" && len(seg) == 3 && seg[1] == "date":
		// Sleep v1, by date only (ranges and lists came with v1.2).
		r.Endpoint = SleepV1ByDate
		err = r.dateOrRange(seg[1:], nil, false)
	case seg[0] == "profile" && len(seg) == 1:
		r.Endpoint = Profile
	case seg[0] == "devices" && len(seg) == 1:
		r.Endpoint = Devices
	case seg[0] == "activities":
		err = r.parseActivities(seg[1:], query)
	case seg[0] == "body":
		err = r.parseBody(method, seg[1:], query)
	case seg[0] == "spo2":
		err = r.parseSummary(SpO2, seg[1:])
	case seg[0] == "hrv":
		err = r.parseSummary(HRV, seg[1:])
	case seg[0] == "br":
		err = r.parseSummary(BreathingRate, seg[1:])
	case seg[0] == "cardioscore":
		err = r.parseSummary(CardioFitness, seg[1:])
	case seg[0] == "temp" && len(seg) > 1 && seg[1] == "skin":
		err = r.parseSummary(SkinTemperature, seg[2:])
	default:
		return nil, unknownPath(path)
	}
	if err != nil {
		if err.Type == NotAvailable && err.Message == "" {
			return nil, unknownPath(path)
		}
		return nil, err
	}
	if r.Endpoint == 0 {
		return nil, unknownPath(path)
	}
	if want := r.method(); method != want {
		return nil, &Error{Status: http.StatusMethodNotAllowed, Type: Validation, FieldName: "method",
			Message: "this endpoint takes " + want}
	}
	return r, nil
}

func (r *Request) method() string {
	switch r.Endpoint {
	case WeightCreate, FatCreate:
		return http.MethodPost
	case WeightDelete, FatDelete:
		return http.MethodDelete
	}
	return http.MethodGet
}

// validUser accepts "-" and Fitbit's encoded ids (six or more upper-case
// letters and digits; kept loose, as the caller compares with legacyUserId).
func validUser(u string) bool {
	if u == "-" {
		return true
	}
	if u == "" || len(u) > 32 {
		return false
	}
	for _, c := range u {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

var errUnknown = &Error{Type: NotAvailable} // a sentinel turned into unknownPath by Parse

// dateOrRange parses date/D, date/D/{period} or date/D/E (seg starts at
// "date"), with the periods allowed.
func (r *Request) dateOrRange(seg []string, allowed map[Period]bool, rangeOK bool) *Error {
	if len(seg) < 2 || len(seg) > 3 || seg[0] != "date" {
		return errUnknown
	}
	d, ok := parseDate(seg[1])
	if !ok {
		return invalid("date", "the date must be today or yyyy-MM-dd")
	}
	r.Start, r.End = d, d
	if len(seg) == 2 {
		return nil
	}
	r.Ranged = true
	if p := Period(seg[2]); allowed[p] {
		r.Period = p
		return nil
	}
	e, ok := parseDate(seg[2])
	if !ok || !rangeOK {
		return invalid("period", "the period must be one of "+periodList(allowed)+(map[bool]string{true: ", or an end date", false: ""})[rangeOK])
	}
	r.End = e
	if !d.Today && !e.Today {
		return checkRange(d.Day, e.Day, r.maxDays())
	}
	return nil
}

func periodList(allowed map[Period]bool) string {
	var out []string
	for _, p := range []Period{"1d", "7d", "30d", "1w", "1m", "3m", "6m", "1y"} {
		if allowed[p] {
			out = append(out, string(p))
		}
	}
	return strings.Join(out, ", ")
}

func (r *Request) parseActivities(seg []string, q url.Values) *Error {
	switch {
	case len(seg) == 0:
		return errUnknown
	case seg[0] == "date" && len(seg) == 2:
		r.Endpoint = DailySummary
		d, ok := parseDate(seg[1])
		if !ok {
			return invalid("date", "the date must be today or yyyy-MM-dd")
		}
		r.Start, r.End = d, d
		return nil
	case seg[0] == "list" && len(seg) == 1:
		r.Endpoint = ExerciseList
		return r.parseList(q, true)
	case seg[0] == "heart":
		return r.parseSeries(HeartTimeSeries, HeartIntraday, "heart", seg[1:], heartDetails)
	}
	if seg[0] == "tracker" {
		r.Tracker = true
		seg = seg[1:]
	}
	if len(seg) == 0 || !activityResources[seg[0]] {
		return errUnknown
	}
	details := activityDetails
	if r.Tracker || !intradayResources[seg[0]] {
		details = nil
	}
	return r.parseSeries(ActivityTimeSeries, ActivityIntraday, seg[0], seg[1:], details)
}

// parseSeries parses date/D/{period|E} and, where details is set, the
// intraday form date/D/1d/{detail}[/time/HH:mm/HH:mm].
func (r *Request) parseSeries(series, intraday Endpoint, resource string, seg []string, details map[string]bool) *Error {
	r.Resource = resource
	if len(seg) >= 4 && seg[0] == "date" && seg[2] == "1d" && details != nil {
		r.Endpoint = intraday
		d, ok := parseDate(seg[1])
		if !ok {
			return invalid("date", "the date must be today or yyyy-MM-dd")
		}
		r.Start, r.End = d, d
		if !details[seg[3]] {
			return invalid("detail-level", "the detail level must be one of "+detailList(details))
		}
		r.Detail = seg[3]
		switch len(seg) {
		case 4:
			return nil
		case 7:
			if seg[4] != "time" {
				return errUnknown
			}
			from, ok1 := parseClock(seg[5])
			to, ok2 := parseClock(seg[6])
			if !ok1 || !ok2 {
				return invalid("time", "the times must be HH:mm")
			}
			if to.minutes() < from.minutes() {
				return invalid("end-time", "the end time is before the start time")
			}
			r.HasWindow, r.From, r.To = true, from, to
			return nil
		}
		return errUnknown
	}
	r.Endpoint = series
	if len(seg) != 3 {
		return errUnknown // a series needs a period or an end date
	}
	return r.dateOrRange(seg, periods, true)
}

func detailList(details map[string]bool) string {
	var out []string
	for _, d := range []string{"1sec", "1min", "5min", "15min"} {
		if details[d] {
			out = append(out, d)
		}
	}
	return strings.Join(out, ", ")
}

func (r *Request) parseSleep(seg []string, q url.Values) *Error {
	if len(seg) < 2 || seg[0] != "sleep" {
		return errUnknown
	}
	if seg[1] == "list" && len(seg) == 2 {
		r.Endpoint = SleepList
		// Fitbit's sleep list takes yyyy-MM-ddTHH:mm:ss as well as a date.
		return r.parseList(q, true)
	}
	r.Endpoint = SleepByDate
	if len(seg) == 4 {
		r.Endpoint = SleepRange
	}
	return r.dateOrRange(seg[1:], nil, true)
}

func (r *Request) parseSummary(e Endpoint, seg []string) *Error {
	r.Endpoint = e
	return r.dateOrRange(seg, nil, true)
}

func (r *Request) parseBody(method string, seg []string, q url.Values) *Error {
	if len(seg) >= 2 && seg[0] == "log" && (seg[1] == "weight" || seg[1] == "fat") {
		weight := seg[1] == "weight"
		r.Resource = seg[1]
		switch {
		case len(seg) == 2 && method == http.MethodPost:
			r.Endpoint = map[bool]Endpoint{true: WeightCreate, false: FatCreate}[weight]
			return r.parseCreate(q)
		case len(seg) == 3 && method == http.MethodDelete:
			r.Endpoint = map[bool]Endpoint{true: WeightDelete, false: FatDelete}[weight]
			id, err := strconv.ParseInt(seg[2], 10, 64)
			if err != nil || id <= 0 {
				return invalid("log-id", "the log id must be a positive number")
			}
			r.LogID = id
			return nil
		case len(seg) >= 3 && seg[2] == "date":
			r.Endpoint = map[bool]Endpoint{true: WeightLog, false: FatLog}[weight]
			return r.dateOrRange(seg[2:], bodyLogPeriods, true)
		}
		return errUnknown
	}
	if len(seg) == 4 && bodyResources[seg[0]] {
		r.Endpoint, r.Resource = BodyTimeSeries, seg[0]
		return r.dateOrRange(seg[1:], periods, true)
	}
	return errUnknown
}

func (r *Request) parseCreate(q url.Values) *Error {
	field := r.Resource
	v, err := strconv.ParseFloat(q.Get(field), 64)
	if err != nil || v <= 0 || v > 1e4 {
		return invalid(field, "the "+field+" must be a positive number")
	}
	if field == "fat" && v >= 100 {
		return invalid(field, "the fat must be a percentage below 100")
	}
	r.Value = v
	d, ok := parseDate(q.Get("date"))
	if !ok {
		return invalid("date", "the date must be today or yyyy-MM-dd")
	}
	r.Start, r.End = d, d
	// Fitbit logs at the last second of the day when no time is given.
	r.Time = Clock{23, 59}
	if t := q.Get("time"); t != "" {
		hms, err := time.Parse("15:04:05", t)
		if err != nil {
			return invalid("time", "the time must be HH:mm:ss")
		}
		r.Time = Clock{hms.Hour(), hms.Minute()}
	}
	return nil
}

// parseList parses beforeDate/afterDate, sort, offset and limit.
// Fitbit's activity list accepts a date-time as well as a date.
func (r *Request) parseList(q url.Values, dateTimeOK bool) *Error {
	before, after := q.Get("beforeDate"), q.Get("afterDate")
	if (before == "") == (after == "") {
		return invalid("beforeDate", "exactly one of beforeDate and afterDate is required")
	}
	s, want := before, "desc"
	if after != "" {
		s, want = after, "asc"
	}
	r.List.Before = before != ""
	t, err := time.Parse(dayLayout, s)
	if err != nil && dateTimeOK {
		t, err = time.Parse("2006-01-02T15:04:05", s)
	}
	if err != nil {
		return invalid(map[bool]string{true: "beforeDate", false: "afterDate"}[r.List.Before], "the date must be yyyy-MM-dd")
	}
	r.List.At, r.List.Date = t, s
	if r.List.Sort = q.Get("sort"); r.List.Sort != want {
		return invalid("sort", "sort must be "+want+" with "+map[bool]string{true: "beforeDate", false: "afterDate"}[r.List.Before])
	}
	if o := q.Get("offset"); r.Endpoint == ExerciseList && o != "" {
		// Fitbit's activity log list pages by offset (its next link).
		if r.List.Offset, err = strconv.Atoi(o); err != nil || r.List.Offset < 0 {
			return invalid("offset", "offset must be a whole number, 0 or more")
		}
	} else if o != "" && o != "0" {
		return invalid("offset", "offset must be 0; page with the next link")
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > maxListLimit {
		return invalid("limit", "limit must be between 1 and "+strconv.Itoa(maxListLimit))
	}
	r.List.Limit = n
	return nil
}

// successors names the Google Health API equivalent of Fitbit areas this
// package does not translate, by the path's first segment after the user.
var successors = map[string]string{
	"foods":            "the nutrition and hydration-log data types",
	"friends":          "",
	"badges":           "",
	"apiSubscriptions": "",
	"subscriptions":    "the Google Health API webhooks",
	"ecg":              "",
	"irn":              "",
}

func unknownPath(path string) *Error {
	area := ""
	if _, rest, ok := strings.Cut(path, "/user/"); ok {
		if _, rest, ok = strings.Cut(rest, "/"); ok {
			area, _, _ = strings.Cut(rest, "/")
			area = strings.TrimSuffix(area, ".json")
		}
	}
	if strings.Contains(path, "active-zone-minutes") {
		return notAvailable("this Fitbit endpoint is not translated", "dailyRollUp of the active-zone-minutes data type")
	}
	return notAvailable("this Fitbit endpoint is not available from the Google Health API translation", successors[area])
}
