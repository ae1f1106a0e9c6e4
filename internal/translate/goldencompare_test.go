package translate

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The golden test's comparison (golden_test.go asks the simulators): two
// decoded JSON answers are flattened to their leaves (Leaves), each leaf is
// given to the one Field of the endpoint's Mapping whose Paths cover it, and
// each Field's leaves are held to its fidelity.

// goldenGroup is what one Field covers at one place of the answers: the
// leaves under one match of one of its patterns, on each side.
type goldenGroup struct {
	field      *Field
	pattern    PathPattern
	known      string // why the group is not compared (under diffs), "" to compare it
	fit, trans map[string]any
}

// compareAnswers holds Fitbit's answer against the translated one by m's
// Fields and returns what differs; leaves under diffs are not compared.
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
			goldenMet.add(hit[0].field)
			key := fmt.Sprintf("%p %s", hit[0].field, strings.Join(segs[:n], "."))
			gr := groups[key]
			if gr == nil {
				gr = &goldenGroup{field: hit[0].field, pattern: hit[0].pat, fit: map[string]any{}, trans: map[string]any{}}
				for _, d := range diffs {
					if _, ok := d.Match(segs); ok {
						gr.known = "a known difference of the simulators"
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
	if gr.known != "" {
		return nil
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
	case f.Fidelity == Approximate && f.Tolerance == 0:
		// Without a tolerance an approximation is a documented derivation:
		// what holds is that both answers have it, in the same JSON shape.
		why := "approximate: present in both answers, in the same shape"
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
		t.Errorf("a known difference is not compared: %q", got)
	}
}
