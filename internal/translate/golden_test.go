package translate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
)

// The golden equivalence test: the simulated Fitbit (internal/fitbitsim) and
// the simulated Google Health (internal/googlesim) render one synthetic
// person (internal/simkit/person), so for every translated endpoint and unit
// system the simulated Fitbit's own answer must equal, field by field, the
// Engine's answer translated from the simulated Google, as the endpoint's
// Mapping says: every leaf of either answer is covered by exactly one Field
// (Field.Paths), exact fields are equal, approximate ones within the Field's
// Tolerance (or, without one, present on both sides with the same shape),
// lost ones absent from the translation or the constant the Field names.

// goldenNow is both simulators' clock: 10:00:00 in the default person's
// zone (America/New_York), on a window's boundary, so today ends in a
// 15-minute window whose first minute alone has begun (a minute counts
// once it has begun, on both sides). The cases' days around it hold the
// end of daylight saving time (2026-11-01, 25 hours), off-wrist windows
// (2026-10-29, 10-30, 11-03, 11-04) and a night without nightly
// measurements (2026-11-02), which person.New("22B7NF") renders.
var goldenNow = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// goldenUnits are the unit systems by Accept-Language: US, UK and none
// (metric).
var goldenUnits = []string{"en_US", "en_GB", ""}

// goldenCases are the Fitbit calls compared, each in every unit system.
func goldenCases() []string {
	cases := []string{
		"/1/user/-/profile.json",
		"/1/user/-/devices.json",
	}
	// Today (the clock's day) is under way: its totals are what has happened.
	for _, d := range []string{"2026-11-01", "2026-11-03", "2026-11-19", "today"} {
		cases = append(cases, "/1/user/-/activities/date/"+d+".json")
	}
	for _, res := range []string{"steps", "distance", "floors", "elevation", "calories", "caloriesBMR", "activityCalories",
		"minutesSedentary", "minutesLightlyActive", "minutesFairlyActive", "minutesVeryActive"} {
		for _, tr := range []string{"", "tracker/"} {
			cases = append(cases, "/1/user/-/activities/"+tr+res+"/date/2026-11-04/7d.json",
				"/1/user/-/activities/"+tr+res+"/date/2026-10-29/2026-11-04.json")
		}
	}
	cases = append(cases, "/1/user/-/activities/steps/date/2026-11-04/1m.json")
	// Every detail level with and without a window; whole days of minutes
	// (1440 points, the most expensive cases) for two resources only.
	for _, res := range []string{"steps", "distance", "floors", "elevation", "calories"} {
		for _, detail := range []string{"1min", "5min", "15min"} {
			cases = append(cases, "/1/user/-/activities/"+res+"/date/2026-11-03/1d/"+detail+"/time/14:00/16:30.json")
		}
		cases = append(cases, "/1/user/-/activities/"+res+"/date/2026-11-01/1d/15min.json", "/1/user/-/activities/"+res+"/date/2026-11-04/1d/5min.json")
	}
	cases = append(cases, "/1/user/-/activities/steps/date/2026-11-01/1d/1min.json", "/1/user/-/activities/distance/date/2026-11-03/1d/1min.json",
		"/1/user/-/activities/calories/date/today/1d/15min.json", "/1/user/-/activities/steps/date/today/7d.json")
	cases = append(cases,
		"/1/user/-/activities/heart/date/2026-11-03/1d.json",
		"/1/user/-/activities/heart/date/today/1d.json",
		"/1/user/-/activities/heart/date/today/1d/1min/time/09:30/12:00.json",
		"/1/user/-/activities/steps/date/today/1d/1min/time/09:30/12:00.json",
		"/1.2/user/-/sleep/date/today.json",
		"/1/user/-/activities/heart/date/2026-11-04/7d.json",
		"/1/user/-/activities/heart/date/2026-10-29/2026-11-04.json",
		// A whole day of heart rate is 17,280 samples from Google, too slow
		// for CI under -race: windows, one of them over the hour the clock
		// repeats when daylight saving time ends.
		"/1/user/-/activities/heart/date/2026-11-01/1d/1min/time/00:30/02:30.json",
		"/1/user/-/activities/heart/date/2026-11-01/1d/15min/time/00:00/03:00.json",
		"/1/user/-/activities/heart/date/2026-11-03/1d/1min/time/14:00/16:30.json",
		"/1/user/-/activities/heart/date/2026-11-03/1d/1sec/time/15:00/16:00.json",
		"/1.2/user/-/sleep/date/2026-11-01.json",
		"/1.2/user/-/sleep/date/2026-11-02.json",
		"/1.2/user/-/sleep/date/2026-10-29/2026-11-04.json",
		"/1/user/-/sleep/date/2026-11-01.json",
		"/1.2/user/-/sleep/list.json?beforeDate=2026-11-04&sort=desc&offset=0&limit=3",
		"/1.2/user/-/sleep/list.json?afterDate=2026-10-29&sort=asc&offset=0&limit=3",
	)
	for _, kind := range []string{"weight", "fat"} {
		cases = append(cases, "/1/user/-/body/log/"+kind+"/date/2026-11-04.json",
			"/1/user/-/body/log/"+kind+"/date/2026-11-04/7d.json",
			"/1/user/-/body/log/"+kind+"/date/2026-10-29/2026-11-04.json")
	}
	for _, kind := range []string{"weight", "fat", "bmi"} {
		cases = append(cases, "/1/user/-/body/"+kind+"/date/2026-11-04/7d.json",
			"/1/user/-/body/"+kind+"/date/2026-10-29/2026-11-04.json")
	}
	for _, kind := range []string{"spo2", "hrv", "br", "temp/skin", "cardioscore"} {
		cases = append(cases, "/1/user/-/"+kind+"/date/2026-11-02.json",
			"/1/user/-/"+kind+"/date/2026-11-03.json",
			"/1/user/-/"+kind+"/date/2026-10-29/2026-11-04.json")
	}
	cases = append(cases,
		"/1/user/-/activities/list.json?beforeDate=2026-11-04&sort=desc&offset=0&limit=5",
		"/1/user/-/activities/list.json?afterDate=2026-10-29&sort=asc&offset=2&limit=5",
	)
	return cases
}

