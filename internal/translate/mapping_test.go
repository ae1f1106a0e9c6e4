package translate

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/mapping.md and the README's table from Table")

// TestMarkdownStable fails when the rendering of Table drifts from the
// committed rendering; run with -update after changing Table on purpose.
func TestMarkdownStable(t *testing.T) {
	got := Markdown()
	if got != Markdown() {
		t.Fatal("two renderings differ")
	}
	const golden = "testdata/mapping.md"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("Markdown() drifted from %s; rerun with -update if on purpose", golden)
	}
}

func TestEveryEndpointMapped(t *testing.T) {
	for e := range endpointNames {
		m := Lookup(e)
		if m == nil || len(m.Calls) == 0 || len(m.Fields) == 0 {
			t.Errorf("%v: no mapping, calls or fields", e)
		}
	}
	if len(Table) != len(endpointNames) {
		t.Errorf("Table has %d rows for %d endpoints", len(Table), len(endpointNames))
	}
}

// TestToleranceOnlyWhenApproximate: an exact field is equal, so a tolerance
// on one would be a claim the golden test does not check.
func TestToleranceOnlyWhenApproximate(t *testing.T) {
	for _, m := range Table {
		for _, f := range m.Fields {
			if f.Tolerance != 0 && f.Fidelity != Approximate {
				t.Errorf("%s: %q is %s with tolerance %g", m.Path, f.Fitbit, f.Fidelity, f.Tolerance)
			}
			if _, err := f.Patterns(); err != nil {
				t.Errorf("%s: %q: %v", m.Path, f.Fitbit, err)
			}
		}
	}
}
