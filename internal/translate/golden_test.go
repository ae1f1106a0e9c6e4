package translate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
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

// goldenNow is both simulators' clock: 10:00 in the default person's zone
// (America/New_York). The cases' days around it hold the end of daylight
// saving time (2026-11-01, 25 hours), off-wrist windows (2026-10-29,
// 10-30, 11-03, 11-04) and a night without nightly measurements
// (2026-11-02), which person.New("22B7NF") renders.
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
	for _, d := range []string{"2026-11-01", "2026-11-03", "2026-11-19"} {
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
	cases = append(cases, "/1/user/-/activities/steps/date/2026-11-01/1d/1min.json", "/1/user/-/activities/distance/date/2026-11-03/1d/1min.json")
	cases = append(cases,
		"/1/user/-/activities/heart/date/2026-11-03/1d.json",
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

// simDifference is where the two simulators model something differently
// that the translation carries over faithfully: the leaves its pattern
// covers are compared for presence only.
type simDifference struct {
	endpoint Endpoint
	pattern  string
	why      string
}

// None left: both simulators take the tracker's sync time from the
// person (person.LastSync).
var simDifferences = []simDifference{}

func TestGoldenEquivalence(t *testing.T) {
	g := goldenSims(t)
	for _, c := range goldenCases() {
		for _, lang := range goldenUnits {
			name := strings.TrimPrefix(c, "/")
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

type goldenPair struct {
	fitbit *fitbitsim.Server
	token  string
	engine *Engine
}

var (
	goldenOnce sync.Once
	golden     *goldenPair
	goldenErr  error
)

// goldenSims starts the one pair of simulators the cases share.
func goldenSims(t *testing.T) *goldenPair {
	t.Helper()
	goldenOnce.Do(func() {
		now := func() time.Time { return goldenNow }
		fs := fitbitsim.New(fitbitsim.Config{Now: now, RateLimitPerHour: -1, IntradayApproved: true})
		gs, err := googlesim.Start(googlesim.Config{Now: now, RateLimitPerMinute: -1})
		if err != nil {
			goldenErr = err
			return
		}
		// Left running for the test binary's life: the cases of every test
		// share it.
		gt := gs.MintTokens(gs.Config().DefaultUser, gs.AllScopes()...)
		e, err := NewEngine(context.Background(), &http.Client{Transport: bearer(gt.AccessToken)}, gs.URL(), now)
		if err != nil {
			goldenErr = err
			return
		}
		golden = &goldenPair{fitbit: fs, token: fs.MintTokens("").AccessToken, engine: e}
	})
	if goldenErr != nil {
		t.Fatal(goldenErr)
	}
	return golden
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

// goldenGroup is what one Field covers at one place of the answers: the
// leaves under one match of one of its patterns, on each side.
type goldenGroup struct {
	field      *Field
	pattern    PathPattern
	presence   string // why only presence is compared, "" for the Field's fidelity
	fit, trans map[string]any
}

// check compares the two answers to target.
func (g *goldenPair) check(t *testing.T, target, lang string) {
	fit := g.fitbitAnswer(t, target, lang)
	trans, ep := g.translated(t, target, lang)
	var diffs []PathPattern
	for _, d := range simDifferences {
		if d.endpoint == ep {
			ps, _ := Field{Paths: d.pattern}.Patterns()
			diffs = append(diffs, ps...)
		}
	}
	problems, err := compareAnswers(Lookup(ep), diffs, fit, trans)
	if err != nil {
		t.Fatal(err)
	}
	// A wrong day of intraday data is a thousand leaves: the first few
	// tell what is wrong.
	const most = 20
	for i, p := range problems {
		if i == most {
			t.Errorf("%s [%s]: and %d more", target, unitsName(lang), len(problems)-most)
			break
		}
		t.Errorf("%s [%s]: %s", target, unitsName(lang), p)
	}
}

// compareAnswers holds Fitbit's answer against the translated one by m's
// Fields and returns what differs; leaves under diffs are compared for
// presence only.
func compareAnswers(m *Mapping, diffs []PathPattern, fit, trans any) ([]string, error) {
	type fieldPattern struct {
		field *Field
		pat   PathPattern
	}
	var pats []fieldPattern
	for i := range m.Fields {
		ps, err := m.Fields[i].Patterns()
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			pats = append(pats, fieldPattern{&m.Fields[i], p})
		}
	}
	groups := map[string]*goldenGroup{}
	var order, problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	add := func(side map[string]any, isFit bool) error {
		for _, path := range slices.Sorted(maps.Keys(side)) {
			v := side[path]
			segs, err := SplitPath(path)
			if err != nil {
				return err
			}
			var hit []fieldPattern
			n := 0
			for _, fp := range pats {
				if k, ok := fp.pat.Match(segs); ok {
					if len(hit) == 0 || hit[0].field != fp.field {
						hit = append(hit, fp)
					}
					n = k
				}
			}
			if len(hit) == 0 {
				if isEmptyContainer(v) && slices.ContainsFunc(pats, func(fp fieldPattern) bool { return fp.pat.Extends(segs) }) {
					continue // an empty list or object where the Fields name its elements
				}
				report("%s = %s (%s) is covered by no Field of %s", path, show(v), sideName(isFit), m.Path)
				continue
			}
			if len(hit) > 1 {
				report("%s is covered by two Fields: %q and %q", path, hit[0].field.Fitbit, hit[1].field.Fitbit)
				continue
			}
			key := fmt.Sprintf("%p %s", hit[0].field, strings.Join(segs[:n], "."))
			gr := groups[key]
			if gr == nil {
				gr = &goldenGroup{field: hit[0].field, pattern: hit[0].pat, fit: map[string]any{}, trans: map[string]any{}}
				for _, d := range diffs {
					if _, ok := d.Match(segs); ok {
						gr.presence = "a known difference of the simulators"
					}
				}
				groups[key] = gr
				order = append(order, key)
			}
			if isFit {
				gr.fit[path] = v
			} else {
				gr.trans[path] = v
			}
		}
		return nil
	}
	if err := add(Leaves(fit), true); err != nil {
		return nil, err
	}
	if err := add(Leaves(trans), false); err != nil {
		return nil, err
	}
	slices.Sort(order)
	for _, k := range order {
		problems = append(problems, groups[k].problems()...)
	}
	return problems, nil
}

// problems compares one group by its Field's fidelity.
func (gr *goldenGroup) problems() []string {
	f := gr.field
	var out []string
	bad := func(path, why string) {
		fv, fok := gr.fit[path]
		tv, tok := gr.trans[path]
		out = append(out, fmt.Sprintf("%s: Fitbit %s, translated %s: %s; Field %q (%s%s, %s)", path,
			showOK(fv, fok), showOK(tv, tok), why, f.Fitbit, f.Fidelity, tolerance(f), orDash(f.Note)))
	}
	paths := union(gr.fit, gr.trans)
	switch {
	case f.Fidelity == Lost:
		for _, p := range paths {
			tv, ok := gr.trans[p]
			switch {
			case !ok:
			case gr.pattern.HasConst && reflect.DeepEqual(tv, gr.pattern.Const):
			case gr.pattern.HasConst:
				bad(p, "lost: the translation must answer "+show(gr.pattern.Const))
			default:
				bad(p, "lost: the translation must leave it out")
			}
		}
	case gr.presence != "" || f.Fidelity == Approximate && f.Tolerance == 0:
		// Without a tolerance an approximation is a documented derivation:
		// what holds is that both answers have it, in the same JSON shape.
		why := "approximate: present in both answers, in the same shape"
		if gr.presence != "" {
			why = gr.presence + ": present in both answers"
		}
		if len(gr.fit) == 0 || len(gr.trans) == 0 {
			bad(paths[0], why)
			break
		}
		for _, p := range paths {
			fv, fok := gr.fit[p]
			tv, tok := gr.trans[p]
			if fok && tok && kind(fv) != kind(tv) {
				bad(p, why)
			}
		}
	default:
		for _, p := range paths {
			fv, fok := gr.fit[p]
			tv, tok := gr.trans[p]
			switch {
			case !fok || !tok:
				bad(p, f.Fidelity.String()+": in one answer only")
			case f.Fidelity == Exact && !reflect.DeepEqual(fv, tv):
				bad(p, "exact: not equal")
			case f.Fidelity == Approximate && !within(fv, tv, f.Tolerance):
				bad(p, fmt.Sprintf("approximate: more than %g apart", f.Tolerance))
			}
		}
	}
	return out
}

// within: numbers (or numbers in strings, as Fitbit's series give them)
// at most tol apart; a Fitbit range "lo-hi" (cardio fitness) holds the
// translated value within tol; anything else equal.
func within(fit, trans any, tol float64) bool {
	t, ok := number(trans)
	if !ok {
		return reflect.DeepEqual(fit, trans)
	}
	if s, ok := fit.(string); ok {
		if lo, hi, ok := strings.Cut(s, "-"); ok && lo != "" {
			l, err1 := strconv.ParseFloat(lo, 64)
			h, err2 := strconv.ParseFloat(hi, 64)
			if err1 == nil && err2 == nil {
				return t >= l-tol-1e-9 && t <= h+tol+1e-9
			}
		}
	}
	f, ok := number(fit)
	return ok && math.Abs(f-t) <= tol+1e-9
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func kind(v any) string {
	if _, ok := number(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func isEmptyContainer(v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func union(a, b map[string]any) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func showOK(v any, ok bool) string {
	if !ok {
		return "absent"
	}
	return show(v)
}

func tolerance(f *Field) string {
	if f.Tolerance == 0 {
		return ""
	}
	return fmt.Sprintf(" ±%g", f.Tolerance)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func sideName(isFit bool) string {
	if isFit {
		return "Fitbit's answer"
	}
	return "the translated answer"
}

func unitsName(lang string) string {
	if lang == "" {
		return "metric"
	}
	return lang
}

// TestGoldenComparatorCatches: the comparison fails where it must, so a
// green golden test means the answers agree.
func TestGoldenComparatorCatches(t *testing.T) {
	m := &Mapping{Path: "/test", Fields: []Field{
		{"a", "", Exact, 0, "", "a"},
		{"b", "", Approximate, 1, "", "list[].b"},
		{"c", "", Approximate, 0, "", "c"},
		{"d", "", Lost, 0, "", "d"},
		{"e", "", Lost, 0, "", "e=[]"},
		{"date", "", Exact, 0, "", "list[].dateTime"},
	}}
	fit := decode(t, []byte(`{"a":1,"list":[{"dateTime":"d1","b":"10"}],"c":"x","d":5,"e":[1]}`))
	for _, tc := range []struct {
		name, trans string
		want        string // a part of the one problem; "" for none
	}{
		{"equal", `{"a":1,"list":[{"dateTime":"d1","b":"10"}],"c":"x","e":[]}`, ""},
		{"within the tolerance", `{"a":1,"list":[{"dateTime":"d1","b":"10.9"}],"c":"y","e":[]}`, ""},
		{"exact differs", `{"a":2,"list":[{"dateTime":"d1","b":"10"}],"c":"x"}`, "a: Fitbit 1, translated 2: exact: not equal"},
		{"exact missing", `{"list":[{"dateTime":"d1","b":"10"}],"c":"x"}`, "a: Fitbit 1, translated absent"},
		{"beyond the tolerance", `{"a":1,"list":[{"dateTime":"d1","b":"11.5"}],"c":"x"}`, "more than 1 apart"},
		{"another day", `{"a":1,"list":[{"dateTime":"d2","b":"10"}],"c":"x"}`, "in one answer only"},
		{"approximation missing", `{"a":1,"list":[{"dateTime":"d1","b":"10"}]}`, "c: Fitbit \"x\", translated absent"},
		{"approximation of another shape", `{"a":1,"list":[{"dateTime":"d1","b":"10"}],"c":true}`, "in the same shape"},
		{"lost answered", `{"a":1,"list":[{"dateTime":"d1","b":"10"}],"c":"x","d":5}`, "lost: the translation must leave it out"},
		{"lost constant differs", `{"a":1,"list":[{"dateTime":"d1","b":"10"}],"c":"x","e":[2]}`, "must answer []"},
		{"uncovered", `{"a":1,"list":[{"dateTime":"d1","b":"10"}],"c":"x","f":0}`, "f = 0 (the translated answer) is covered by no Field"},
	} {
		got, err := compareAnswers(m, nil, fit, decode(t, []byte(tc.trans)))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: %q", tc.name, got)
		case tc.want != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tc.want)):
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	ranged := &Mapping{Fields: []Field{{"v", "", Approximate, 1, "", "v"}}}
	for trans, ok := range map[string]bool{`{"v":"45.5"}`: true, `{"v":"48.9"}`: true, `{"v":"49.5"}`: false} {
		got, _ := compareAnswers(ranged, nil, decode(t, []byte(`{"v":"44-48"}`)), decode(t, []byte(trans)))
		if (len(got) == 0) != ok {
			t.Errorf("Fitbit's range 44-48 against %s: %q", trans, got)
		}
	}
	diffs, _ := Field{Paths: "a"}.Patterns()
	if got, _ := compareAnswers(m, diffs, fit, decode(t, []byte(`{"a":2,"list":[{"dateTime":"d1","b":"10"}],"c":"x"}`))); len(got) != 0 {
		t.Errorf("a known difference is compared for presence only: %q", got)
	}
}
