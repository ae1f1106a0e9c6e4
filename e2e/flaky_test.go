package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// flakyTokenEndpoint stands between the gateway and the simulator's token
// endpoint and can fail on demand, as Fitbit's does now and then.
type flakyTokenEndpoint struct {
	srv  *httptest.Server
	mode atomic.Int32
	stop chan struct{}
}

const (
	modePass int32 = iota
	mode503
	modeHang
)

func newFlakyTokenEndpoint(t *testing.T, target string) *flakyTokenEndpoint {
	f := &flakyTokenEndpoint{stop: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch f.mode.Load() {
		case mode503:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"errors":[{"errorType":"system","message":"Service Unavailable"}],"success":false}`)
			return
		case modeHang:
			select {
			case <-r.Context().Done():
			case <-f.stop:
			}
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(func() { close(f.stop); f.srv.Close() })
	return f
}

func (f *flakyTokenEndpoint) URL() string     { return f.srv.URL }
func (f *flakyTokenEndpoint) setMode(m int32) { f.mode.Store(m) }
