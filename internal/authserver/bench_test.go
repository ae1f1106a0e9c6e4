package authserver_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAuthenticateCached is the OAuth 2.0 front's share of an API
// call whose token was checked in the last 30 seconds: the path every call
// of a busy app takes. Run with -cpu 1,2 to see contention between users.
func BenchmarkAuthenticateCached(b *testing.B) {
	h := newHarness(b)
	h.srv.Observe = func(string, string, string) {}
	var headers [][]string // made beforehand: the benchmark measures Authenticate only
	for range 64 {
		headers = append(headers, []string{"Bearer " + h.exchangePhone(h.authorize(phoneAuthorize())).AccessToken})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest(http.MethodGet, "/1/user/-/profile.json", nil)
		i := 0
		for pb.Next() {
			r.Header["Authorization"] = headers[i%len(headers)]
			i++
			if _, e := h.srv.Authenticate(r); e != nil {
				b.Fatal(e)
			}
		}
	})
}
