package successor

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/inject"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
)

// canned answers every request at once, so the benchmark measures the
// router and the injecting transport, not an upstream.
type canned struct{}

func (canned) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// callerIdentity resolves the caller as the module's compiled
// {http.auth.user.id} does: one lookup in the request's Caddy replacer.
func callerIdentity(r *http.Request) string {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return ""
	}
	s, _ := repl.GetString("http.auth.user.id")
	return s
}

// BenchmarkRouterFitbitCached is the translation's hot path: mode
// fallback, and a user connected to Fitbit whose token is cached and
// fresh, so the call passes through to Fitbit. It reads no storage (the
// benchmark fails if it does) and evaluates the identity once.
//
//	go test -run '^$' -bench RouterFitbitCached -benchmem ./internal/successor
func BenchmarkRouterFitbitCached(b *testing.B) {
	mgr, store := managerOver(b, provider.Fitbit, "")
	connect(b, mgr, "alice", "U", strings.Repeat("a", 300))
	store.reads.Store(0)
	pass := &inject.Transport{Base: canned{}, Tokens: mgr, Provider: mgr.Provider(), Identity: callerIdentity}
	r := &Router{Mode: Fallback, Fitbit: mgr, Gone: &mgr.Provider().Gone, Identity: callerIdentity, Pass: pass,
		Successor: failingAnswerer{b}}
	repl := caddy.NewReplacer()
	repl.Set("http.auth.user.id", "alice")
	req, _ := http.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl),
		http.MethodGet, "http://api.fitbit.com/1/user/-/profile.json", nil)
	req.Header.Set("Authorization", "Basic YWxpY2U6cHc=")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r2 := req.Clone(req.Context())
		for pb.Next() {
			resp, err := r.RoundTrip(r2)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatal(resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
	})
	b.StopTimer()
	if n := store.reads.Load(); n != 0 {
		b.Errorf("the hot path read the store %d times", n)
	}
}

// failingAnswerer fails a benchmark whose call reached the successor.
type failingAnswerer struct{ b *testing.B }

func (f failingAnswerer) Answer(*http.Request, string) (*http.Response, bool, error) {
	f.b.Fatal("a connected user's call went to the successor")
	return nil, false, nil
}
