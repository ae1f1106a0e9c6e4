package fitbitsim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// dataClient reads data endpoints as one user with every scope.
type dataClient struct {
	t   *testing.T
	s   *Server
	tok string
}

func newDataClient(t *testing.T, cfg Config) dataClient {
	t.Helper()
	cfg.IntradayApproved = true
	s, _ := start(t, cfg)
	return dataClient{t, s, s.MintTokens("22B7NF", ValidScopes()...).AccessToken}
}

// get returns the decoded body of a 200 answer; lang is Accept-Language.
func (c dataClient) get(path, lang string) any {
	c.t.Helper()
	var hdr []string
	if lang != "" {
		hdr = []string{"Accept-Language", lang}
	}
	r := api(c.t, c.s, "GET", path, c.tok, nil, hdr...)
	if r.Status != 200 {
		c.t.Fatalf("%s: %d %s", path, r.Status, r.Body)
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		c.t.Fatalf("%s: %v", path, err)
	}
	again := api(c.t, c.s, "GET", path, c.tok, nil, hdr...)
	if string(again.Body) != string(r.Body) {
		c.t.Fatalf("%s is not deterministic", path)
	}
	return v
}

func (c dataClient) obj(path, lang string) map[string]any {
	c.t.Helper()
	m, ok := c.get(path, lang).(map[string]any)
	if !ok {
		c.t.Fatalf("%s: not an object", path)
	}
	return m
}

func list(t *testing.T, v any) []map[string]any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("not a list: %v", v)
	}
	out := make([]map[string]any, len(l))
	for i, e := range l {
		out[i] = e.(map[string]any)
	}
	return out
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case float64:
		return v
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		return f
	}
	t.Fatalf("value %v (%T) is not a number", v, v)
	return 0
}

func TestActivitySeriesAgreeWithSummary(t *testing.T) {
	c := newDataClient(t, Config{})
	const day = "2026-11-18"
	sum := c.obj("/1/user/-/activities/date/"+day+".json", "")["summary"].(map[string]any)
	for res, field := range map[string]string{
		"steps": "steps", "floors": "floors", "calories": "caloriesOut", "caloriesBMR": "caloriesBMR",
		"activityCalories": "activityCalories", "minutesSedentary": "sedentaryMinutes",
		"minutesLightlyActive": "lightlyActiveMinutes", "minutesFairlyActive": "fairlyActiveMinutes",
		"minutesVeryActive": "veryActiveMinutes", "elevation": "elevation",
	} {
		for _, tracker := range []string{"", "tracker/"} {
			key := "activities-" + tracker[:len(tracker)-min(1, len(tracker))]
			if tracker != "" {
				key += "-"
			}
			key += res
			pts := list(t, c.obj("/1/user/-/activities/"+tracker+res+"/date/"+day+"/1d.json", "")[key])
			if len(pts) != 1 || pts[0]["dateTime"] != day {
				t.Fatalf("%s%s: %v", tracker, res, pts)
			}
			if _, isString := pts[0]["value"].(string); !isString || num(t, pts[0]["value"]) != num(t, sum[field]) {
				t.Errorf("%s%s = %v, summary %s = %v", tracker, res, pts[0]["value"], field, sum[field])
			}
		}
	}
	dist := list(t, c.obj("/1/user/-/activities/distance/date/"+day+"/1d.json", "")["activities-distance"])
	total := sum["distances"].([]any)[0].(map[string]any)["distance"]
	if math.Abs(num(t, dist[0]["value"])-num(t, total)) > 0.005 {
		t.Errorf("distance %v, summary %v", dist[0]["value"], total)
	}

	// Periods end on the date; ranges are inclusive.
	for period, n := range map[string]int{"7d": 7, "1w": 7, "30d": 30, "1m": 31, "3m": 92, "1y": 365} {
		pts := list(t, c.obj("/1/user/-/activities/steps/date/2026-11-30/"+period+".json", "")["activities-steps"])
		if len(pts) != n || pts[n-1]["dateTime"] != "2026-11-30" {
			t.Errorf("%s: %d points, last %v", period, len(pts), pts[len(pts)-1])
		}
	}
	rng := list(t, c.obj("/1/user/-/activities/steps/date/2026-11-16/2026-11-20.json", "")["activities-steps"])
	if len(rng) != 5 || rng[2]["dateTime"] != day || rng[2]["value"] != fmt.Sprint(sum["steps"]) {
		t.Errorf("range: %v", rng)
	}
	wantError(t, api(t, c.s, "GET", "/1/user/-/activities/steps/date/2020-01-01/2026-01-01.json", c.tok, nil), 400, "validation")
	wantError(t, api(t, c.s, "GET", "/1/user/-/activities/steps/date/2026-01-02/2026-01-01.json", c.tok, nil), 400, "validation")
	wantError(t, api(t, c.s, "GET", "/1/user/-/activities/steps/date/2026-01-02/2d.json", c.tok, nil), 400, "validation")
}

