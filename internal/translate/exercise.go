package translate

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"time"

	health "google.golang.org/api/health/v4"
)

// exercisePageSize is the largest page of Google's exercise list
// (health-api.json: "The maximum page size for exercise and sleep is 25").
const exercisePageSize = 25

// exerciseField is the only filter field Google documents for exercise
// sessions (health-api.json, "Session civil start time (Excluding Sleep and
// ECG)", with >= and <): the local start time, so beforeDate and afterDate,
// local times of the user, need no time zone.
const exerciseField = "exercise.interval.civil_start_time"

// fitbitActivity is a Fitbit activity type: the name and id of Fitbit's
// activity catalog (https://dev.fitbit.com/build/reference/web-api/activity/get-all-activity-types/).
type fitbitActivity struct {
	name string
	id   int
}

// fitbitActivities maps Google's exerciseType (health-api.json's Exercise
// enum) to the Fitbit activity its tracker logged for the same exercise:
// walks and runs (the types Fitbit detected automatically) and the common
// ones. The ids of Walk, Run, Bike and Swim are Fitbit's auto-detected
// ones; the others are ASSUMED from the catalog's names. A type not here
// keeps Google's displayName (the user's own name for OTHER) with
// activityTypeId 0, which no Fitbit activity has.
var fitbitActivities = map[string]fitbitActivity{}

func init() {
	for f, types := range map[fitbitActivity][]string{
		{"Walk", 90013}:            {"WALKING", "POWER_WALKING", "NORDIC_WALKING", "STROLLER_WALK", "WALK_WITH_WEIGHTS", "INCLINE_WALK"},
		{"Run", 90009}:             {"RUNNING", "TRAIL_RUN", "INCLINE_RUN"},
		{"Treadmill", 20049}:       {"TREADMILL", "TREADMILL_WALK"},
		{"Bike", 90001}:            {"BIKING", "OUTDOOR_BIKE", "MOUNTAIN_BIKE", "ELECTRIC_BIKE"},
		{"Spinning", 55001}:        {"SPINNING", "STATIONARY_BIKE", "ASSAULT_BIKE"},
		{"Swim", 90024}:            {"SWIMMING", "SWIMMING_POOL", "SWIMMING_OPEN_WATER"},
		{"Hike", 90012}:            {"HIKING", "BACKPACKING"},
		{"Elliptical", 20047}:      {"ELLIPTICAL"},
		{"Yoga", 52000}:            {"YOGA", "YOGA_BIKRAM", "YOGA_HATHA", "YOGA_POWER", "YOGA_VINYASA"},
		{"Weights", 2131}:          {"WEIGHTLIFTING", "WEIGHTS", "FREE_WEIGHTS", "WEIGHT_MACHINES", "STRENGTH_TRAINING", "POWERLIFTING"},
		{"Circuit Training", 2040}: {"CIRCUIT_TRAINING"},
		{"Aerobic Workout", 3001}:  {"AEROBIC_WORKOUT"},
		{"Sport", 15000}:           {"SPORT"},
	} {
		for _, t := range types {
			fitbitActivities[t] = f
		}
	}
}

// fitbitZoneNames are Fitbit's heart-rate zones in the order of Google's
// TimeInHeartRateZones (light, moderate, vigorous, peak), as the heart rate
// series maps them.
var fitbitZoneNames = [4]string{"Out of Range", "Fat Burn", "Cardio", "Peak"}

