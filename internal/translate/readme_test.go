package translate

import (
	"os"
	"strings"
	"testing"
)

// The README's translation table sits between these markers.
const (
	readmePath     = "../../README.md"
	readmeTableBeg = "<!-- translation table: generated from internal/translate, do not edit -->\n"
	readmeTableEnd = "<!-- end of translation table -->"
)

// TestReadmeTableIsGenerated fails when the README's translation table
// drifts from Table; -update rewrites it with the golden file.
func TestReadmeTableIsGenerated(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	beg := strings.Index(readme, readmeTableBeg)
	end := strings.Index(readme, readmeTableEnd)
	if beg < 0 || end < beg {
		t.Fatalf("%s has no translation table between its markers", readmePath)
	}
	beg += len(readmeTableBeg)
	want := Markdown()
	if *update {
		readme = readme[:beg] + want + readme[end:]
		if err := os.WriteFile(readmePath, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if readme[beg:end] != want {
		t.Errorf("the README's translation table drifted from Table; run go test ./internal/translate -update")
	}
}