func TestActivityUnits(t *testing.T) {
	c := newDataClient(t, Config{})
	path := "/1/user/-/activities/date/2026-11-18.json"
	km := num(t, c.obj(path, "")["summary"].(map[string]any)["distances"].([]any)[0].(map[string]any)["distance"])
	mi := num(t, c.obj(path, "en_US")["summary"].(map[string]any)["distances"].([]any)[0].(map[string]any)["distance"])
	uk := num(t, c.obj(path, "en_GB")["summary"].(map[string]any)["distances"].([]any)[0].(map[string]any)["distance"])
	if math.Abs(km/1.609344-mi) > 0.01 || uk != km {
		t.Errorf("distance %v km, %v mi, en_GB %v", km, mi, uk)
	}
	m := num(t, list(t, c.obj("/1/user/-/activities/elevation/date/2026-11-18/1d.json", "")["activities-elevation"])[0]["value"])
	ft := num(t, list(t, c.obj("/1/user/-/activities/elevation/date/2026-11-18/1d.json", "en_US")["activities-elevation"])[0]["value"])
	if math.Abs(m/0.3048-ft) > 0.02 {
		t.Errorf("elevation %v m, %v ft", m, ft)
	}
	p := c.obj("/1/user/-/profile.json", "")["user"].(map[string]any)
	us := c.obj("/1/user/-/profile.json", "en_US")["user"].(map[string]any)
	gb := c.obj("/1/user/-/profile.json", "en_GB")["user"].(map[string]any)
	if math.Abs(num(t, p["strideLengthWalking"])/2.54-num(t, us["strideLengthWalking"])) > 0.1 ||
		math.Abs(num(t, p["weight"])*2.20462-num(t, us["weight"])) > 0.2 ||
		math.Abs(num(t, p["weight"])/6.35029-num(t, gb["weight"])) > 0.1 || p["timezone"] != "America/New_York" ||
		p["offsetFromUTCMillis"] != float64(-5*3600*1000) || p["distanceUnit"] != "METRIC" || us["distanceUnit"] != "en_US" {
		t.Errorf("profiles: %v / %v / %v", p, us, gb)
	}
}

