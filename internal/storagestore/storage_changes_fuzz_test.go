package storagestore

import (
	"strings"
	"testing"
)

// FuzzParseChange feeds the change feed's marker-name parser whatever a
// shared storage directory may hold (a peer's temporary files, names written
// by hand): it never panics, and a name it accepts names a valid key.
func FuzzParseChange(f *testing.F) {
	f.Add("1764680000000000000.0011223344556677.fitbit." + strings.Repeat("ab", 32))
	f.Add(".tmp-123")
	f.Add("a.b.c.d")
	f.Add("1.2.../..")
	f.Fuzz(func(t *testing.T, name string) {
		k, ok := parseChange(name)
		if ok && k.Validate() != nil {
			t.Fatalf("accepted %q as the invalid key %v", name, k)
		}
	})
}
