package connect

import (
	"net/http/httptest"
	"testing"
)

func TestPrefersHTML(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                 false,
		"*/*":              false, // curl
		"application/json": false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8": true, // Chromium
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8":                       true, // Firefox
		"application/json, text/html;q=0.5":                                                     false,
		"text/html;q=0.9, application/json;q=0.8":                                               true,
		"text/html;q=0":                   false,
		"text/html;q=2":                   false,
		"text/html;q=x, application/json": false,
		"text/*":                          false,
	} {
		r := httptest.NewRequest("GET", "/fitbit/", nil)
		r.Header.Set("Accept", accept)
		if got := prefersHTML(r); got != want {
			t.Errorf("Accept %q: prefersHTML %v, want %v", accept, got, want)
		}
	}
}

func FuzzPrefersHTML(f *testing.F) {
	f.Add("text/html,*/*;q=0.8")
	f.Add("application/json;q=0.1, text/html;q=0.05")
	f.Fuzz(func(t *testing.T, accept string) {
		r := httptest.NewRequest("GET", "/fitbit/", nil)
		r.Header["Accept"] = []string{accept}
		_ = prefersHTML(r) // no panic, bounded work
	})
}