func TestActivityIntraday(t *testing.T) {
	c := newDataClient(t, Config{})
	const day = "2026-11-18"
	sum := c.obj("/1/user/-/activities/date/"+day+".json", "")["summary"].(map[string]any)
	for detail, step := range map[string]int{"1min": 1, "5min": 5, "15min": 15} {
		m := c.obj("/1/user/-/activities/steps/date/"+day+"/1d/"+detail+".json", "")
		intra := m["activities-steps-intraday"].(map[string]any)
		pts := list(t, intra["dataset"])
		total := 0.0
		for _, p := range pts {
			total += num(t, p["value"])
		}
		if len(pts) != 1440/step || intra["datasetInterval"] != float64(step) || intra["datasetType"] != "minute" ||
			total != num(t, sum["steps"]) || pts[1]["time"] != fmt.Sprintf("00:%02d:00", step) ||
			list(t, m["activities-steps"])[0]["value"] != fmt.Sprint(sum["steps"]) {
			t.Errorf("%s: %d points, total %v of %v, %v", detail, len(pts), total, sum["steps"], intra["datasetInterval"])
		}
	}
	cal := list(t, c.obj("/1/user/-/activities/calories/date/"+day+"/1d/1min.json", "")["activities-calories-intraday"].(map[string]any)["dataset"])
	kc := 0.0
	for _, p := range cal {
		if _, ok := p["level"]; !ok || p["mets"] == nil {
			t.Fatalf("calories point %v", p)
		}
		kc += num(t, p["value"])
	}
	if math.Abs(kc-num(t, sum["caloriesOut"])) > 1 {
		t.Errorf("calories intraday %v, caloriesOut %v", kc, sum["caloriesOut"])
	}
	// A window, its end inclusive.
	w := c.obj("/1/user/-/activities/tracker/steps/date/"+day+"/1d/15min/time/08:00/09:59.json", "")
	pts := list(t, w["activities-tracker-steps-intraday"].(map[string]any)["dataset"])
	if len(pts) != 8 || pts[0]["time"] != "08:00:00" || pts[7]["time"] != "09:45:00" {
		t.Errorf("window: %v", pts)
	}
	wantError(t, api(t, c.s, "GET", "/1/user/-/activities/steps/date/"+day+"/1d/1sec.json", c.tok, nil), 400, "validation")
	wantError(t, api(t, c.s, "GET", "/1/user/-/activities/minutesSedentary/date/"+day+"/1d/1min.json", c.tok, nil), 400, "validation")
	wantError(t, api(t, c.s, "GET", "/1/user/-/activities/steps/date/"+day+"/1d/1min/time/10:00/09:00.json", c.tok, nil), 400, "validation")

	plain, _ := start(t, Config{})
	tok := plain.MintTokens("", "activity").AccessToken
	wantError(t, api(t, plain, "GET", "/1/user/-/activities/steps/date/"+day+"/1d/1min.json", tok, nil), 403, "insufficient_permissions")
}

func TestHeart(t *testing.T) {
	c := newDataClient(t, Config{})
	const day = "2026-11-18"
	one := list(t, c.obj("/1/user/-/activities/heart/date/"+day+"/1d.json", "")["activities-heart"])
	v := one[0]["value"].(map[string]any)
	zones := list(t, v["heartRateZones"])
	if len(zones) != 4 || zones[0]["name"] != "Out of Range" || zones[3]["name"] != "Peak" || zones[1]["min"] != zones[0]["max"] {
		t.Fatalf("zones %v", zones)
	}
	summary := c.obj("/1/user/-/activities/date/"+day+".json", "")["summary"].(map[string]any)
	if summary["restingHeartRate"] != v["restingHeartRate"] || fmt.Sprint(summary["heartRateZones"]) != fmt.Sprint(v["heartRateZones"]) {
		t.Errorf("summary heart %v / %v", summary["restingHeartRate"], v["restingHeartRate"])
	}
	week := list(t, c.obj("/1/user/-/activities/heart/date/"+day+"/7d.json", "")["activities-heart"])
	rng := list(t, c.obj("/1/user/-/activities/heart/date/2026-11-12/"+day+".json", "")["activities-heart"])
	if len(week) != 7 || fmt.Sprint(week) != fmt.Sprint(rng) || week[6]["dateTime"] != day {
		t.Errorf("week %d entries", len(week))
	}

	// Minutes in zones are the minutes with a heart rate.
	minutes := 0.0
	for _, z := range zones {
		minutes += num(t, z["minutes"])
	}
	pts := list(t, c.obj("/1/user/-/activities/heart/date/"+day+"/1d/1min.json", "")["activities-heart-intraday"].(map[string]any)["dataset"])
	if float64(len(pts)) != minutes {
		t.Errorf("%d minutes of heart rate, %v in zones", len(pts), minutes)
	}
	sec := c.obj("/1/user/-/activities/heart/date/"+day+"/1d/1sec/time/12:00/12:00.json", "")["activities-heart-intraday"].(map[string]any)
	sp := list(t, sec["dataset"])
	if sec["datasetType"] != "second" || len(sp) != 12 || sp[1]["time"] != "12:00:05" {
		t.Errorf("1sec window: %v", sec)
	}

	// An off-wrist window leaves a gap; find a day with one.
	p := person.New("22B7NF")
	d, _ := p.Day("2026-11-01")
	for ; p.Activity(d).OffWrist.To == 0; d = d.AddDate(0, 0, 1) {
	}
	ow := p.Activity(d).OffWrist
	pts = list(t, c.obj("/1/user/-/activities/heart/date/"+d.Format(time.DateOnly)+"/1d/1min.json", "")["activities-heart-intraday"].(map[string]any)["dataset"])
	gap := fmt.Sprintf("%02d:%02d:00", ow.From/60, ow.From%60)
	for _, pt := range pts {
		if pt["time"] == gap {
			t.Errorf("heart rate at %s, off the wrist", gap)
		}
	}
	steps := list(t, c.obj("/1/user/-/activities/steps/date/"+d.Format(time.DateOnly)+"/1d/1min.json", "")["activities-steps-intraday"].(map[string]any)["dataset"])
	if steps[ow.From]["value"] != float64(0) || len(steps) != 1440 {
		t.Errorf("steps while off the wrist: %v", steps[ow.From])
	}
}

