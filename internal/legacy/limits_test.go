package legacy_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dghubble "github.com/dghubble/oauth1"

	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/oauth1"
	"github.com/caddy-fitbit/caddy-fitbit/internal/ratelimit"
)

// limited gives the harness's server rate limits on the harness's clock.
func (h *harness) limited(configure func(l ratelimit.Limiter)) {
	m := ratelimit.NewMemory(0)
	m.Now = h.clock
	configure(m)
	h.srv.Init()
}

func legacyFailures(l ratelimit.Limiter, perConsumer, perToken ratelimit.Limit) legacy.FailureLimits {
	return legacy.FailureLimits{Limiter: l, PerConsumer: perConsumer, PerToken: perToken}
}

func wantRetryAfter(t *testing.T, resp *http.Response, max time.Duration) {
	t.Helper()
	s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || s < 1 || time.Duration(s)*time.Second > max {
		t.Fatalf("Retry-After %q, want 1..%v seconds", resp.Header.Get("Retry-After"), max)
	}
}

// Wrong verifiers spend the request token's failure budget, never the
// token: once the budget is spent the token is refused (429) until
// Retry-After, then the right verifier still redeems it.
func TestWrongVerifiersAreLimitedAndNeverBurnTheToken(t *testing.T) {
	h := newHarness(t)
	h.limited(func(l ratelimit.Limiter) {
		h.srv.Failures = legacyFailures(l, ratelimit.Limit{Events: 1000, Period: time.Minute}, ratelimit.Limit{Events: 3, Period: 10 * time.Minute})
	})
	cfg := h.config(consumerKey, consumerSecret)
	rt, rs, link := h.start(cfg)
	newBrowser(t).visit(link)
	verifier := h.callbacks[0].Get("oauth_verifier")
	for i := range 3 {
		if _, _, err := cfg.AccessToken(rt, rs, "wrong"+strconv.Itoa(i)); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("wrong verifier %d: %v", i, err)
		}
	}
	// The fourth failure spends the last of the budget: 429 from now on,
	// with the right verifier too.
	exchange := func(v string) *http.Response {
		req := signedRequest(t, oauth1.HMACSHA1, h.gateway.URL+"/oauth/access_token?oauth_verifier="+v, dghubble.NewToken(rt, rs), "n-"+v)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, v := range []string{"wrong3", verifier} {
		resp := exchange(v)
		wantRetryAfter(t, resp, 200*time.Second) // one failure comes back every 200 s
		wantOAuthError(t, resp, http.StatusTooManyRequests, "n/a")
	}
	h.now.Add(200)
	if _, _, err := cfg.AccessToken(rt, rs, verifier); err != nil {
		t.Fatalf("the right verifier once the budget is back: %v", err)
	}
}

// Bad signatures are limited per consumer: a flood of forgeries makes the
// consumer wait, and the refusal costs no store read.
func TestBadSignaturesAreLimitedPerConsumer(t *testing.T) {
	h := newHarness(t)
	h.limited(func(l ratelimit.Limiter) {
		h.srv.Failures = legacyFailures(l, ratelimit.Limit{Events: 2, Period: time.Minute}, ratelimit.Limit{})
	})
	forged := h.config(consumerKey, "not-the-consumer-secret-at-all")
	for range 2 {
		if _, _, err := forged.RequestToken(); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("forged: %v", err)
		}
	}
	good := h.config(consumerKey, consumerSecret)
	if _, _, err := forged.RequestToken(); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("third forgery: %v", err)
	}
	if _, _, err := good.RequestToken(); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("good signature while the consumer is refused: %v", err)
	}
	h.now.Add(30)
	if _, _, err := good.RequestToken(); err != nil {
		t.Fatalf("after Retry-After: %v", err)
	}
}

// request_token and access_token are limited per client IP, authorize too
// (a page, for a browser), each with Retry-After.
func TestEndpointsAreLimitedPerClientIP(t *testing.T) {
	h := newHarness(t)
	h.limited(func(l ratelimit.Limiter) {
		h.srv.TokenGate = &ratelimit.Gate{Limiter: l, Name: "oauth1_token", PerIP: ratelimit.Limit{Events: 2, Period: time.Minute}}
		h.srv.BrowserGate = &ratelimit.Gate{Limiter: l, Name: "browser", PerIP: ratelimit.Limit{Events: 1, Period: time.Minute}}
	})
	cfg := h.config(consumerKey, consumerSecret)
	_, _, link := h.start(cfg)
	_, _, _ = h.start(cfg)
	req := signedRequest(t, oauth1.HMACSHA1, h.gateway.URL+"/oauth/request_token", &dghubble.Token{}, "n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantRetryAfter(t, resp, 30*time.Second)
	wantOAuthError(t, resp, http.StatusTooManyRequests, "n/a")

	b := newBrowser(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if status, _ := b.visit(link); status != http.StatusSeeOther {
		t.Fatalf("first authorize: %d", status)
	}
	resp, err = b.c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("second authorize: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	wantRetryAfter(t, resp, 60*time.Second)
}
