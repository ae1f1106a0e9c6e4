package inject

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// cannedUpstream answers every request at once, so the benchmark measures
// the transport's own cost.
type cannedUpstream struct{}

func (cannedUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// BenchmarkRoundTripCachedToken is the hot path: a connected identity whose
// token is cached and fresh. go test -bench RoundTrip -benchmem ./internal/inject
func BenchmarkRoundTripCachedToken(b *testing.B) {
	benchmarkRoundTrip(b, cannedUpstream{}, nil)
}

// BenchmarkRoundTripCachedBudget is the hot path with the identity's
// budget counted in memory (the file store): a shard's mutex and a map
// update, no allocation, and one atomic load for the peers' blocks (none
// in force, as almost always). The limit is far above the calls made.
func BenchmarkRoundTripCachedBudget(b *testing.B) {
	peers := &ratelimit.PeerBlocks{Hash: tokenstore.IdentityHash}
	peers.Set(map[string]time.Time{})
	benchmarkRoundTrip(b, cannedUpstream{}, &ratelimit.Budget{Windows: ratelimit.NewMemoryWindows(),
		PerUser: ratelimit.Window{Limit: 1 << 40, Period: time.Hour}, Headers: true, Peers: peers})
}

// BenchmarkRoundTripCachedBudgetRedis is the same with the budget in
// Redis: one script call per request.
func BenchmarkRoundTripCachedBudgetRedis(b *testing.B) {
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(b), DisableIdentity: true})
	b.Cleanup(func() { _ = c.Close() })
	benchmarkRoundTrip(b, cannedUpstream{}, &ratelimit.Budget{Windows: ratelimit.NewRedisWindows(c, "{fitbit}:budget:fitbit"),
		PerUser: ratelimit.Window{Limit: 1 << 40, Period: time.Hour}, Headers: true})
}

// bodyUpstream answers 200 with a JSON body of a known length, in identity
// coding: what the transport scrubs as it streams.
type bodyUpstream []byte

func (u bodyUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(u)), Body: io.NopCloser(bytes.NewReader(u)), Request: r}, nil
}

// BenchmarkRoundTripCachedBody is the hot path with a 2xx body read to the
// end, as the reverse proxy copies it to the app, and searched for the
// token as it streams: two of the simulated Fitbit's answers (the profile,
// and a day of steps by the minute, whose JSON is dense in the 'e' a JWT
// starts with) and, for comparison, 64 KiB of one letter.
func BenchmarkRoundTripCachedBody(b *testing.B) {
	_, answers := fitbitAnswers(b, "/1/user/-/profile.json", "/1/user/-/activities/steps/date/2026-11-30/1d/1min.json")
	bodies := []struct {
		name string
		body []byte
	}{
		{"profile", answers[0]},
		{"intraday", answers[1]},
		{"64KiB", []byte(`{"user":{"fullName":"` + strings.Repeat("x", 64<<10-24) + `"}}`)},
	}
	for _, c := range bodies {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			benchmarkRoundTrip(b, bodyUpstream(c.body), nil)
		})
	}
}

// fitbitAnswers is an access token the simulated Fitbit issued (a JWT, as
// Fitbit's are) and its answers to GET of paths.
func fitbitAnswers(b *testing.B, paths ...string) (token string, answers [][]byte) {
	sim := fitbitsim.New(fitbitsim.Config{IntradayApproved: true})
	token = sim.MintTokens("").AccessToken
	if !strings.HasPrefix(token, "eyJ") {
		b.Fatalf("simulated Fitbit's access token is not a JWT: %.8s…", token)
	}
	for _, path := range paths {
		req := httptest.NewRequest("GET", "http://api.fitbit.com"+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("simulated Fitbit, %s: %d %s", path, rec.Code, rec.Body)
		}
		answers = append(answers, rec.Body.Bytes())
	}
	return token, answers
}

func benchmarkRoundTrip(b *testing.B, upstream http.RoundTripper, budget Budget) {
	token, _ := fitbitAnswers(b)
	keys, _ := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	store := storagestore.New(&certmagic.FileStorage{Path: b.TempDir()}, keys, "")
	reg := provider.Registration{ClientID: "id", ClientSecret: "s", RedirectURL: "http://x/cb"}.WithDefaults(provider.Fitbit)
	mgr := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: store})
	rec := &tokenstore.Record{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash("alice"), UserID: "U",
		AccessToken: token, RefreshToken: strings.Repeat("r", 64), Expiry: time.Now().Add(time.Hour), Status: tokenstore.StatusOK}
	if err := mgr.Connect(context.Background(), "alice", rec); err != nil {
		b.Fatal(err)
	}
	tr := &Transport{Base: upstream, Tokens: mgr, Provider: mgr.Provider(), Identity: func(*http.Request) string { return "alice" }, Budget: budget}
	req, _ := http.NewRequest("GET", "http://api.fitbit.com/1/user/-/profile.json", nil)
	req.Header.Set("Authorization", "Basic YWxpY2U6cHc=")
	req.Header.Set("Cookie", "c=1")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := req.Clone(req.Context())
		for pb.Next() {
			resp, err := tr.RoundTrip(r)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
	})
}
