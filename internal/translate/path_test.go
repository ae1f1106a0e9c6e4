package translate

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		method, path, query string
		want                Endpoint
		check               func(*Request) bool
	}{
		{"GET", "/1/user/-/profile.json", "", Profile, nil},
		{"GET", "/1/user/ABC123/profile.json", "", Profile, func(r *Request) bool { return r.User == "ABC123" }},
		{"GET", "/1/user/-/activities/date/today.json", "", DailySummary, func(r *Request) bool { return r.End.Today }},
		{"GET", "/1/user/-/activities/steps/date/2026-01-31/7d.json", "", ActivityTimeSeries, func(r *Request) bool { return r.Period == "7d" && r.Resource == "steps" }},
		{"GET", "/1/user/-/activities/tracker/distance/date/2026-01-01/2026-01-31.json", "", ActivityTimeSeries, func(r *Request) bool { return r.Tracker && r.Resource == "distance" }},
		{"GET", "/1/user/-/activities/steps/date/2026-01-01/1d/15min/time/08:00/09:30.json", "", ActivityIntraday, func(r *Request) bool { return r.HasWindow && r.To == Clock{9, 30} && r.Detail == "15min" }},
		{"GET", "/1/user/-/activities/heart/date/today/1d.json", "", HeartTimeSeries, nil},
		{"GET", "/1/user/-/activities/heart/date/today/1d/1sec.json", "", HeartIntraday, nil},
		{"GET", "/1.2/user/-/sleep/date/2026-01-02.json", "", SleepByDate, nil},
		{"GET", "/1.2/user/-/sleep/date/2026-01-02/2026-02-01.json", "", SleepRange, nil},
		{"GET", "/1.2/user/-/sleep/list.json", "afterDate=2026-01-01&sort=asc&offset=0&limit=10", SleepList, func(r *Request) bool { return !r.List.Before && r.List.Limit == 10 }},
		{"GET", "/1/user/-/body/log/weight/date/2026-01-02/1m.json", "", WeightLog, nil},
		{"GET", "/1/user/-/body/log/fat/date/2026-01-02.json", "", FatLog, nil},
		{"GET", "/1/user/-/body/bmi/date/today/1y.json", "", BodyTimeSeries, func(r *Request) bool { return r.Resource == "bmi" }},
		{"GET", "/1/user/-/spo2/date/2026-01-01/2026-01-30.json", "", SpO2, nil},
		{"GET", "/1/user/-/hrv/date/today.json", "", HRV, nil},
		{"GET", "/1/user/-/br/date/today.json", "", BreathingRate, nil},
		{"GET", "/1/user/-/temp/skin/date/today.json", "", SkinTemperature, nil},
		{"GET", "/1/user/-/cardioscore/date/today.json", "", CardioFitness, nil},
		{"GET", "/1/user/-/devices.json", "", Devices, nil},
		{"GET", "/1/user/-/activities/list.json", "beforeDate=2026-01-01T10:00:00&sort=desc&limit=20", ExerciseList, nil},
		{"GET", "/1/user/-/activities/list.json", "afterDate=2026-01-01&sort=asc&limit=20&offset=40", ExerciseList, func(r *Request) bool {
			return r.List.Offset == 40 && r.List.Date == "2026-01-01" && !r.List.Before
		}},
		{"POST", "/1/user/-/body/log/weight.json", "weight=70.5&date=2026-01-01", WeightCreate, func(r *Request) bool { return r.Value == 70.5 && r.Time == Clock{23, 59} }},
		{"DELETE", "/1/user/-/body/log/fat/12345.json", "", FatDelete, func(r *Request) bool { return r.LogID == 12345 }},
	} {
		q, _ := url.ParseQuery(tc.query)
		r, err := Parse(tc.method, tc.path, q)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		if r.Endpoint != tc.want || (tc.check != nil && !tc.check(r)) {
			t.Errorf("%s %s: got %+v", tc.method, tc.path, r)
		}
	}
}