// exerciseList answers /1/user/-/activities/list.json
// (https://dev.fitbit.com/build/reference/web-api/activity/get-activity-log-list/):
// the activities starting before beforeDate, newest first, or from
// afterDate on, oldest first, paged by offset and limit with Fitbit's
// pagination object; its next and previous links are the same query at
// the next or previous offset.
func (e *Engine) exerciseList(ctx context.Context, c *calls, r *Request, units UnitSystem) (any, error) {
	q := r.List
	need := q.Offset + q.Limit + 1 // one more tells whether there is a next page
	var pts []*health.DataPoint
	if q.Before {
		pages := (need + exercisePageSize - 1) / exercisePageSize
		if c.n+pages > MaxGoogleCalls {
			return nil, ErrTooManyCalls
		}
		var err error
		if pts, err = e.list(ctx, c, "exercise", fmt.Sprintf(`%s < %q`, exerciseField, q.At.Format(listLayout)), exercisePageSize, pages); err != nil {
			return nil, err
		}
	} else {
		var err error
		if pts, err = e.exercisesAfter(ctx, c, q.At, need); err != nil {
			return nil, err
		}
	}
	ss := make([]exercise, 0, len(pts))
	for _, p := range pts {
		if x, ok := exerciseOf(p); ok && (x.local.Before(q.At) == q.Before) {
			ss = append(ss, x)
		}
	}
	// Google lists newest first; re-sorted all the same, as the answer's
	// order is Fitbit's contract.
	sort.SliceStable(ss, func(i, j int) bool {
		if q.Before {
			return ss[j].start.Before(ss[i].start)
		}
		return ss[i].start.Before(ss[j].start)
	})
	more := len(ss) > q.Offset+q.Limit
	page := ss[min(q.Offset, len(ss)):min(q.Offset+q.Limit, len(ss))]
	out := make([]map[string]any, 0, len(page))
	for _, x := range page {
		out = append(out, x.fitbit(units))
	}
	return map[string]any{"activities": out, "pagination": exercisePagination(r, more)}, nil
}

// exercisesAfter lists the sessions starting at or after from, oldest
// first, until need of them or the present. Google lists newest first, so
// it lists windows of days after from, each whole, doubling the window
// while they hold too few: an afterDate long ago costs a few calls more,
// not a walk through the years since.
func (e *Engine) exercisesAfter(ctx context.Context, c *calls, from time.Time, need int) ([]*health.DataPoint, error) {
	// No local time is more than 14 hours ahead of UTC.
	horizon := e.now().UTC().Add(14 * time.Hour)
	var out []*health.DataPoint
	for days := (need + 1) / 2; len(out) < need && from.Before(horizon); days *= 2 {
		to := from.AddDate(0, 0, days)
		filter := fmt.Sprintf(`%s >= %q AND %s < %q`, exerciseField, from.Format(listLayout), exerciseField, to.Format(listLayout))
		pts, err := e.listAll(ctx, c, "exercise", filter, exercisePageSize)
		if err != nil {
			return nil, err
		}
		sort.SliceStable(pts, func(i, j int) bool { return pointStart(pts[i]).Before(pointStart(pts[j])) })
		out = append(out, pts...)
		from = to
	}
	return out, nil
}

func pointStart(p *health.DataPoint) time.Time {
	if p.Exercise == nil || p.Exercise.Interval == nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, p.Exercise.Interval.StartTime)
	return t
}

// exercisePagination is Fitbit's pagination object. Its links are paths:
// the app resolves them against the URL it called (RFC 3986, section 4.2),
// which is the gateway, where Fitbit's were absolute URLs on
// api.fitbit.com, which no longer answers.
func exercisePagination(r *Request, more bool) map[string]any {
	q := r.List
	key := "afterDate"
	if q.Before {
		key = "beforeDate"
	}
	link := func(offset int) string {
		v := url.Values{key: {q.Date}, "sort": {q.Sort}, "limit": {strconv.Itoa(q.Limit)}, "offset": {strconv.Itoa(offset)}}
		return "/1/user/" + r.User + "/activities/list.json?" + v.Encode()
	}
	out := map[string]any{key: q.Date, "limit": q.Limit, "offset": q.Offset, "sort": q.Sort, "next": "", "previous": ""}
	if more {
		out["next"] = link(q.Offset + q.Limit)
	}
	if q.Offset > 0 {
		out["previous"] = link(max(0, q.Offset-q.Limit))
	}
	return out
}

