package translate

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	health "google.golang.org/api/health/v4"
	"google.golang.org/api/option"
)

// MaxGoogleCalls bounds the Google calls one Fitbit call may make. A year of
// a 14-day-capped type is 27 roll-ups, plus settings; 40 leaves room for
// paging while keeping a Fitbit call far below Google's 300 calls per user
// per minute.
const MaxGoogleCalls = 40

// Google's per-call range caps for dailyRollUp, in days
// (https://developers.google.com/health): 90 for most types, 14 for
// total-calories and active-minutes.
const (
	rollUpCapDays      = 90
	shortRollUpCapDays = 14
)

// ErrTooManyCalls is returned when a Fitbit call would exceed MaxGoogleCalls:
// Fitbit's 400 validation error, as the app can ask for a shorter range.
var ErrTooManyCalls = &Error{Status: http.StatusBadRequest, Type: Validation, FieldName: "end-date",
	Message: "the range needs more Google Health API calls than one Fitbit call may make; ask for a shorter range"}

// Engine answers Fitbit calls from one user's Google Health API.
type Engine struct {
	svc *health.Service
	now func() time.Time
	// wait sleeps between retries (sleepCtx); tests replace it.
	wait func(context.Context, time.Duration) error
	// facts caches connections' settings and identity (facts.go).
	facts *factCache
}

// NewEngine returns an Engine calling Google at base (e.g.
// "https://health.googleapis.com") through c, which injects the user's token.
func NewEngine(ctx context.Context, c *http.Client, base string, now func() time.Time) (*Engine, error) {
	svc, err := health.NewService(ctx, option.WithHTTPClient(c), option.WithEndpoint(strings.TrimSuffix(base, "/")+"/"))
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Engine{svc: svc, now: now, wait: sleepCtx, facts: newFactCache()}, nil
}

// calls counts the Google calls of one Fitbit call against MaxGoogleCalls.
type calls struct{ n int }

func (c *calls) take() error {
	if c.n >= MaxGoogleCalls {
		return ErrTooManyCalls
	}
	c.n++
	return nil
}

// Answer is a translated answer: Fitbit's JSON body and the Google calls made.
type Answer struct {
	// Status is the HTTP status of the answer; 0 is 200. Body is nil for
	// 204.
	Status      int
	Body        any
	GoogleCalls int
}

// Serve answers r. It answers the profile, the daily activity summary, the
// activity time series, heart rate (summary and intraday), sleep by date and
// range, the body logs and series, and the exercise list; other endpoints
// are not_available_from_successor so far. Its errors are *Error
// (Fitbit's status, errorType and message) except for the context's and
// unexpected Google answers (*googleapi.Error).
func (e *Engine) Serve(ctx context.Context, r *Request, units UnitSystem) (*Answer, error) {
	var c calls
	if err := e.checkUser(ctx, &c, r); err != nil {
		return nil, err
	}
	switch r.Endpoint {
	case WeightCreate, FatCreate, WeightDelete, FatDelete:
		var a *Answer
		var err error
		if r.Endpoint == WeightDelete || r.Endpoint == FatDelete {
			a, err = e.deleteLog(ctx, &c, r)
		} else {
			a, err = e.createLog(ctx, &c, r, units)
		}
		if err != nil {
			return nil, err
		}
		a.GoogleCalls = c.n
		return a, nil
	}
	var body any
	var err error
	switch {
	case nightlies[r.Endpoint].dataType != "":
		body, err = e.nightly(ctx, &c, r)
	case r.Endpoint == ActivityIntraday:
		body, err = e.activityIntraday(ctx, &c, r, units)
	case r.Endpoint == SleepList:
		body, err = e.sleepList(ctx, &c, r)
	case r.Endpoint == ExerciseList:
		body, err = e.exerciseList(ctx, &c, r, units)
	case r.Endpoint == SleepV1ByDate:
		body, err = e.sleepV1(ctx, &c, r)
	case r.Endpoint == Devices:
		body, err = e.devices(ctx, &c)
	case r.Endpoint == Profile:
		body, err = e.profile(ctx, &c, units)
	case r.Endpoint == DailySummary:
		body, err = e.dailySummary(ctx, &c, r, units)
	case r.Endpoint == HeartTimeSeries:
		body, err = e.heartSeries(ctx, &c, r)
	case r.Endpoint == SleepByDate || r.Endpoint == SleepRange:
		body, err = e.sleep(ctx, &c, r)
	case r.Endpoint == WeightLog || r.Endpoint == FatLog:
		body, err = e.bodyLog(ctx, &c, r, units)
	case r.Endpoint == BodyTimeSeries:
		body, err = e.bodySeries(ctx, &c, r, units)
	case r.Endpoint == HeartIntraday:
		body, err = e.heartIntraday(ctx, &c, r)
	case r.Endpoint == ActivityTimeSeries && seriesTypes[r.Resource].dataType != "":
		body, err = e.timeSeries(ctx, &c, r, units)
	default:
		err = notAvailable("this endpoint is not translated yet", "")
	}
	if err != nil {
		return nil, err
	}
	return &Answer{Body: body, GoogleCalls: c.n}, nil
}