func TestSleepRangeAndList(t *testing.T) {
	c := newDataClient(t, Config{})
	one := c.obj("/1.2/user/-/sleep/date/2026-11-18.json", "")
	rec := list(t, one["sleep"])[0]
	lv := rec["levels"].(map[string]any)
	secs := 0.0
	for _, d := range list(t, lv["data"]) {
		secs += num(t, d["seconds"])
	}
	if secs != num(t, rec["duration"])/1000 || rec["dateOfSleep"] != "2026-11-18" ||
		num(t, rec["minutesAsleep"])+num(t, rec["minutesAwake"]) != num(t, rec["timeInBed"]) {
		t.Errorf("sleep record %v", rec)
	}
	rng := list(t, c.obj("/1.2/user/-/sleep/date/2026-11-16/2026-11-18.json", "")["sleep"])
	if len(rng) != 3 || fmt.Sprint(rng[2]) != fmt.Sprint(rec) {
		t.Errorf("range: %d records", len(rng))
	}
	wantError(t, api(t, c.s, "GET", "/1.2/user/-/sleep/date/2026-01-01/2026-11-18.json", c.tok, nil), 400, "validation")

	desc := c.obj("/1.2/user/-/sleep/list.json?beforeDate=2026-11-19&sort=desc&offset=0&limit=3", "")
	dl := list(t, desc["sleep"])
	pg := desc["pagination"].(map[string]any)
	if len(dl) != 3 || dl[0]["dateOfSleep"] != "2026-11-18" || dl[2]["dateOfSleep"] != "2026-11-16" || pg["next"] == "" {
		t.Errorf("desc list: %v %v", dl, pg)
	}
	asc := list(t, c.obj("/1.2/user/-/sleep/list.json?afterDate=2026-11-16&sort=asc&offset=0&limit=2", "")["sleep"])
	if len(asc) != 2 || asc[0]["dateOfSleep"] != "2026-11-16" || asc[1]["dateOfSleep"] != "2026-11-17" {
		t.Errorf("asc list: %v", asc)
	}
	wantError(t, api(t, c.s, "GET", "/1.2/user/-/sleep/list.json?beforeDate=2026-11-19&sort=asc&limit=3", c.tok, nil), 400, "validation")
	wantError(t, api(t, c.s, "GET", "/1.2/user/-/sleep/list.json?beforeDate=2026-11-19&sort=desc&limit=101", c.tok, nil), 400, "validation")
}

// TestSleepV1: the classic shape of the same night as v1.2, a value a
// minute, its counts adding up.
func TestSleepV1(t *testing.T) {
	c := newDataClient(t, Config{})
	v12 := list(t, c.obj("/1.2/user/-/sleep/date/2026-11-18.json", "")["sleep"])[0]
	v1 := c.obj("/1/user/-/sleep/date/2026-11-18.json", "")
	rec := list(t, v1["sleep"])[0]
	minutes := list(t, rec["minuteData"])
	if len(minutes) != int(num(t, rec["timeInBed"])) || rec["timeInBed"] != v12["timeInBed"] || rec["logId"] != v12["logId"] ||
		rec["startTime"] != v12["startTime"] || minutes[0]["dateTime"] != v12["startTime"].(string)[11:19] {
		t.Errorf("v1 %v against v1.2 %v", rec, v12)
	}
	awake := 0.0
	for _, m := range minutes {
		if m["value"] == "3" {
			awake++
		} else if m["value"] != "1" {
			t.Errorf("minute %v", m)
		}
	}
	if awake != num(t, rec["awakeDuration"]) || num(t, rec["minutesAsleep"])+awake != num(t, rec["timeInBed"]) ||
		num(t, v1["summary"].(map[string]any)["totalTimeInBed"]) != num(t, rec["timeInBed"]) {
		t.Errorf("v1 counts: %v", rec)
	}
}

