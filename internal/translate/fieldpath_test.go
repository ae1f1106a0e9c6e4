package translate

import (
	"reflect"
	"testing"
)

func TestFieldPatterns(t *testing.T) {
	ps, err := Field{Paths: `user.{a,b} summary.distances[activity=total] x.y=[] z="c"`}.Patterns()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, p := range ps {
		texts = append(texts, p.Text)
	}
	if want := []string{"user.a", "user.b", "summary.distances[activity=total]", "x.y", "z"}; !reflect.DeepEqual(texts, want) {
		t.Fatalf("patterns %q, want %q", texts, want)
	}
	if !ps[3].HasConst || !reflect.DeepEqual(ps[3].Const, []any{}) || ps[4].Const != "c" || ps[0].HasConst {
		t.Errorf("constants: %#v %#v", ps[3], ps[4])
	}
	leaf := func(s string) []string {
		segs, err := SplitPath(s)
		if err != nil {
			t.Fatal(err)
		}
		return segs
	}
	for _, tc := range []struct {
		pattern, leaf string
		n             int
		ok            bool
	}{
		{"summary.distances[activity=total]", "summary.distances[activity=total].distance", 3, true},
		{"summary.distances[activity=total]", "summary.distances[activity=tracker].distance", 0, false},
		{"activities-*[].value", "activities-steps[dateTime=2026-11-01].value", 3, true},
		{"activities-*[].value", "activities-steps-intraday.dataset[time=08:00:00].value", 0, false},
		{"levels.summary.*.minutes", "levels.summary.deep.minutes", 4, true},
		{"[].mac", "[0].mac", 2, true},
		{"dataset[time=02:*].value", "dataset[time=02:15:00].value", 3, true},
		{"dataset[time=02:*].value", "dataset[time=03:15:00].value", 0, false},
		{"sleep[].levels.data", "sleep[dateOfSleep=2026-11-01].levels.data[dateTime=2026-11-01T01:02:30.000].level", 4, true},
	} {
		ps, err := Field{Paths: tc.pattern}.Patterns()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := ps[0].Match(leaf(tc.leaf)); n != tc.n || ok != tc.ok {
			t.Errorf("%s on %s: %d %v, want %d %v", tc.pattern, tc.leaf, n, ok, tc.n, tc.ok)
		}
	}
}

func TestLeaves(t *testing.T) {
	v := decode(t, []byte(`{"a":[{"dateTime":"d1","value":"1"},{"dateTime":"d2","value":"2"}],"b":[],"c":{},
		"w":[{"date":"d","time":"t1","weight":1},{"date":"d","time":"t2","weight":2}],"n":[{"x":1},{"x":2}],"s":[1,1]}`))
	want := map[string]any{
		"a[dateTime=d1].dateTime": "d1", "a[dateTime=d1].value": "1", "a[dateTime=d2].dateTime": "d2", "a[dateTime=d2].value": "2",
		"b": []any{}, "c": map[string]any{},
		"w[date=d time=t1].date": "d", "w[date=d time=t1].time": "t1", "w[date=d time=t1].weight": 1.0,
		"w[date=d time=t2].date": "d", "w[date=d time=t2].time": "t2", "w[date=d time=t2].weight": 2.0,
		"n[0].x": 1.0, "n[1].x": 2.0, "s[0]": 1.0, "s[1]": 1.0,
	}
	if got := Leaves(v); !reflect.DeepEqual(got, want) {
		t.Errorf("Leaves:\n%v\nwant\n%v", got, want)
	}
}
