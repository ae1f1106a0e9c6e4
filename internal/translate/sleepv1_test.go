package translate

import (
	"testing"
)

// TestSleepV1FromSimulatedGoogle: the classic sleep shape from the same
// sessions as v1.2: one minuteData entry a minute, counts that agree with
// them, and the same log as v1.2.
func TestSleepV1FromSimulatedGoogle(t *testing.T) {
	e, _ := startEngine(t)
	v1 := serve(t, e, "/1/user/-/sleep/date/2026-11-19.json", Metric)
	v12 := serve(t, e, "/1.2/user/-/sleep/date/2026-11-19.json", Metric)
	logs := v1.Body.(map[string]any)["sleep"].([]map[string]any)
	newer := v12.Body.(map[string]any)["sleep"].([]map[string]any)
	if len(logs) == 0 || len(logs) != len(newer) {
		t.Fatalf("v1 %d logs, v1.2 %d", len(logs), len(newer))
	}
	for i, l := range logs {
		for _, k := range []string{"logId", "dateOfSleep", "startTime", "duration", "isMainSleep"} {
			if l[k] != newer[i][k] {
				t.Errorf("log %d %s: v1 %v, v1.2 %v", i, k, l[k], newer[i][k])
			}
		}
		data := l["minuteData"].([]map[string]string)
		// Whole minutes of a night of 30-second epochs.
		if int64(len(data)) != l["timeInBed"].(int64) || int64(len(data)) != l["duration"].(int64)/60000 {
			t.Errorf("log %d: %d minutes of data, timeInBed %v, duration %v", i, len(data), l["timeInBed"], l["duration"])
		}
		var asleep, awake int64
		for _, m := range data {
			switch m["value"] {
			case "1":
				asleep++
			case "2", "3":
				awake++
			default:
				t.Fatalf("minute value %q", m["value"])
			}
		}
		if asleep != l["minutesAsleep"].(int64) || awake != l["minutesAwake"].(int64) || awake == 0 {
			t.Errorf("log %d: counted %d asleep, %d awake; log says %v, %v", i, asleep, awake, l["minutesAsleep"], l["minutesAwake"])
		}
		if l["awakeningsCount"].(int64) != l["awakeCount"].(int64)+l["restlessCount"].(int64) {
			t.Errorf("log %d: awakenings %v", i, l["awakeningsCount"])
		}
		if data[0]["dateTime"] != l["startTime"].(string)[11:19] {
			t.Errorf("first minute %v, start %v", data[0]["dateTime"], l["startTime"])
		}
	}
	if v1.GoogleCalls != 2 {
		t.Errorf("%d Google calls, want 2 (settings, one listing)", v1.GoogleCalls)
	}
	if _, err := Parse("GET", "/1/user/-/sleep/date/2026-11-01/2026-11-02.json", nil); err == nil {
		t.Error("sleep v1 by range parsed; v1 has dates only")
	}
}