func TestBody(t *testing.T) {
	c := newDataClient(t, Config{})
	logs := list(t, c.obj("/1/user/-/body/log/weight/date/2026-11-30/30d.json", "")["weight"])
	fat := list(t, c.obj("/1/user/-/body/log/fat/date/2026-11-01/2026-11-30.json", "")["fat"])
	if len(logs) == 0 || len(fat) == 0 || len(fat) >= len(logs) {
		t.Fatalf("%d weight logs, %d fat logs", len(logs), len(fat))
	}
	w := logs[0]
	for _, k := range []string{"bmi", "date", "logId", "source", "time", "weight"} {
		if _, ok := w[k]; !ok {
			t.Errorf("weight log lacks %s: %v", k, w)
		}
	}
	date := w["date"].(string)
	byDay := list(t, c.obj("/1/user/-/body/log/weight/date/"+date+".json", "")["weight"])
	lb := list(t, c.obj("/1/user/-/body/log/weight/date/"+date+".json", "en_US")["weight"])
	st := list(t, c.obj("/1/user/-/body/log/weight/date/"+date+".json", "en_GB")["weight"])
	kg := num(t, byDay[0]["weight"])
	if math.Abs(kg*2.20462-num(t, lb[0]["weight"])) > 0.1 || math.Abs(kg/6.35029-num(t, st[0]["weight"])) > 0.1 || lb[0]["bmi"] != byDay[0]["bmi"] {
		t.Errorf("units: %v kg, %v lb, %v st", kg, lb[0]["weight"], st[0]["weight"])
	}
	series := list(t, c.obj("/1/user/-/body/weight/date/2026-11-30/30d.json", "")["body-weight"])
	bmi := list(t, c.obj("/1/user/-/body/bmi/date/2026-11-01/2026-11-30.json", "")["body-bmi"])
	if len(series) != 30 || len(bmi) != 30 {
		t.Fatalf("%d weights, %d bmis", len(series), len(bmi))
	}
	for _, pt := range series {
		if pt["dateTime"] == date && num(t, pt["value"]) != kg {
			t.Errorf("series %v on a day logged %v", pt["value"], kg)
		}
	}
	fs := list(t, c.obj("/1/user/-/body/fat/date/2026-11-30/1m.json", "")["body-fat"])
	if len(fs) != 31 {
		t.Errorf("fat series %d", len(fs))
	}
	wantError(t, api(t, c.s, "GET", "/1/user/-/body/log/weight/date/2026-10-01/2026-11-30.json", c.tok, nil), 400, "validation")
}

func TestNightlyAndCardio(t *testing.T) {
	c := newDataClient(t, Config{})
	p := person.New("22B7NF")
	d, _ := p.Day("2026-11-01")
	var with, without string
	for ; with == "" || without == ""; d = d.AddDate(0, 0, 1) {
		if _, ok := p.Nightly(d); ok {
			with = d.Format(time.DateOnly)
		} else {
			without = d.Format(time.DateOnly)
		}
	}
	sp := c.obj("/1/user/-/spo2/date/"+with+".json", "")
	v := sp["value"].(map[string]any)
	if sp["dateTime"] != with || num(t, v["min"]) > num(t, v["avg"]) || num(t, v["avg"]) > num(t, v["max"]) {
		t.Errorf("spo2 %v", sp)
	}
	if m := c.obj("/1/user/-/spo2/date/"+without+".json", ""); len(m) != 0 {
		t.Errorf("spo2 of a night without data: %v", m)
	}
	for kind, key := range map[string]string{"hrv": "hrv", "br": "br", "temp/skin": "tempSkin", "cardioscore": "cardioScore"} {
		day := list(t, c.obj("/1/user/-/"+kind+"/date/"+with+".json", "")[key])
		if len(day) != 1 || day[0]["dateTime"] != with || day[0]["value"] == nil {
			t.Errorf("%s: %v", kind, day)
		}
		rng := list(t, c.obj("/1/user/-/"+kind+"/date/2026-11-01/2026-11-30.json", "")[key])
		if len(rng) == 0 || len(rng) > 30 || (kind != "cardioscore" && len(rng) == 30) {
			t.Errorf("%s range: %d entries", kind, len(rng))
		}
		wantError(t, api(t, c.s, "GET", "/1/user/-/"+kind+"/date/2026-10-01/2026-11-30.json", c.tok, nil), 400, "validation")
	}
	spr := list(t, c.get("/1/user/-/spo2/date/2026-11-01/2026-11-30.json", ""))
	if len(spr) == 0 || len(spr) == 30 {
		t.Errorf("spo2 range %d", len(spr))
	}
	hrv := list(t, c.obj("/1/user/-/hrv/date/"+with+".json", "")["hrv"])[0]["value"].(map[string]any)
	if _, ok := hrv["deepRmssd"]; !ok || num(t, hrv["dailyRmssd"]) <= 0 {
		t.Errorf("hrv %v", hrv)
	}
}