func TestGoldenEquivalence(t *testing.T) {
	people := goldenSims(t)
	t.Run("cases", func(t *testing.T) {
		for i, cases := range [][]string{goldenCases(), goldenCasesEast()} {
			g := people[i]
			for _, c := range cases {
				for _, lang := range goldenUnits {
					name := g.name + strings.TrimPrefix(c, "/")
					if lang != "" {
						name += "@" + lang
					}
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						g.check(t, c, lang)
					})
				}
			}
		}
	})
	// Every exact or approximate field with Paths met a leaf in some case:
	// a pattern nothing matches says nothing (a renamed key, a typo).
	for _, m := range Table {
		for i := range m.Fields {
			if f := &m.Fields[i]; f.Paths != "" && f.Fidelity != Lost && !goldenMet.has(f) {
				t.Errorf("%s: field %q (%s) covered no leaf of any case", m.Path, f.Fitbit, f.Paths)
			}
		}
	}
}

// goldenMet records the Fields that covered a leaf.
var goldenMet = metFields{m: map[*Field]bool{}}

type metFields struct {
	mu sync.Mutex
	m  map[*Field]bool
}

func (f *metFields) add(x *Field) { f.mu.Lock(); f.m[x] = true; f.mu.Unlock() }

func (f *metFields) has(x *Field) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.m[x] }

// goldenEast is a person east of UTC (Australia/Sydney, UTC+11 in
// November), whose day starts on the UTC day before; goldenNow is early
// on 2026-11-21 there, during the night's sleep.
const goldenEast = "7K0012"

// goldenCasesEast are the east person's cases: the day daylight saving
// time began (2026-10-04, 23 hours), today and the ranges around them.
func goldenCasesEast() []string {
	cases := []string{"/1/user/-/profile.json", "/1/user/-/devices.json"}
	for _, d := range []string{"2026-10-04", "today"} {
		cases = append(cases, "/1/user/-/activities/date/"+d+".json",
			"/1/user/-/activities/steps/date/"+d+"/1d/15min.json",
			"/1/user/-/activities/distance/date/"+d+"/1d/5min/time/00:00/06:00.json",
			"/1/user/-/activities/heart/date/"+d+"/1d.json",
			"/1/user/-/activities/heart/date/"+d+"/1d/1min/time/01:00/04:00.json",
			"/1.2/user/-/sleep/date/"+d+".json",
			"/1/user/-/sleep/date/"+d+".json",
			"/1/user/-/body/log/weight/date/"+d+"/7d.json",
			"/1/user/-/spo2/date/"+d+".json")
	}
	for _, res := range []string{"steps", "calories", "caloriesBMR", "minutesVeryActive"} {
		cases = append(cases, "/1/user/-/activities/"+res+"/date/2026-10-01/2026-10-07.json")
	}
	return append(cases,
		"/1/user/-/activities/tracker/distance/date/today/7d.json",
		"/1/user/-/activities/heart/date/2026-10-01/2026-10-07.json",
		"/1.2/user/-/sleep/date/2026-10-01/2026-10-07.json",
		"/1.2/user/-/sleep/list.json?beforeDate=2026-10-06&sort=desc&offset=0&limit=3",
		"/1/user/-/body/fat/date/2026-10-07/7d.json",
		"/1/user/-/body/log/fat/date/2026-10-01/2026-10-07.json",
		"/1/user/-/hrv/date/2026-10-01/2026-10-07.json",
		"/1/user/-/temp/skin/date/2026-10-01/2026-10-07.json",
		"/1/user/-/activities/list.json?afterDate=2026-10-03&sort=asc&offset=0&limit=4",
	)
}

