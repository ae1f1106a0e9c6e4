package translate

import (
	"fmt"
	"testing"
)

var sprintf = fmt.Sprintf

// TestNightlySummariesFromSimulatedGoogle: SpO2, HRV, breathing rate, skin
// temperature and cardio fitness, by date and by range, in Fitbit's shapes,
// each from the settings and one listing.
func TestNightlySummariesFromSimulatedGoogle(t *testing.T) {
	e, _ := startEngine(t)
	for _, tc := range []struct{ path, key, field string }{
		{"/1/user/-/hrv/date/%s.json", "hrv", "dailyRmssd"},
		{"/1/user/-/br/date/%s.json", "br", "breathingRate"},
		{"/1/user/-/temp/skin/date/%s.json", "tempSkin", "nightlyRelative"},
		{"/1/user/-/cardioscore/date/%s.json", "cardioScore", "vo2Max"},
	} {
		week := serve(t, e, sprintf(tc.path, "2026-11-13/2026-11-19"), Metric)
		entries := week.Body.(map[string]any)[tc.key].([]map[string]any)
		if len(entries) == 0 || len(entries) > 7 {
			t.Errorf("%s: %d entries for a week", tc.key, len(entries))
			continue
		}
		for i, en := range entries {
			if _, ok := en["value"].(map[string]any)[tc.field]; !ok {
				t.Errorf("%s[%d]: no %s in %v", tc.key, i, tc.field, en)
			}
			if i > 0 && en["dateTime"].(string) <= entries[i-1]["dateTime"].(string) {
				t.Errorf("%s: not oldest first: %v", tc.key, entries)
			}
		}
		if week.GoogleCalls != 2 {
			t.Errorf("%s: %d Google calls, want 2", tc.key, week.GoogleCalls)
		}
	}
	day := serve(t, e, "/1/user/-/spo2/date/2026-11-19.json", Metric)
	v, ok := day.Body.(map[string]any)["value"].(map[string]any)
	if !ok || !(v["min"].(float64) <= v["avg"].(float64) && v["avg"].(float64) <= v["max"].(float64)) {
		t.Errorf("spo2 by date: %v", day.Body)
	}
	if week := serve(t, e, "/1/user/-/spo2/date/2026-11-13/2026-11-19.json", Metric); len(week.Body.([]map[string]any)) == 0 {
		t.Errorf("spo2 by range: %v", week.Body)
	}
}