func TestDevicesAndActivityList(t *testing.T) {
	c := newDataClient(t, Config{})
	devs := list(t, c.get("/1/user/-/devices.json", ""))
	if len(devs) != 1 || devs[0]["type"] != "TRACKER" || devs[0]["deviceVersion"] == "" || devs[0]["lastSyncTime"] == nil {
		t.Fatalf("devices %v", devs)
	}
	m := c.obj("/1/user/-/activities/list.json?beforeDate=2026-11-19&sort=desc&offset=0&limit=5", "")
	acts := list(t, m["activities"])
	if len(acts) != 5 || m["pagination"].(map[string]any)["next"] == "" {
		t.Fatalf("list: %v", m)
	}
	for i, a := range acts {
		if a["logType"] != "auto_detected" || (a["activityName"] != "Walk" && a["activityName"] != "Run") || num(t, a["steps"]) <= 0 {
			t.Errorf("activity %v", a)
		}
		if i > 0 && a["startTime"].(string) >= acts[i-1]["startTime"].(string) {
			t.Errorf("not newest first: %v after %v", a["startTime"], acts[i-1]["startTime"])
		}
	}
	next := list(t, c.obj("/1/user/-/activities/list.json?beforeDate=2026-11-19&sort=desc&offset=5&limit=5", "")["activities"])
	if len(next) != 5 || next[0]["logId"] == acts[4]["logId"] {
		t.Errorf("second page %v", next)
	}
	mi := list(t, c.obj("/1/user/-/activities/list.json?beforeDate=2026-11-19&sort=desc&offset=0&limit=5", "en_US")["activities"])
	if mi[0]["distanceUnit"] != "Mile" || math.Abs(num(t, acts[0]["distance"])/1.609344-num(t, mi[0]["distance"])) > 0.001 {
		t.Errorf("miles: %v vs %v", mi[0], acts[0])
	}
	wantError(t, api(t, c.s, "GET", "/1/user/-/activities/list.json?sort=desc&limit=5", c.tok, nil), 400, "validation")

	// Scopes: each family needs its own.
	tok := c.s.MintTokens("22B7NF", "profile").AccessToken
	for path, coll := range map[string]string{
		"/1/user/-/devices.json":                        "settings",
		"/1/user/-/body/log/weight/date/today.json":     "weight",
		"/1/user/-/spo2/date/today.json":                "oxygen saturation",
		"/1/user/-/br/date/today.json":                  "respiratory rate",
		"/1/user/-/temp/skin/date/today.json":           "temperature",
		"/1/user/-/cardioscore/date/today.json":         "cardio fitness",
		"/1/user/-/hrv/date/today.json":                 "heart rate",
		"/1/user/-/activities/steps/date/today/1d.json": "activity",
	} {
		it := wantError(t, api(t, c.s, "GET", path, tok, nil), 403, "insufficient_scope")
		if it.Message != "This application does not have permission to access "+coll+" data. "+visit {
			t.Errorf("%s: %q", path, it.Message)
		}
	}
}

