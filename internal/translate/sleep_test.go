package translate

import (
	"testing"
	"time"
)

func TestSleepByDate(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1.2/user/-/sleep/date/2026-11-19.json", Metric)
	body := a.Body.(map[string]any)
	logs := body["sleep"].([]map[string]any)
	if len(logs) != 1 {
		t.Fatalf("%d sleep logs, want the night ending on the day", len(logs))
	}
	s := logs[0]
	if s["dateOfSleep"] != "2026-11-19" || s["isMainSleep"] != true || s["type"] != "stages" || s["logType"] != "auto_detected" {
		t.Errorf("sleep log %v", s)
	}
	start, err1 := time.Parse(fitbitDateTime, s["startTime"].(string))
	end, err2 := time.Parse(fitbitDateTime, s["endTime"].(string))
	if err1 != nil || err2 != nil || end.Sub(start).Milliseconds() != s["duration"] {
		t.Errorf("start %v end %v duration %v", s["startTime"], s["endTime"], s["duration"])
	}
	inBed, asleep := s["timeInBed"].(int64), s["minutesAsleep"].(int64)
	if inBed != int64(end.Sub(start)/time.Minute) || asleep <= 0 || s["efficiency"] != asleep*100/inBed {
		t.Errorf("timeInBed %d, asleep %d, efficiency %v", inBed, asleep, s["efficiency"])
	}
	levels := s["levels"].(map[string]any)
	var secs int64
	for _, d := range levels["data"].([]map[string]any) {
		secs += d["seconds"].(int64)
	}
	// The person's stages are 30-second epochs: a night may end half a
	// minute past its whole minutes in bed, as on Fitbit.
	if secs/60 != inBed || secs*1000 != s["duration"] {
		t.Errorf("levels.data covers %ds of %d min, duration %v", secs, inBed, s["duration"])
	}
	sum := levels["summary"].(map[string]any)
	var minutes int64
	for _, l := range []string{"deep", "light", "rem", "wake"} {
		m := sum[l].(map[string]any)
		minutes += m["minutes"].(int64)
		if m["count"].(int64) == 0 || m["thirtyDayAvgMinutes"].(int64) == 0 {
			t.Errorf("%s: %v", l, m)
		}
	}
	// Each stage's whole minutes, as Fitbit floors them.
	if minutes > inBed || minutes < inBed-3 {
		t.Errorf("stage minutes %d, in bed %d", minutes, inBed)
	}
	total := body["summary"].(map[string]any)
	if total["totalSleepRecords"] != 1 || total["totalMinutesAsleep"] != asleep || total["totalTimeInBed"] != inBed {
		t.Errorf("summary %v", total)
	}
	if a.GoogleCalls != 1+2 {
		t.Errorf("%d Google calls, want settings + two pages (the night and the thirty before it)", a.GoogleCalls)
	}
}

func TestSleepRangeOldestFirst(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1.2/user/-/sleep/date/2026-11-01/2026-11-19.json", Metric)
	body := a.Body.(map[string]any)
	logs := body["sleep"].([]map[string]any)
	if len(logs) != 19 {
		t.Fatalf("%d logs for 19 nights", len(logs))
	}
	for i := 1; i < len(logs); i++ {
		if logs[i-1]["startTime"].(string) >= logs[i]["startTime"].(string) {
			t.Fatalf("not oldest first at %d", i)
		}
	}
	if _, ok := body["summary"]; ok {
		t.Error("the range answer has no summary in Fitbit's API")
	}
	// Each night equals its by-date answer.
	one := serve(t, e, "/1.2/user/-/sleep/date/2026-11-10.json", Metric).Body.(map[string]any)["sleep"].([]map[string]any)[0]
	if one["logId"] != logs[9]["logId"] || one["minutesAsleep"] != logs[9]["minutesAsleep"] {
		t.Errorf("2026-11-10 alone %v, in the range %v", one["logId"], logs[9]["logId"])
	}
}
