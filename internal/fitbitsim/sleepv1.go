package fitbitsim

import (
	"net/http"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// Sleep v1, GET /1/user/-/sleep/date/{date}.json: the classic shape Fitbit
// kept serving beside v1.2 (https://dev.fitbit.com/build/reference/web-api/sleep-v1/):
// per log a minuteData array, one entry a minute with "1" asleep, "2"
// restless and "3" awake, and the counts and durations of the restless and
// awake stretches. How Fitbit rendered a stages log in v1 is not documented;
// the simulator ASSUMES each minute takes the stage of its first epoch, wake
// being awake and light, deep and REM asleep (stages sleep has no
// restless).
func (s *Server) getSleepV1(w http.ResponseWriter, r *apiRequest, m []string) {
	p := personOf(r.user)
	day, ok := s.resolveDate(w, p, m[2])
	if !ok {
		return
	}
	logs := []map[string]any{}
	asleep, inBed := 0, 0
	for _, sl := range s.sleepsOf(p, day) {
		l := sleepV1Log(p, day, sl)
		asleep += l["minutesAsleep"].(int)
		inBed += l["timeInBed"].(int)
		logs = append(logs, l)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sleep":   logs,
		"summary": map[string]any{"totalMinutesAsleep": asleep, "totalSleepRecords": len(logs), "totalTimeInBed": inBed},
	})
}

func sleepV1Log(p *person.Person, day time.Time, sl person.Sleep) map[string]any {
	perMinute := int(time.Minute / person.Epoch)
	minutes := sl.TimeInBedMinutes()
	data := make([]map[string]any, minutes)
	var counts, durations [4]int // by value 1..3
	prev := 0
	for i := range minutes {
		v := 1
		if sl.Epochs[i*perMinute] == person.Wake {
			v = 3
		}
		data[i] = map[string]any{"dateTime": sl.Start.Add(time.Duration(i) * time.Minute).In(p.Location()).Format(time.TimeOnly), "value": string(rune('0' + v))}
		durations[v]++
		if v != prev {
			counts[v]++
		}
		prev = v
	}
	efficiency := 0
	if minutes > 0 {
		efficiency = durations[1] * 100 / minutes
	}
	return map[string]any{
		"logId":               sl.LogID,
		"dateOfSleep":         day.Format(time.DateOnly),
		"startTime":           sl.Start.In(p.Location()).Format(localLayout),
		"duration":            int64(sl.End().Sub(sl.Start) / time.Millisecond),
		"isMainSleep":         sl.IsMain,
		"efficiency":          efficiency,
		"minuteData":          data,
		"minutesAsleep":       durations[1],
		"minutesAwake":        durations[2] + durations[3],
		"minutesToFallAsleep": 0,
		"minutesAfterWakeup":  0,
		"timeInBed":           minutes,
		"awakeCount":          counts[3],
		"awakeDuration":       durations[3],
		"restlessCount":       counts[2],
		"restlessDuration":    durations[2],
		"awakeningsCount":     counts[2] + counts[3],
	}
}