// exercise is one Google exercise session, read for Fitbit.
type exercise struct {
	start, local time.Time // local: the start in the session's own UTC offset
	duration     time.Duration
	x            *health.Exercise
	src          *health.DataSource
}

func exerciseOf(p *health.DataPoint) (exercise, bool) {
	x := p.Exercise
	if x == nil || x.Interval == nil {
		return exercise{}, false
	}
	iv := x.Interval
	start, err1 := time.Parse(time.RFC3339Nano, iv.StartTime)
	end, err2 := time.Parse(time.RFC3339Nano, iv.EndTime)
	if err1 != nil || err2 != nil {
		return exercise{}, false
	}
	off, _ := time.ParseDuration(iv.StartUtcOffset)
	local := start.In(time.FixedZone("", int(off.Seconds())))
	// The civil start as a UTC time, to compare with beforeDate/afterDate.
	civil := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, time.UTC)
	return exercise{start: local, local: civil, duration: end.Sub(start), x: x, src: p.DataSource}, true
}

// fitbit is the session as an entry of Fitbit's activity log list.
func (s exercise) fitbit(units UnitSystem) map[string]any {
	x, m := s.x, s.x.MetricsSummary
	if m == nil {
		m = &health.MetricsSummary{}
	}
	act, ok := fitbitActivities[x.ExerciseType]
	if !ok {
		act = fitbitActivity{x.DisplayName, 0}
	}
	active := s.duration
	if d, err := time.ParseDuration(x.ActiveDuration); err == nil && x.ActiveDuration != "" {
		active = d
	}
	distanceUnit := "Kilometer"
	if units == US {
		distanceUnit = "Mile"
	}
	distance := m.DistanceMillimeters / mmPerKm
	if units == US {
		distance = round(m.DistanceMillimeters/mmPerMile, 5)
	}
	start := s.start.Format("2006-01-02T15:04:05.000-07:00")
	out := map[string]any{
		"activityName":      act.name,
		"activityTypeId":    act.id,
		"activeDuration":    active.Milliseconds(),
		"calories":          int64(math.Round(m.CaloriesKcal)),
		"distance":          distance,
		"distanceUnit":      distanceUnit,
		"duration":          s.duration.Milliseconds(),
		"originalDuration":  s.duration.Milliseconds(),
		"logId":             s.start.UnixMilli(),
		"logType":           exerciseLogType(s.src),
		"startTime":         start,
		"originalStartTime": start,
		"steps":             m.Steps,
	}
	if m.AverageHeartRateBeatsPerMinute > 0 {
		out["averageHeartRate"] = m.AverageHeartRateBeatsPerMinute
	}
	if z := m.HeartRateZoneDurations; z != nil {
		zones := make([]map[string]any, 0, 4)
		for i, d := range []string{z.LightTime, z.ModerateTime, z.VigorousTime, z.PeakTime} {
			in, _ := time.ParseDuration(d)
			zones = append(zones, map[string]any{"name": fitbitZoneNames[i], "minutes": int64(math.Round(in.Minutes()))})
		}
		out["heartRateZones"] = zones
	}
	if s.src != nil && s.src.Device != nil && s.src.Device.DisplayName != "" && s.src.RecordingMethod != "MANUAL" {
		out["source"] = map[string]any{"type": "tracker", "name": s.src.Device.DisplayName}
	}
	return out
}

// exerciseLogType is Fitbit's logType from Google's recording method: a
// session entered by hand is manual, one started on the device is tracker
// (actively measured), and any other Fitbit's tracker would have detected,
// auto_detected.
func exerciseLogType(src *health.DataSource) string {
	if src == nil {
		return "auto_detected"
	}
	switch src.RecordingMethod {
	case "MANUAL":
		return "manual"
	case "ACTIVELY_MEASURED":
		return "tracker"
	}
	return "auto_detected"
}
