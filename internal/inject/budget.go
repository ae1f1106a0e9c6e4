package inject

import (
	"context"
	"net/http"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// Budget is what the transport needs of the provider's rate budgets: it
// counts every call it sends upstream (replays included) against the
// caller's, and tells each answer back. *ratelimit.Budget implements it.
type Budget interface {
	Take(ctx context.Context, identity string) ratelimit.Grant
	Settle(ctx context.Context, identity string, g ratelimit.Grant, resp *http.Response)
	// Peek is identity's window as it stands, counting nothing.
	Peek(ctx context.Context, identity string) ratelimit.Grant
}

var _ Budget = (*ratelimit.Budget)(nil)

// spend takes one call of identity's budget: the gateway's 429 when it is
// spent (nothing is sent upstream), else nil.
func (t *Transport) spend(req *http.Request, identity string) (ratelimit.Grant, *http.Response) {
	if t.Budget == nil {
		return ratelimit.Grant{Allowed: true}, nil
	}
	g := t.Budget.Take(req.Context(), identity)
	if g.Allowed {
		return g, nil
	}
	t.observe(OutcomeRateLimited)
	why := "this identity's budget of " + t.title() + " calls is spent until its window starts again"
	switch {
	case g.Blocked:
		why = t.title() + " answered 429 Too Many Requests for this identity; the gateway sends none of its calls until " + t.title() + "'s reset"
	case g.Project:
		why = "the gateway's budget of " + t.title() + " calls for all its users is spent until its window starts again"
	}
	r := t.fail(req, http.StatusTooManyRequests, apierror.RateLimitExceeded, why+"; retry after the Retry-After seconds")
	r.Header["Retry-After"] = []string{ratelimit.RetryAfterHeader(g.RetryAfter)}
	t.putRate(req, r, g)
	return g, r
}

// settle tells the budget the provider's answer. A provider that speaks
// another dialect than Fitbit's answering a Fitbit-dialect caller (the
// Google Health API, for a translated call) sends no Fitbit rate-limit
// headers: they are computed from g. Fitbit's own pass through.
func (t *Transport) settle(req *http.Request, identity string, g ratelimit.Grant, resp *http.Response) {
	if t.Budget == nil {
		return
	}
	t.Budget.Settle(req.Context(), identity, g, resp)
	if t.dialect() != apierror.Fitbit {
		if _, sent := resp.Header[ratelimit.HeaderLimit]; !sent {
			t.putRate(req, resp, g)
		}
	}
}

// RateHeaders gives resp, an answer to identity's req that carries no
// Fitbit rate-limit headers (the gateway's own error, or one the provider
// sent without them), the identity's window as it stands, counted by
// nothing: Fitbit sent the headers with every answer, and an app that
// paces itself by them reads them on its errors too. Nothing for an
// unidentified caller, one of the Google dialect, or without a Budget.
func (t *Transport) RateHeaders(req *http.Request, identity string, resp *http.Response) *http.Response {
	if t.Budget == nil || identity == "" || resp == nil {
		return resp
	}
	if _, sent := resp.Header[ratelimit.HeaderLimit]; sent || t.dialectOf(req) == apierror.Google {
		return resp
	}
	t.putRate(req, resp, t.Budget.Peek(req.Context(), identity))
	return resp
}

// putRate sets Fitbit's rate-limit headers of g on a Fitbit-dialect
// caller's answer.
func (t *Transport) putRate(req *http.Request, resp *http.Response, g ratelimit.Grant) {
	if g.Limit == 0 || t.dialectOf(req) == apierror.Google {
		return
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	ratelimit.SetHeaders(resp.Header, g, t.clock()())
}
