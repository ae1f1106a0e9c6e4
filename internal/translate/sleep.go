package translate

import (
	"context"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	health "google.golang.org/api/health/v4"
)

// Fitbit's v1.2 local date-time layout.
const fitbitDateTime = "2006-01-02T15:04:05.000"

const (
	// sleepPageSize is Google's largest page for sessions.
	sleepPageSize = 25
	// thirtyDays is the history behind levels.summary.*.thirtyDayAvgMinutes.
	thirtyDays = 30
)

// sleepLevels are Fitbit's level names for Google's stage types: stages
// sleep has deep, light, rem and wake; classic sleep asleep, restless, awake.
var sleepLevels = map[string]map[string]string{
	"STAGES":  {"AWAKE": "wake", "LIGHT": "light", "DEEP": "deep", "REM": "rem"},
	"CLASSIC": {"AWAKE": "awake", "ASLEEP": "asleep", "RESTLESS": "restless"},
}

// session is one Google sleep session with its times in the user's clock.
type session struct {
	name       string
	s          *health.Sleep
	src        *health.DataSource
	start, end time.Time // local civil times (in a UTC time.Time)
	// at and length are the physical start and how long the session
	// lasted: a night that the clock turns back in is an hour longer
	// than its civil times say.
	at     time.Time
	length time.Duration
	day    string // dateOfSleep: the local date it ended on
}

// logID is a stable Fitbit log id for a Google data point name (a string):
// 53 bits of its FNV-1a hash, so JavaScript clients read it exactly.
func logID(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64() & (1<<53 - 1))
}

// sleepSessions lists the sessions ending on the local days [start, end],
// oldest first (Google lists newest first).
func (e *Engine) sleepSessions(ctx context.Context, c *calls, start, end time.Time) ([]session, error) {
	pts, err := e.listAll(ctx, c, "sleep", dayFilter("sleep.interval.civil_end_time", start, end), sleepPageSize)
	if err != nil {
		return nil, err
	}
	out := sessionsOf(pts)
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out, nil
}

// sessionsOf reads Google's sleep points as sessions, in the order given;
// points without an interval are skipped.
func sessionsOf(pts []*health.DataPoint) []session {
	var out []session
	for _, p := range pts {
		s := p.Sleep
		if s == nil || s.Interval == nil {
			continue
		}
		st, ok1 := localTime(s.Interval.StartTime, s.Interval.StartUtcOffset)
		en, ok2 := localTime(s.Interval.EndTime, s.Interval.EndUtcOffset)
		at, err1 := time.Parse(time.RFC3339Nano, s.Interval.StartTime)
		until, err2 := time.Parse(time.RFC3339Nano, s.Interval.EndTime)
		if !ok1 || !ok2 || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, session{name: p.Name, s: s, src: p.DataSource, start: st, end: en, at: at, length: until.Sub(at), day: en.Format(dayLayout)})
	}
	return out
}

// sleepCalls is the fewest Google calls the sessions of n days take, with
// the thirty days before them (one session a night, pages of 25).
func sleepCalls(n int) int { return (n + thirtyDays + sleepPageSize - 1) / sleepPageSize }

// sleep answers sleep by date (with the day's summary) and by range.
func (e *Engine) sleep(ctx context.Context, c *calls, r *Request) (any, error) {
	start, end, err := e.userDays(ctx, c, r)
	if err != nil {
		return nil, err
	}
	days := int(end.Sub(start).Hours()/24) + 1
	if c.n+sleepCalls(days) > MaxGoogleCalls {
		return nil, ErrTooManyCalls
	}
	all, err := e.sleepSessions(ctx, c, start.AddDate(0, 0, -thirtyDays), end)
	if err != nil {
		return nil, err
	}
	first := start.Format(dayLayout)
	var asked []session
	for _, s := range all {
		if s.day >= first {
			asked = append(asked, s)
		}
	}
	main := mainSleeps(asked)
	logs := make([]map[string]any, 0, len(asked))
	stages := map[string]int64{"deep": 0, "light": 0, "rem": 0, "wake": 0}
	var asleep, inBed int64
	for _, s := range asked {
		logs = append(logs, sleepLog(s, main[s.name], all))
		if sum := s.s.Summary; sum != nil {
			asleep += sum.MinutesAsleep
			inBed += sum.MinutesInSleepPeriod
			if s.s.Type == "STAGES" {
				for _, st := range sum.StagesSummary {
					if l, ok := sleepLevels["STAGES"][st.Type]; ok {
						stages[l] += st.Minutes
					}
				}
			}
		}
	}
	body := map[string]any{"sleep": logs}
	if r.Endpoint == SleepByDate {
		summary := map[string]any{"totalMinutesAsleep": asleep, "totalSleepRecords": len(logs), "totalTimeInBed": inBed}
		// A day without a log has no stages in Fitbit's summary (as the
		// simulated Fitbit ASSUMES: the reference shows stages only with
		// logs).
		if len(logs) > 0 {
			summary["stages"] = stages
		}
		body["summary"] = summary
	}
	return body, nil
}

