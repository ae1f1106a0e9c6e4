package successor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// session is one Fitbit call's state across the Engine's Google calls.
type session struct {
	mu      sync.Mutex
	sent    int            // requests that went to Google, replays included
	refused *http.Response // the gateway's own answer, which never reached Google
	body    []byte         // refused's body
	// rate is Fitbit's rate-limit headers of the last Google call (the
	// injecting transport computes them from the identity's Google
	// budget), for the Fitbit answer.
	rate [3][]string
}

// rateHeaders are the headers rate holds, in its order.
var rateHeaders = [3]string{ratelimit.HeaderLimit, ratelimit.HeaderRemaining, ratelimit.HeaderReset}

// noteRate keeps resp's rate-limit headers, if it has them.
func (s *session) noteRate(resp *http.Response) {
	if _, ok := resp.Header[ratelimit.HeaderLimit]; !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range rateHeaders {
		s.rate[i] = resp.Header[h]
	}
}

// setRate puts the last Google call's rate-limit headers on the Fitbit
// answer h, unless it has its own (the gateway's refusal).
func (s *session) setRate(h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, own := h[ratelimit.HeaderLimit]; own || s.rate[0] == nil {
		return
	}
	for i, name := range rateHeaders {
		h[name] = s.rate[i]
	}
}

// errLimited stops the engine at the gateway's own 429 (the identity's
// Google budget is spent, or Google's 429 blocked it): retrying, as the
// engine does for Google's 429, would only be refused again. The Fitbit
// call is answered with the refusal.
var errLimited = errors.New("successor: the Google budget is spent")

type sessionKey struct{}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func sessionOf(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

func (s *session) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Counting wraps the transport that sends to Google (below the
// credential-injecting one): it counts, per Fitbit call, the requests that
// actually went to Google. A response that did not pass through it is the
// gateway's own.
func Counting(base http.RoundTripper) http.RoundTripper { return counting{base} }

type counting struct{ base http.RoundTripper }

func (c counting) RoundTrip(req *http.Request) (*http.Response, error) {
	if s := sessionOf(req.Context()); s != nil {
		s.mu.Lock()
		s.sent++
		s.mu.Unlock()
	}
	return c.base.RoundTrip(req)
}

// capturing is the Engine's transport: the Google registration's
// credential-injecting transport, recording the gateway's own refusals
// (no Google connection, a dead refresh token, the store down) so the app
// gets them, in Fitbit's envelope, rather than a translation error.
type capturing struct{ inject http.RoundTripper }

func (c capturing) RoundTrip(req *http.Request) (*http.Response, error) {
	s := sessionOf(req.Context())
	if s == nil {
		return c.inject.RoundTrip(req)
	}
	before := s.calls()
	resp, err := c.inject.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	s.noteRate(resp)
	if s.calls() != before {
		return resp, nil
	}
	b, err := io.ReadAll(resp.Body) // the gateway's own small error body
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.refused == nil {
		s.refused, s.body = resp, b
	}
	s.mu.Unlock()
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, errLimited
	}
	copied := *resp
	copied.Body = io.NopCloser(bytes.NewReader(b))
	return &copied, nil
}
