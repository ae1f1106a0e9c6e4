package translate

import (
	"math"
	"strconv"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// startBodyEngine is startEngine for the body tests: the simulated Google
// renders the default user's synthetic person, whose one height sample
// (taken when the account was created) every list of the past finds.
func startBodyEngine(t *testing.T) *Engine {
	t.Helper()
	e, _ := startEngine(t)
	return e
}

func TestWeightLog(t *testing.T) {
	e := startBodyEngine(t)
	a := serve(t, e, "/1/user/-/body/log/weight/date/2026-11-19/30d.json", Metric)
	logs := a.Body.(map[string]any)["weight"].([]map[string]any)
	if len(logs) < 4 || len(logs) > 30 {
		t.Fatalf("%d weigh-ins in 30 days", len(logs))
	}
	if a.GoogleCalls != 1+3 {
		t.Errorf("%d Google calls, want settings + weight, body fat and height", a.GoogleCalls)
	}
	p := person.New(googlesim.DefaultLegacyUserID)
	m := float64(p.Profile.HeightMM) / 1000
	withFat := 0
	for i, l := range logs {
		w, bmi := l["weight"].(float64), l["bmi"].(float64)
		if w < 40 || w > 130 || bmi != round(w/m/m, 1) {
			t.Errorf("%d: weight %v bmi %v, height %v m", i, w, bmi, m)
		}
		// The person's weigh-ins: the body fat of the same one, when it
		// measured fat.
		day, _ := p.Day(l["date"].(string))
		want := p.Weighings(day)
		if len(want) != 1 || w != want[0].KG {
			t.Fatalf("%d: %v, the person's %+v", i, l, want)
		}
		if fat, ok := l["fat"].(float64); ok != want[0].HasFat || ok && fat != want[0].FatPct {
			t.Errorf("%d: fat %v, the person's %+v", i, l["fat"], want[0])
		} else if ok {
			withFat++
		}
		if l["date"].(string) < "2026-10-21" || l["date"].(string) > "2026-11-19" || len(l["time"].(string)) != 8 || l["logId"].(int64) <= 0 {
			t.Errorf("%d: %v", i, l)
		}
		if i > 0 && logs[i-1]["date"].(string) >= l["date"].(string) {
			t.Fatalf("not oldest first at %d", i)
		}
	}
	if withFat == 0 || withFat == len(logs) {
		t.Errorf("%d of %d weigh-ins with body fat", withFat, len(logs))
	}
	// The same weigh-in in pounds and in stone.
	w := logs[0]["weight"].(float64)
	us := serve(t, e, "/1/user/-/body/log/weight/date/2026-11-19/30d.json", US).Body.(map[string]any)["weight"].([]map[string]any)[0]["weight"].(float64)
	uk := serve(t, e, "/1/user/-/body/log/weight/date/2026-11-19/30d.json", UK).Body.(map[string]any)["weight"].([]map[string]any)[0]["weight"].(float64)
	if math.Abs(us-w*2.20462) > 0.2 || math.Abs(uk-w*2.20462/14) > 0.02 {
		t.Errorf("%v kg is %v lb and %v st", w, us, uk)
	}
	fat := serve(t, e, "/1/user/-/body/log/fat/date/2026-11-01/2026-11-19.json", Metric)
	fats := fat.Body.(map[string]any)["fat"].([]map[string]any)
	if len(fats) == 0 || fat.GoogleCalls != 1+1 {
		t.Errorf("fat logs: %d in %d calls", len(fats), fat.GoogleCalls)
	}
}

func TestBodySeriesCarriesForward(t *testing.T) {
	e := startBodyEngine(t)
	logs := serve(t, e, "/1/user/-/body/log/weight/date/2026-11-19/30d.json", Metric).Body.(map[string]any)["weight"].([]map[string]any)
	byDay := map[string]float64{}
	for _, l := range logs {
		byDay[l["date"].(string)] = l["weight"].(float64)
	}
	a := serve(t, e, "/1/user/-/body/weight/date/2026-11-19/30d.json", Metric)
	series := a.Body.(map[string]any)["body-weight"].([]map[string]string)
	if len(series) != 30 || a.GoogleCalls != 1+2 {
		t.Fatalf("%d days in %d calls", len(series), a.GoogleCalls)
	}
	last := ""
	for _, d := range series {
		if w, ok := byDay[d["dateTime"]]; ok {
			if got, _ := strconv.ParseFloat(d["value"], 64); got != w {
				t.Errorf("%s: series %s, log %v", d["dateTime"], d["value"], w)
			}
		} else if last != "" && d["value"] != last {
			t.Errorf("%s: %s, want %s carried forward", d["dateTime"], d["value"], last)
		}
		if d["value"] == "0" {
			t.Errorf("%s: no weight, though the simulator has history before the range", d["dateTime"])
		}
		last = d["value"]
	}
	bmi := serve(t, e, "/1/user/-/body/bmi/date/2026-11-19/7d.json", Metric)
	if v, _ := strconv.ParseFloat(bmi.Body.(map[string]any)["body-bmi"].([]map[string]string)[6]["value"], 64); v < 12 || v > 40 || bmi.GoogleCalls != 1+3 {
		t.Errorf("bmi %v in %d calls", v, bmi.GoogleCalls)
	}
}