// TestGoldenCasesCoverTable: every Mapping with Paths is compared.
func TestGoldenCasesCoverTable(t *testing.T) {
	seen := map[Endpoint]bool{}
	for _, c := range goldenCases() {
		seen[endpointOf(t, c)] = true
	}
	for _, m := range Table {
		hasPaths := false
		for _, f := range m.Fields {
			if _, err := f.Patterns(); err != nil {
				t.Errorf("%s: %v", m.Path, err)
			}
			hasPaths = hasPaths || f.Paths != ""
		}
		if hasPaths && !seen[m.Endpoint] {
			t.Errorf("%s has Paths but no golden case", m.Path)
		}
	}
}

func endpointOf(t *testing.T, target string) Endpoint {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	q, _ := url.ParseQuery(query)
	r, err := Parse(http.MethodGet, path, q)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	return r.Endpoint
}

// goldenPair is one person as the two simulators serve it: the simulated
// Fitbit with the person's token, and an Engine on the simulated Google.
type goldenPair struct {
	name   string // before the case's path in test names; "" for the default person
	fitbit *fitbitsim.Server
	token  string
	engine *Engine
}

var (
	goldenOnce   sync.Once
	goldenPeople []*goldenPair
	goldenErr    error
)

// goldenSims starts the one pair of simulators the cases share, serving
// the default person (America/New_York) and goldenEast.
func goldenSims(t *testing.T) []*goldenPair {
	t.Helper()
	goldenOnce.Do(func() {
		now := func() time.Time { return goldenNow }
		fs := fitbitsim.New(fitbitsim.Config{Now: now, RateLimitPerHour: -1, IntradayApproved: true})
		const eastGoogleUser = "2222222222222222222"
		gs, err := googlesim.Start(googlesim.Config{Now: now, RateLimitPerMinute: -1,
			LegacyUserIDs: map[string]string{googlesim.DefaultUserID: googlesim.DefaultLegacyUserID, eastGoogleUser: goldenEast}})
		if err != nil {
			goldenErr = err
			return
		}
		// Left running for the test binary's life: the cases of every test
		// share it.
		for _, u := range []struct{ name, fitbit, google string }{
			{"", fitbitsim.DefaultUserID, googlesim.DefaultUserID}, {"east:", goldenEast, eastGoogleUser},
		} {
			gt := gs.MintTokens(u.google, gs.AllScopes()...)
			e, err := NewEngine(context.Background(), &http.Client{Transport: bearer(gt.AccessToken)}, gs.URL(), now)
			if err != nil {
				goldenErr = err
				return
			}
			goldenPeople = append(goldenPeople, &goldenPair{name: u.name, fitbit: fs, token: fs.MintTokens(u.fitbit).AccessToken, engine: e})
		}
	})
	if goldenErr != nil {
		t.Fatal(goldenErr)
	}
	return goldenPeople
}

// fitbitAnswer is the simulated Fitbit's answer, decoded.
func (g *goldenPair) fitbitAnswer(t *testing.T, target, lang string) any {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://api.fitbit.com"+target, nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	rec := httptest.NewRecorder()
	g.fitbit.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("fitbitsim: %d %s", rec.Code, rec.Body)
	}
	return decode(t, rec.Body.Bytes())
}

// translated is the Engine's answer from the simulated Google, as the
// gateway writes it and an app decodes it.
func (g *goldenPair) translated(t *testing.T, target, lang string) (any, Endpoint) {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	q, _ := url.ParseQuery(query)
	r, err := Parse(http.MethodGet, path, q)
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.engine.Serve(context.Background(), r, UnitSystemFor(lang))
	if err != nil {
		t.Fatalf("translation: %v", err)
	}
	b, err := json.Marshal(a.Body)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, b), r.Endpoint
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// check compares the two answers to target.
func (g *goldenPair) check(t *testing.T, target, lang string) {
	fit := g.fitbitAnswer(t, target, lang)
	trans, ep := g.translated(t, target, lang)
	// The simulators render one person, so no leaf is exempt: nil diffs.
	problems, err := compareAnswers(Lookup(ep), nil, fit, trans)
	who := unitsName(lang)
	if g.name != "" {
		who = strings.TrimSuffix(g.name, ":") + ", " + who
	}
	if err != nil {
		t.Fatal(err)
	}
	// A wrong day of intraday data is a thousand leaves: the first few
	// tell what is wrong.
	const most = 20
	for i, p := range problems {
		if i == most {
			t.Errorf("%s [%s]: and %d more", target, who, len(problems)-most)
			break
		}
		t.Errorf("%s [%s]: %s", target, who, p)
	}
}

func unitsName(lang string) string {
	if lang == "" {
		return "metric"
	}
	return lang
}