func (e *Engine) settings(ctx context.Context, c *calls) (*health.Settings, *time.Location, error) {
	s, err := remember(e, ctx, factSettings, func() (s *health.Settings, err error) {
		err = e.do(ctx, c, "", func() (err error) {
			s, err = e.svc.Users.GetSettings("users/me/settings").Context(ctx).Do()
			return err
		})
		return s, err
	})
	if err != nil {
		return nil, nil, err
	}
	return s, location(s), nil
}

// location is the user's zone: the IANA name, else the fixed UTC offset.
func location(s *health.Settings) *time.Location {
	if loc, err := time.LoadLocation(s.TimeZone); err == nil && s.TimeZone != "" {
		return loc
	}
	if d, err := time.ParseDuration(s.UtcOffset); err == nil {
		return time.FixedZone(s.UtcOffset, int(d.Seconds()))
	}
	return time.UTC
}

func offsetMillis(s *health.Settings, loc *time.Location, now time.Time) int64 {
	if d, err := time.ParseDuration(s.UtcOffset); err == nil {
		return d.Milliseconds()
	}
	_, off := now.In(loc).Zone()
	return int64(off) * 1000
}

func (e *Engine) profile(ctx context.Context, c *calls, units UnitSystem) (any, error) {
	s, loc, err := e.settings(ctx, c)
	if err != nil {
		return nil, err
	}
	id, err := e.identity(ctx, c)
	if err != nil {
		return nil, err
	}
	var p *health.Profile
	if err := e.do(ctx, c, "", func() (err error) { p, err = e.svc.Users.GetProfile("users/me/profile").Context(ctx).Do(); return err }); err != nil {
		return nil, err
	}
	walk, run := p.AutoWalkingStrideLengthMm, p.AutoRunningStrideLengthMm
	if !s.AutoStrideEnabled {
		walk, run = orElse(p.UserConfiguredWalkingStrideLengthMm, walk), orElse(p.UserConfiguredRunningStrideLengthMm, run)
	}
	user := map[string]any{
		"encodedId":           id.LegacyUserId,
		"age":                 p.Age,
		"timezone":            loc.String(),
		"offsetFromUTCMillis": offsetMillis(s, loc, e.now()),
		"strideLengthWalking": units.Length(float64(walk)),
		"strideLengthRunning": units.Length(float64(run)),
		"autoStrideEnabled":   s.AutoStrideEnabled,
		"locale":              strings.ReplaceAll(s.LanguageLocale, "-", "_"),
		"languageLocale":      strings.ReplaceAll(s.LanguageLocale, "-", "_"),
		"distanceUnit":        units.String(),
		"weightUnit":          units.String(),
		"heightUnit":          units.String(),
	}
	if d := p.MembershipStartDate; d != nil {
		user["memberSince"] = fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
	}
	return map[string]any{"user": user}, nil
}

func orElse(v, def int64) int64 {
	if v != 0 {
		return v
	}
	return def
}

// dailyValues reads the type's daily roll-ups over [start, end] (see
// rollUpDays) and returns the values by civil day. Days Google omits (the
// device was off the wrist) stay absent; callers fill in 0, as Fitbit
// answered for such days.
func (e *Engine) dailyValues(ctx context.Context, c *calls, st seriesType, start, end time.Time, units UnitSystem) (map[string]float64, error) {
	pts, err := e.rollUpDays(ctx, c, st.dataType, st.capDays, start, end)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(pts))
	for k, p := range pts {
		out[k] = st.value(p, units)
	}
	return out, nil
}

func civil(day time.Time) *health.CivilDateTime {
	return &health.CivilDateTime{Date: &health.Date{Year: int64(day.Year()), Month: int64(day.Month()), Day: int64(day.Day())}}
}

func formatValue(v float64, decimals int) string {
	return strconv.FormatFloat(round(v, decimals), 'f', -1, 64)
}

// userDays resolves the request's days in the user's zone, from settings.
func (e *Engine) userDays(ctx context.Context, c *calls, r *Request) (start, end time.Time, err error) {
	_, loc, err := e.settings(ctx, c)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return r.Span(e.now(), loc)
}

// timeSeries answers {"activities-<resource>":[{"dateTime","value"}]},
// oldest day first, with values as strings as Fitbit gave them.
func (e *Engine) timeSeries(ctx context.Context, c *calls, r *Request, units UnitSystem) (any, error) {
	start, end, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	st := seriesTypes[r.Resource]
	n := chunks(start, end, st.capDays)
	less, derived := seriesTypes[lessSeries[r.Resource]]
	if derived {
		n += chunks(start, end, less.capDays)
	}
	// A Fitbit call may not exceed the bound: check before calling Google.
	if c.n+n > MaxGoogleCalls {
		return nil, ErrTooManyCalls
	}
	vals, err := e.dailyValues(ctx, c, st, start, end, units)
	if err != nil {
		return nil, err
	}
	if derived {
		sub, err := e.dailyValues(ctx, c, less, start, end, units)
		if err != nil {
			return nil, err
		}
		for k, v := range vals {
			vals[k] = math.Max(round(v, st.places(units, false))-round(sub[k], st.places(units, false)), 0)
		}
	}
	series := []map[string]string{}
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		k := d.Format(dayLayout)
		series = append(series, map[string]string{"dateTime": k, "value": formatValue(vals[k], st.places(units, false))})
	}
	key := "activities-" + r.Resource
	if r.Tracker {
		key = "activities-tracker-" + r.Resource
	}
	return map[string]any{key: series}, nil
}