// mainSleeps marks each day's main sleep: the one Google marks, else, when
// Google marks none that day, the longest (the sessions' metadata is
// optional).
func mainSleeps(ss []session) map[string]bool {
	main := map[string]bool{}
	longest := map[string]session{}
	marked := map[string]bool{}
	for _, s := range ss {
		if s.s.Metadata != nil && s.s.Metadata.MainSleep {
			main[s.name], marked[s.day] = true, true
		}
		if l, ok := longest[s.day]; !ok || s.length > l.length {
			longest[s.day] = s
		}
	}
	for day, s := range longest {
		if !marked[day] {
			main[s.name] = true
		}
	}
	return main
}

// sleepLog is one entry of Fitbit's v1.2 sleep array.
func sleepLog(s session, isMain bool, history []session) map[string]any {
	typ := s.s.Type
	if sleepLevels[typ] == nil {
		typ = "STAGES"
	}
	levels := sleepLevels[typ]
	sum := s.s.Summary
	if sum == nil {
		sum = &health.SleepSummary{}
	}
	data := stageData(s.s.Stages, levels, s.s.Interval.StartUtcOffset)
	short := stageData(s.s.ShortAwakenings, map[string]string{"AWAKE": "wake"}, s.s.Interval.StartUtcOffset)
	counts := map[string]int64{}
	for _, d := range data {
		counts[d["level"].(string)]++
	}
	avg := thirtyDayAverages(s, history, levels)
	summary := map[string]any{}
	for _, l := range levels {
		summary[l] = map[string]any{"count": counts[l], "minutes": int64(0), "thirtyDayAvgMinutes": avg[l]}
	}
	for _, st := range sum.StagesSummary {
		if l, ok := levels[st.Type]; ok {
			m := summary[l].(map[string]any)
			m["minutes"] = st.Minutes
			if st.Count > 0 {
				m["count"] = st.Count
			}
		}
	}
	efficiency := int64(0)
	if sum.MinutesInSleepPeriod > 0 {
		efficiency = sum.MinutesAsleep * 100 / sum.MinutesInSleepPeriod
	}
	logType := "auto_detected"
	if s.src != nil && s.src.RecordingMethod == "MANUAL" {
		logType = "manual"
	}
	return map[string]any{
		"logId":               logID(s.name),
		"dateOfSleep":         s.day,
		"startTime":           s.start.Format(fitbitDateTime),
		"endTime":             s.end.Format(fitbitDateTime),
		"duration":            s.length.Milliseconds(),
		"efficiency":          efficiency,
		"isMainSleep":         isMain,
		"logType":             logType,
		"type":                strings.ToLower(typ),
		"minutesAsleep":       sum.MinutesAsleep,
		"minutesAwake":        sum.MinutesAwake,
		"minutesToFallAsleep": sum.MinutesToFallAsleep,
		"minutesAfterWakeup":  sum.MinutesAfterWakeUp,
		"timeInBed":           sum.MinutesInSleepPeriod,
		"levels":              map[string]any{"data": data, "shortData": short, "summary": summary},
	}
}

// stageData is levels.data (or shortData) from Google's stages.
func stageData(stages []*health.SleepStage, levels map[string]string, sessionOffset string) []map[string]any {
	out := []map[string]any{}
	for _, st := range stages {
		l, ok := levels[st.Type]
		if !ok {
			continue
		}
		off := st.StartUtcOffset
		if off == "" {
			off = sessionOffset
		}
		from, ok1 := localTime(st.StartTime, off)
		to, ok2 := localTime(st.EndTime, off)
		if !ok1 || !ok2 {
			continue
		}
		out = append(out, map[string]any{"dateTime": from.Format(fitbitDateTime), "level": l, "seconds": int64(to.Sub(from) / time.Second)})
	}
	return out
}

// thirtyDayAverages are the mean minutes per level over the sessions of
// the thirty days before s's day (Fitbit's own window is undocumented; an
// approximation), 0 without history.
func thirtyDayAverages(s session, history []session, levels map[string]string) map[string]int64 {
	day, _ := time.Parse(dayLayout, s.day)
	from := day.AddDate(0, 0, -thirtyDays).Format(dayLayout)
	total := map[string]int64{}
	nights := map[string]bool{}
	for _, h := range history {
		if h.day < from || h.day >= s.day || h.s.Summary == nil {
			continue
		}
		nights[h.day] = true
		for _, st := range h.s.Summary.StagesSummary {
			if l, ok := levels[st.Type]; ok {
				total[l] += st.Minutes
			}
		}
	}
	out := map[string]int64{}
	for _, l := range levels {
		if n := int64(len(nights)); n > 0 {
			out[l] = (total[l] + n/2) / n
		}
	}
	return out
}
