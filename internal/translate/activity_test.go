package translate

import (
	"strconv"
	"testing"
)

// TestCaloriesBMRSeries: caloriesBMR by period and by range, and its
// tracker/ form, is each day's total-calories less its active energy, as
// the daily summary answers it.
func TestCaloriesBMRSeries(t *testing.T) {
	e, _ := startEngine(t)
	values := func(path, key string) []map[string]string {
		t.Helper()
		return serve(t, e, path, Metric).Body.(map[string]any)[key].([]map[string]string)
	}
	bmr := values("/1/user/-/activities/caloriesBMR/date/2026-11-19/30d.json", "activities-caloriesBMR")
	total := values("/1/user/-/activities/calories/date/2026-11-19/30d.json", "activities-calories")
	active := values("/1/user/-/activities/activityCalories/date/2026-11-19/30d.json", "activities-activityCalories")
	if len(bmr) != 30 || bmr[29]["dateTime"] != "2026-11-19" {
		t.Fatalf("30 days: %v", bmr)
	}
	for i, d := range bmr {
		b, _ := strconv.Atoi(d["value"])
		out, _ := strconv.Atoi(total[i]["value"])
		act, _ := strconv.Atoi(active[i]["value"])
		if b != max(out-act, 0) || b == 0 || d["dateTime"] != total[i]["dateTime"] {
			t.Errorf("%s: caloriesBMR %d of %d out, %d active", d["dateTime"], b, out, act)
		}
	}
	byRange := values("/1/user/-/activities/caloriesBMR/date/2026-10-21/2026-11-19.json", "activities-caloriesBMR")
	tracker := values("/1/user/-/activities/tracker/caloriesBMR/date/2026-11-19/30d.json", "activities-tracker-caloriesBMR")
	for i := range bmr {
		if byRange[i]["value"] != bmr[i]["value"] || tracker[i]["value"] != bmr[i]["value"] {
			t.Errorf("day %d: range %v, tracker %v, period %v", i, byRange[i], tracker[i], bmr[i])
		}
	}
	sum := serve(t, e, "/1/user/-/activities/date/2026-11-19.json", Metric).Body.(map[string]any)["summary"].(map[string]any)
	if got := strconv.FormatInt(sum["caloriesBMR"].(int64), 10); got != bmr[29]["value"] {
		t.Errorf("summary caloriesBMR %s, series %s", got, bmr[29]["value"])
	}
}
