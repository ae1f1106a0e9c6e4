package translate

import (
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

func TestHeartSeries(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1/user/-/activities/heart/date/2026-11-19/7d.json", Metric)
	days := a.Body.(map[string]any)["activities-heart"].([]map[string]any)
	if len(days) != 7 || days[0]["dateTime"] != "2026-11-13" || days[6]["dateTime"] != "2026-11-19" {
		t.Fatalf("7 days: %v", days)
	}
	if a.GoogleCalls != 1+4 {
		t.Errorf("%d Google calls, want settings + 4", a.GoogleCalls)
	}
	v := days[6]["value"].(map[string]any)
	if rhr, ok := v["restingHeartRate"].(int64); !ok || rhr < 40 || rhr > 80 {
		t.Errorf("restingHeartRate %#v", v["restingHeartRate"])
	}
	zones := v["heartRateZones"].([]map[string]any)
	names := []string{"Out of Range", "Fat Burn", "Cardio", "Peak"}
	total := 0
	for i, z := range zones {
		m := z["minutes"].(int)
		total += m
		if z["name"] != names[i] || m < 0 || z["caloriesOut"].(float64) < 0 || (m == 0) != (z["caloriesOut"] == 0.0) {
			t.Errorf("zone %d: %v", i, z)
		}
	}
	if total <= 0 || total > 1440 {
		t.Errorf("%d minutes in zones", total)
	}
	// A range by end date answers the same days.
	b := serve(t, e, "/1/user/-/activities/heart/date/2026-11-13/2026-11-19.json", Metric)
	if got := b.Body.(map[string]any)["activities-heart"].([]map[string]any); len(got) != 7 {
		t.Errorf("range: %d days", len(got))
	}
}

func TestHeartIntraday(t *testing.T) {
	e, s := startEngine(t)
	// The simulator has the person's 5-second samples, none off the wrist:
	// the windows are those with a sample.
	p := person.New(googlesim.DefaultLegacyUserID)
	day, _ := p.Day("2026-11-19")
	h := p.Heart(day)
	windows := func(from, to, step int) (n, samples int) {
		for w := from; w <= to; w += step {
			k := 0
			for i := w; i < w+step && i <= to; i++ {
				for _, v := range h.Samples[i*person.SamplesPerMinute : (i+1)*person.SamplesPerMinute] {
					if v != 0 {
						k++
					}
				}
			}
			if k > 0 {
				n++
			}
			samples += k
		}
		return n, samples
	}
	perMinute, daySamples := windows(0, 1439, 1)
	quarters, _ := windows(8*60, 8*60+59, 15)
	_, seconds := windows(12*60, 12*60+30, 1)
	for _, tc := range []struct {
		path     string
		typ      string
		interval int
		n        int
		lists    int // pages of 10000 samples
	}{
		{"/1/user/-/activities/heart/date/2026-11-19/1d/1min.json", "minute", 1, perMinute, (daySamples + 9999) / 10000},
		{"/1/user/-/activities/heart/date/2026-11-19/1d/15min/time/08:00/08:59.json", "minute", 15, quarters, 1},
		{"/1/user/-/activities/heart/date/2026-11-19/1d/1sec/time/12:00/12:30.json", "second", 1, seconds, 1},
	} {
		s.ResetRequests()
		a := serve(t, e, tc.path, Metric)
		body := a.Body.(map[string]any)
		in := body["activities-heart-intraday"].(map[string]any)
		ds := in["dataset"].([]map[string]any)
		if in["datasetType"] != tc.typ || in["datasetInterval"] != tc.interval || len(ds) != tc.n {
			t.Errorf("%s: %s/%v with %d points, want %s/%d with %d", tc.path, in["datasetType"], in["datasetInterval"], len(ds), tc.typ, tc.interval, tc.n)
			continue
		}
		for i := 1; i < len(ds); i++ {
			if ds[i-1]["time"].(string) >= ds[i]["time"].(string) {
				t.Fatalf("%s: not in time order at %d", tc.path, i)
			}
		}
		if v := ds[0]["value"].(int64); v < 30 || v > 220 {
			t.Errorf("%s: bpm %d", tc.path, v)
		}
		if len(body["activities-heart"].([]map[string]any)) != 1 {
			t.Errorf("%s: no day summary", tc.path)
		}
		if a.GoogleCalls != 1+4+tc.lists {
			t.Errorf("%s: %d Google calls, want settings + 4 + %d list", tc.path, a.GoogleCalls, tc.lists)
		}
	}
	// The 15-minute window 08:00-08:59 starts at 08:00.
	a := serve(t, e, "/1/user/-/activities/heart/date/2026-11-19/1d/15min/time/08:00/08:59.json", Metric)
	if got := a.Body.(map[string]any)["activities-heart-intraday"].(map[string]any)["dataset"].([]map[string]any)[0]["time"]; got != "08:00:00" {
		t.Errorf("first window at %v", got)
	}
}

// TestHeartSeriesLongerThanFourteenDays: calories in zone are rolled up in
// Google's 14-day chunks, so a month of heart rate is answered.
func TestHeartSeriesLongerThanFourteenDays(t *testing.T) {
	e, _ := startEngine(t)
	a := serve(t, e, "/1/user/-/activities/heart/date/2026-11-19/30d.json", Metric)
	if days := a.Body.(map[string]any)["activities-heart"].([]map[string]any); len(days) != 30 {
		t.Fatalf("%d days", len(days))
	}
	if a.GoogleCalls != 3+1+3 {
		t.Errorf("%d Google calls, want 7 (settings, two lists, one 90-day and three 14-day roll-ups)", a.GoogleCalls)
	}
}