func TestBodyWrites(t *testing.T) {
	c := newDataClient(t, Config{})
	post := func(path, form, lang string) response {
		return api(t, c.s, "POST", path, c.tok, strings.NewReader(form),
			"Content-Type", "application/x-www-form-urlencoded", "Accept-Language", lang)
	}
	r := post("/1/user/-/body/log/weight.json", "weight=154.3&date=2026-11-20&time=21:30:00", "en_US")
	if r.Status != 201 {
		t.Fatalf("create weight: %d %s", r.Status, r.Body)
	}
	wl := r.JSON(t)["weightLog"].(map[string]any)
	if wl["weight"] != 154.3 || wl["source"] != "API" || wl["time"] != "21:30:00" || wl["date"] != "2026-11-20" {
		t.Fatalf("weightLog %v", wl)
	}
	logs := list(t, c.obj("/1/user/-/body/log/weight/date/2026-11-20.json", "")["weight"])
	last := logs[len(logs)-1]
	if math.Abs(num(t, last["weight"])-154.3/2.20462) > 0.05 || last["logId"] != wl["logId"] {
		t.Fatalf("logs after create: %v", logs)
	}
	if s := list(t, c.obj("/1/user/-/body/weight/date/2026-11-20/1d.json", "en_US")["body-weight"]); s[0]["value"] != "154.3" {
		t.Errorf("series after create: %v", s)
	}
	r = post("/1/user/-/body/log/fat.json", "fat=21.5&date=2026-11-20", "")
	fl := r.JSON(t)["fatLog"].(map[string]any)
	if r.Status != 201 || fl["fat"] != 21.5 || fl["time"] != "23:59:59" {
		t.Fatalf("create fat: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"weight=x&date=2026-11-20", "weight=70", "weight=70&date=2026-11-20&time=25:00:00"} {
		wantError(t, post("/1/user/-/body/log/weight.json", bad, ""), 400, "validation")
	}

	id := fmt.Sprint(int64(wl["logId"].(float64)))
	if r := api(t, c.s, "DELETE", "/1/user/-/body/log/weight/"+id+".json", c.tok, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if after := list(t, c.obj("/1/user/-/body/log/weight/date/2026-11-20.json", "")["weight"]); len(after) != len(logs)-1 {
		t.Errorf("%d logs after delete, %d before", len(after), len(logs))
	}
	wantError(t, api(t, c.s, "DELETE", "/1/user/-/body/log/weight/"+id+".json", c.tok, nil), 404, "not_found")
	fid := fmt.Sprint(int64(fl["logId"].(float64)))
	if r := api(t, c.s, "DELETE", "/1/user/-/body/log/fat/"+fid+".json", c.tok, nil); r.Status != 204 {
		t.Fatalf("delete fat: %d %s", r.Status, r.Body)
	}
	if fats := list(t, c.obj("/1/user/-/body/log/fat/date/2026-11-20.json", "")["fat"]); len(fats) > 1 {
		t.Errorf("fat logs after delete: %v", fats)
	}
}

func TestTodayGrowsWithTheClock(t *testing.T) {
	c := newDataClient(t, Config{})
	sum := c.obj("/1/user/-/activities/date/today.json", "")["summary"].(map[string]any)
	pts := list(t, c.obj("/1/user/-/activities/steps/date/today/1d/1min.json", "")["activities-steps-intraday"].(map[string]any)["dataset"])
	steps := 0.0
	for _, p := range pts {
		steps += num(t, p["value"])
	}
	// 10:15:30 UTC is 05:15:30 in New York: 316 minutes have begun.
	if len(pts) != 316 || steps != num(t, sum["steps"]) {
		t.Errorf("%d minutes today, %v steps, summary %v", len(pts), steps, sum["steps"])
	}
	zones := 0.0
	for _, z := range list(t, sum["heartRateZones"]) {
		zones += num(t, z["minutes"])
	}
	if zones > 316 {
		t.Errorf("%v zone minutes by 05:15", zones)
	}
	tomorrow := c.s.now().Add(48 * time.Hour).Format(time.DateOnly)
	if v := list(t, c.obj("/1/user/-/activities/calories/date/"+tomorrow+"/1d.json", "")["activities-calories"])[0]["value"]; v != "0" {
		t.Errorf("calories of a future day: %v", v)
	}
}
