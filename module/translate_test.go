package module

import "testing"

func TestParseTranslate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want Translate
		ok   bool
	}{
		{[]string{"always"}, Translate{Mode: "always"}, true},
		{[]string{"off"}, Translate{Mode: "off"}, true},
		{[]string{"google_health"}, Translate{From: "google_health"}, true},
		{[]string{"gh", "fallback"}, Translate{From: "gh", Mode: "fallback"}, true},
		{[]string{"gh", "sometimes"}, Translate{}, false},
		{nil, Translate{}, false},
		{[]string{"a", "off", "b"}, Translate{}, false},
	} {
		got, err := parseTranslate(tc.args)
		if (err == nil) != tc.ok || (err == nil && *got != tc.want) {
			t.Errorf("parseTranslate(%q) = %+v, %v; want %+v (ok %v)", tc.args, got, err, tc.want, tc.ok)
		}
	}
}