func TestParseRefusals(t *testing.T) {
	for _, tc := range []struct {
		method, path, query string
		status              int
		typ                 string
	}{
		{"GET", "/1/user/-/profile.xml", "", 400, NotAvailable},
		{"GET", "/1/user/-/profile", "", 400, Validation},
		{"GET", "/1/user/-/foods/log/date/today.json", "", 404, NotAvailable},
		{"GET", "/1/user/-/activities/steps/date/2026-01-01/2d.json", "", 400, Validation},
		{"GET", "/1/user/-/activities/steps/date/2020-01-01/2026-01-01.json", "", 400, Validation},
		{"GET", "/1/user/-/activities/steps/date/2026-02-01/2026-01-01.json", "", 400, Validation},
		{"GET", "/1.2/user/-/sleep/date/2026-01-01/2026-06-01.json", "", 400, Validation},
		{"GET", "/1/user/-/body/log/weight/date/2026-01-01/3m.json", "", 400, Validation},
		{"GET", "/1/user/-/activities/steps/date/2026-13-01/1d.json", "", 400, Validation},
		{"GET", "/1/user/-/activities/minutesSedentary/date/today/1d/1min.json", "", 404, NotAvailable},
		{"GET", "/1/user/-/activities/steps/date/today/1d/1sec.json", "", 400, Validation},
		{"GET", "/1/user/-/activities/steps/date/today/1d/1min/time/10:00/09:00.json", "", 400, Validation},
		{"GET", "/1.2/user/-/sleep/list.json", "afterDate=2026-01-01&sort=desc&limit=10", 400, Validation},
		{"GET", "/1.2/user/-/sleep/list.json", "afterDate=2026-01-01&sort=asc&limit=1000", 400, Validation},
		{"GET", "/1.2/user/-/sleep/list.json", "afterDate=2026-01-01&sort=asc&limit=10&offset=10", 400, Validation},
		{"GET", "/1/user/-/activities/list.json", "afterDate=2026-01-01&sort=asc&limit=10&offset=x", 400, Validation},
		{"POST", "/1/user/-/profile.json", "", 405, Validation},
		{"GET", "/1/user/a$b/profile.json", "", 400, Validation},
		{"GET", "/2/user/-/profile.json", "", 404, NotAvailable},
	} {
		q, _ := url.ParseQuery(tc.query)
		_, err := Parse(tc.method, tc.path, q)
		var e *Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Type != tc.typ {
			t.Errorf("%s %s: got %v (%+v), want %d %s", tc.method, tc.path, err, e, tc.status, tc.typ)
		}
	}
}

func TestUnknownPathNamesSuccessor(t *testing.T) {
	_, err := Parse("GET", "/1/user/-/foods/log/water/date/today.json", nil)
	var e *Error
	if !errors.As(err, &e) || e.Successor != successors["foods"] || e.Successor == "" {
		t.Fatalf("got %v", err)
	}
}

func TestSpan(t *testing.T) {
	r, err := Parse("GET", "/1/user/-/activities/steps/date/today/1m.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := time.FixedZone("UTC-5", -5*3600)
	now := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC) // still Feb 28 at UTC-5
	start, end, err := r.Span(now, loc)
	if err != nil || end.Format(dayLayout) != "2026-02-28" || start.Format(dayLayout) != "2026-01-29" {
		t.Fatalf("got %v %v %v", start, end, err)
	}
	r, _ = Parse("GET", "/1/user/-/hrv/date/2025-01-01/today.json", nil)
	if _, _, err := r.Span(now, loc); err == nil {
		t.Fatal("a range over the limit ending today was accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/1/user/-/profile.json", "/1/user/-/activities/steps/date/today/1d/1min/time/00:00/23:59.json",
		"/1.2/user/-/sleep/list.json", "/1/user/-/body/log/weight/1.json", "/1/user/-/temp/skin/date/today.json",
		"/1/user//", "/", "",
	} {
		f.Add(http.MethodGet, s, "afterDate=2026-01-01&sort=asc&limit=1")
	}
	f.Fuzz(func(t *testing.T, method, path, query string) {
		q, _ := url.ParseQuery(query)
		r, err := Parse(method, path, q)
		if (r == nil) == (err == nil) {
			t.Fatalf("Parse(%q) = %v, %v", path, r, err)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status == 0 {
				t.Fatalf("Parse(%q): untyped error %v", path, err)
			}
			return
		}
		_, _, _ = r.Span(time.Unix(0, 0), time.UTC)
	})
}
