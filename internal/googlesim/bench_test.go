package googlesim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/simtest"
)

// The translation's heaviest calls: a month of daily steps (43,200
// minutes of the person's), a day of minutes through rollUp, and a page of
// 10,000 heart-rate samples. The person's days are cached (persons.go),
// as they are across the pages and calls of a translated answer.
func BenchmarkRender(b *testing.B) {
	s := New(Config{Now: simtest.NewClock().Now, RateLimitPerMinute: -1})
	tok := s.MintTokens("u1").AccessToken
	for _, c := range []struct{ name, method, path, body string }{
		{"dailyRollUp steps 30 days", "POST", "/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp",
			`{"range":{"start":{"date":{"year":2026,"month":10,"day":21}},"end":{"date":{"year":2026,"month":11,"day":20}}}}`},
		{"rollUp steps 1 day of minutes", "POST", "/v4/users/me/dataTypes/steps/dataPoints:rollUp",
			`{"range":{"startTime":"2026-11-19T08:00:00Z","endTime":"2026-11-20T08:00:00Z"},"windowSize":"60s"}`},
		{"list heart-rate 10000", "GET", "/v4/users/me/dataTypes/heart-rate/dataPoints?pageSize=10000", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
				r.Header.Set("Authorization", "Bearer "+tok)
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
