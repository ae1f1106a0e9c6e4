package legacy

import (
	"cmp"
	"context"
	"net/http"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/htmlpage"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// FailureLimits bound failed OAuth 1.0a attempts — bad signatures, unknown
// tokens, wrong verifiers — per consumer key and per token, so that guessing
// costs a client its budget and the store its reads. A consumer or token
// whose budget is spent is refused with 429 until Retry-After, good
// signatures too: per consumer that is every user of the app, so its
// default is far above what a misconfigured app (which fails every call)
// reaches with its users' traffic.
type FailureLimits struct {
	Limiter     ratelimit.Limiter
	PerConsumer ratelimit.Limit
	PerToken    ratelimit.Limit
}

// failureGuard spends failures from the limiter (shared by a cluster on
// Redis) and remembers, in memory, who is refused until when: a request
// that succeeds costs no limiter call, and while nothing is refused, one
// atomic load.
type failureGuard struct {
	limits  FailureLimits
	logger  *zap.Logger
	blocked *lru.Cache[string, time.Time] // key → refused until
	// until is the latest refusal's end (Unix ns): before it the cache is
	// looked at, after it nobody is refused.
	until atomic.Int64
}

const blockedCacheSize = 10000

func newFailureGuard(limits FailureLimits, logger *zap.Logger) *failureGuard {
	c, _ := lru.New[string, time.Time](blockedCacheSize) // errs only for a size ≤ 0
	return &failureGuard{limits: limits, logger: logger, blocked: c}
}

func consumerKey(key string) string { return "oauth1_failures\x00consumer\x00" + key }
func tokenKey(token string) string  { return "oauth1_failures\x00token\x00" + token }

// anyRefused reports whether anyone may be refused at now.
func (g *failureGuard) anyRefused(now time.Time) bool { return now.UnixNano() < g.until.Load() }

// refused returns how long key is still refused, if it is.
func (g *failureGuard) refused(key string, now time.Time) (time.Duration, bool) {
	until, ok := g.blocked.Get(key)
	if !ok || !now.Before(until) {
		return 0, false
	}
	return until.Sub(now), true
}

// fail spends one failure of key; when the budget is spent it refuses key
// until the limiter's retry-after, and says so.
func (g *failureGuard) fail(ctx context.Context, key string, limit ratelimit.Limit, now time.Time) (time.Duration, bool) {
	if g.limits.Limiter == nil || !limit.Enabled() {
		return 0, false
	}
	d, err := g.limits.Limiter.Allow(ctx, key, limit)
	if err != nil {
		g.logger.Warn("rate limiter unavailable; failed OAuth 1.0a attempts are not counted", zap.Error(err))
		return 0, false
	}
	if d.Allowed {
		return 0, false
	}
	until := now.Add(d.RetryAfter)
	g.blocked.Add(key, until)
	for {
		old := g.until.Load()
		if until.UnixNano() <= old || g.until.CompareAndSwap(old, until.UnixNano()) {
			return d.RetryAfter, true
		}
	}
}

// tooManyFailures is the answer to a consumer or token refused for its
// failures.
func tooManyFailures(retry time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, FieldName: fieldNone, RetryAfter: retry,
		Message: "Too Many Requests: too many failed OAuth 1.0a attempts (signatures, tokens or verifiers) for this consumer or token; retry after " +
			ratelimit.RetryAfterHeader(retry) + " s"}
}

// tooManyRequests is the answer of a token endpoint over its request rate.
func tooManyRequests(retry time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, FieldName: fieldNone, RetryAfter: retry,
		Message: "Too Many Requests: retry after " + ratelimit.RetryAfterHeader(retry) + " s"}
}

// tooManyPage is the authorize step's answer over its rate.
func tooManyPage(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", ratelimit.RetryAfterHeader(retry))
	htmlpage.Write(w, http.StatusTooManyRequests, "Too many attempts",
		"There were too many sign-in attempts from here. Wait "+ratelimit.RetryAfterHeader(retry)+" seconds, then start again from the app.")
}

// clientIP is the client's address as Caddy judged it (ClientIP), or the
// peer's.
func (s *Server) clientIP(r *http.Request) string {
	if s.ClientIP != nil {
		return cmp.Or(s.ClientIP(r), ratelimit.PeerIP(r))
	}
	return ratelimit.PeerIP(r)
}
