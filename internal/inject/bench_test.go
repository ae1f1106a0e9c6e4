package inject

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"

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
// end, as the reverse proxy copies it to the app.
func BenchmarkRoundTripCachedBody(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		body := []byte(`{"user":{"fullName":"` + strings.Repeat("x", size-24) + `"}}`)
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			benchmarkRoundTrip(b, bodyUpstream(body), nil)
		})
	}
}

func benchmarkRoundTrip(b *testing.B, upstream http.RoundTripper, budget Budget) {
	keys, _ := tokenstore.NewKeyring([][]byte{make([]byte, 32)})
	store := storagestore.New(&certmagic.FileStorage{Path: b.TempDir()}, keys, "")
	reg := provider.Registration{ClientID: "id", ClientSecret: "s", RedirectURL: "http://x/cb"}.WithDefaults(provider.Fitbit)
	mgr := tokens.New(tokens.Config{Provider: provider.NewClient(reg, nil), Store: store})
	rec := &tokenstore.Record{Provider: "fitbit", IdentityHash: tokenstore.IdentityHash("alice"), UserID: "U",
		AccessToken: strings.Repeat("a", 300), RefreshToken: strings.Repeat("r", 64), Expiry: time.Now().Add(time.Hour), Status: tokenstore.StatusOK}
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
