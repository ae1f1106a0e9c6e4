package translate

import (
	"context"
	"time"
)

// Sleep v1 (GET /1/user/-/sleep/date/{date}.json) is the classic shape
// Fitbit kept serving beside v1.2: per log a minuteData array with one
// entry a minute, "1" asleep, "2" restless, "3" awake, and the counts of
// restless and awake stretches. Apps from before 2017 still parse it. It is
// rendered from the same Google sleep sessions as v1.2: for stages
// sessions, light, deep and REM are asleep and wake is awake (stages sleep
// has no restless); classic sessions map one to one.
var minuteValues = map[string]map[string]string{
	"STAGES":  {"LIGHT": "1", "DEEP": "1", "REM": "1", "AWAKE": "3"},
	"CLASSIC": {"ASLEEP": "1", "RESTLESS": "2", "AWAKE": "3"},
}

// sleepV1 answers sleep v1 by date: one listing of the day's sessions (v1
// has no thirty-day averages, so no history is read).
func (e *Engine) sleepV1(ctx context.Context, c *calls, r *Request) (any, error) {
	_, loc, err := e.settings(ctx, c)
	if err != nil {
		return nil, err
	}
	start, end, err := r.Span(e.now(), loc)
	if err != nil {
		return nil, err
	}
	ss, err := e.sleepSessions(ctx, c, start, end)
	if err != nil {
		return nil, err
	}
	main := mainSleeps(ss)
	logs := make([]map[string]any, 0, len(ss))
	var asleep, inBed int64
	for _, s := range ss {
		l := sleepV1Log(s, main[s.name], loc)
		asleep += l["minutesAsleep"].(int64)
		inBed += l["timeInBed"].(int64)
		logs = append(logs, l)
	}
	return map[string]any{
		"sleep":   logs,
		"summary": map[string]any{"totalMinutesAsleep": asleep, "totalSleepRecords": len(logs), "totalTimeInBed": inBed},
	}, nil
}

// sleepV1Log is one entry of the v1 sleep array; its minutes are physical
// ones (on the night the clock turns back, an hour longer than the civil
// times say).
func sleepV1Log(s session, isMain bool, loc *time.Location) map[string]any {
	values := minuteValues[s.s.Type]
	if values == nil {
		values = minuteValues["STAGES"]
	}
	// Each minute of the session takes the value of the stage covering its
	// start; a minute no stage covers counts as asleep, as Fitbit's
	// classic algorithm scored what it did not see as restful.
	minutes := int(s.length / time.Minute)
	value := make([]string, minutes)
	for i := range value {
		value[i] = "1"
	}
	minute := func(i int) time.Time { return s.at.Add(time.Duration(i) * time.Minute) }
	// A minute shows on the clock of the session's start offset, turned as
	// the user's zone turns during the night (the end of daylight saving
	// time shows an hour of minutes twice).
	startOff, _ := time.ParseDuration(s.s.Interval.StartUtcOffset)
	_, zoneAtStart := s.at.In(loc).Zone()
	clock := func(t time.Time) time.Time {
		_, zone := t.In(loc).Zone()
		return t.UTC().Add(startOff + time.Duration(zone-zoneAtStart)*time.Second)
	}
	for _, st := range s.s.Stages {
		v, ok := values[st.Type]
		if !ok {
			continue
		}
		from, err1 := time.Parse(time.RFC3339Nano, st.StartTime)
		to, err2 := time.Parse(time.RFC3339Nano, st.EndTime)
		if err1 != nil || err2 != nil {
			continue
		}
		for i := max(0, int(from.Sub(s.at)/time.Minute)); i < minutes && minute(i).Before(to); i++ {
			if !minute(i).Before(from) {
				value[i] = v
			}
		}
	}
	data := make([]map[string]string, minutes)
	var counts, durations [4]int64 // by value 1..3
	for i, v := range value {
		data[i] = map[string]string{"dateTime": clock(minute(i)).Format("15:04:05"), "value": v}
		n := int(v[0] - '0')
		durations[n]++
		if i == 0 || value[i-1] != v {
			counts[n]++
		}
	}
	sum := s.s.Summary
	toFallAsleep, afterWakeup := int64(0), int64(0)
	if sum != nil {
		toFallAsleep, afterWakeup = sum.MinutesToFallAsleep, sum.MinutesAfterWakeUp
	}
	inBed := int64(minutes)
	efficiency := int64(0)
	if inBed > 0 {
		efficiency = durations[1] * 100 / inBed
	}
	return map[string]any{
		"logId":               logID(s.name),
		"dateOfSleep":         s.day,
		"startTime":           s.start.Format(fitbitDateTime),
		"duration":            s.length.Milliseconds(),
		"isMainSleep":         isMain,
		"efficiency":          efficiency,
		"minuteData":          data,
		"minutesAsleep":       durations[1],
		"minutesAwake":        durations[2] + durations[3],
		"minutesToFallAsleep": toFallAsleep,
		"minutesAfterWakeup":  afterWakeup,
		"timeInBed":           inBed,
		"awakeCount":          counts[3],
		"awakeDuration":       durations[3],
		"restlessCount":       counts[2],
		"restlessDuration":    durations[2],
		"awakeningsCount":     counts[2] + counts[3],
	}
}
