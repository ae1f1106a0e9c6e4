package successor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzServerAnswer sends hostile Fitbit calls through the Server and the
// simulated Google: whatever the path, query, language or body, the app
// gets an answer (no panic, no transport error) with a status, a length
// that matches, and JSON (Fitbit's envelope when it is an error).
//
//	go test -run '^$' -fuzz FuzzServerAnswer -fuzztime 60s ./internal/successor
func FuzzServerAnswer(f *testing.F) {
	for _, seed := range [][4]string{
		{"GET", "/1/user/-/profile.json", "", "en_US"},
		{"GET", "/1/user/-/activities/steps/date/today/30d.json", "", "en_GB"},
		{"GET", "/1/user/-/activities/steps/date/2026-11-01/2026-11-19.json", "", ""},
		{"GET", "/1/user/-/activities/heart/date/today/1d/1min/time/00:00/23:59.json", "", ""},
		{"GET", "/1.2/user/-/sleep/list.json", "beforeDate=2026-11-19&sort=desc&offset=0&limit=100", ""},
		{"GET", "/1/user/-/body/log/weight/date/2026-11-19/1m.json", "", "metric"},
		{"POST", "/1/user/-/body/log/weight.json", "weight=70.5&date=2026-11-19&time=07:00:00", ""},
		{"DELETE", "/1/user/-/body/log/fat/123456789.json", "", ""},
		{"GET", "/1/user/%2e%2e/profile.json", "", ""},
		{"GET", "/1/user/-/activities/date/9999-99-99.json", "", ""},
		{"GET", "/1/user/-/activities/steps/date/0001-01-01/9999-12-31.json", "", ""},
		{"GET", "/1.2/user/-/sleep/list.json", "afterDate=2026-11-19&sort=asc&offset=-1&limit=99999999999999999999", ""},
		{"GET", "/1/user/-/activities/heart/date/today/1d/1sec/time/25:61/-1:00.json", "", "xx_\x00"},
		{"GET", "/1/user/-/devices.json", "%zz", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	s := startServer(f)
	f.Fuzz(func(t *testing.T, method, path, query, lang string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") {
			return
		}
		u := &url.URL{Path: path, RawQuery: query}
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(query)
		}
		req := httptest.NewRequest(http.MethodGet, "/", body)
		req.Method, req.URL = method, u
		req.Header.Set("Accept-Language", lang)
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, _, err := s.Answer(req, "alice")
		if err != nil {
			t.Fatalf("%s %s?%s: %v", method, path, query, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 599 || resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
			t.Fatalf("%s %s?%s: %d, Content-Length %q for %d bytes", method, path, query, resp.StatusCode, resp.Header.Get("Content-Length"), len(b))
		}
		if len(b) > 0 && !json.Valid(b) {
			t.Fatalf("%s %s?%s: %d, not JSON: %.200s", method, path, query, resp.StatusCode, b)
		}
		if resp.StatusCode >= 400 {
			var v map[string]any
			if json.Unmarshal(b, &v) != nil || errorType(v) == "" {
				t.Fatalf("%s %s?%s: %d, not Fitbit's envelope: %.200s", method, path, query, resp.StatusCode, b)
			}
		}
	})
}
