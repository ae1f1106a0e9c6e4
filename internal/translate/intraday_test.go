package translate

import (
	"strconv"
	"testing"
)

// TestActivityIntradayFromSimulatedGoogle: every window of the day is in
// the dataset, the windows sum to the day's series value, and a /time
// window keeps only its minutes.
func TestActivityIntradayFromSimulatedGoogle(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1/user/-/activities/steps/date/2026-11-19/1d/15min.json", Metric)
	body := a.Body.(map[string]any)
	in := body["activities-steps-intraday"].(map[string]any)
	ds := in["dataset"].([]map[string]any)
	if len(ds) != 96 || in["datasetInterval"] != 15 || in["datasetType"] != "minute" || ds[0]["time"] != "00:00:00" {
		t.Fatalf("dataset of %d windows, %v %v, first %v", len(ds), in["datasetInterval"], in["datasetType"], ds[0])
	}
	var sum float64
	for _, p := range ds {
		sum += p["value"].(float64)
	}
	day := body["activities-steps"].([]map[string]any)[0]["value"].(string)
	series := serve(t, e, "/1/user/-/activities/steps/date/2026-11-19/1d.json", Metric).Body.(map[string]any)["activities-steps"].([]map[string]string)[0]["value"]
	if strconv.FormatFloat(sum, 'f', -1, 64) != day || day != series || sum == 0 {
		t.Errorf("windows sum to %v, intraday day %s, series %s", sum, day, series)
	}
	if a.GoogleCalls != 2 {
		t.Errorf("%d Google calls, want 2 (settings, one rollUp)", a.GoogleCalls)
	}
	w := serve(t, e, "/1/user/-/activities/steps/date/2026-11-19/1d/1min/time/08:00/08:29.json", Metric).Body.(map[string]any)
	wds := w["activities-steps-intraday"].(map[string]any)["dataset"].([]map[string]any)
	if len(wds) != 30 || wds[0]["time"] != "08:00:00" || wds[29]["time"] != "08:29:00" {
		t.Errorf("time window: %d minutes, %v … %v", len(wds), wds[0]["time"], wds[len(wds)-1]["time"])
	}
}
