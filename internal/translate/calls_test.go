package translate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
)

// recordWaits replaces e's backoff wait: it records the waits, never sleeps.
func recordWaits(e *Engine) *[]time.Duration {
	var waits []time.Duration
	e.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return &waits
}

func serveErr(t *testing.T, e *Engine, ctx context.Context, path string) (*Answer, error) {
	t.Helper()
	r, err := Parse(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.Serve(ctx, r, Metric)
}

// TestBackoff: Google's 429, 503 and 504 are retried a bounded number of
// times, waiting Retry-After or doubling from firstBackoff, and then become
// Fitbit's 429 or 503; a Retry-After beyond maxBackoff is not waited for
// but told to the app.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		failures   int
		waits      []time.Duration
		want       int // Fitbit status; 0: answered
	}{
		{"503 once", http.StatusServiceUnavailable, "", 1, []time.Duration{firstBackoff}, 0},
		{"504 twice", http.StatusGatewayTimeout, "", 2, []time.Duration{firstBackoff, 2 * firstBackoff}, 0},
		{"429 Retry-After", http.StatusTooManyRequests, "2", 1, []time.Duration{2 * time.Second}, 0},
		{"429 Retry-After beyond the cap", http.StatusTooManyRequests, "3600", 1, nil, http.StatusTooManyRequests},
		{"503 always", http.StatusServiceUnavailable, "", 99, []time.Duration{firstBackoff, 2 * firstBackoff}, http.StatusServiceUnavailable},
		{"429 always", http.StatusTooManyRequests, "1", 99, []time.Duration{time.Second, time.Second}, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v4/users/me/settings" {
					_, _ = w.Write([]byte(`{}`)) // the roll-up: no data
					return
				}
				if n++; n <= tc.failures {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"timeZone":"UTC","utcOffset":"0s"}`))
			}))
			defer srv.Close()
			e, err := NewEngine(context.Background(), srv.Client(), srv.URL, func() time.Time { return simNow })
			if err != nil {
				t.Fatal(err)
			}
			waits := recordWaits(e)
			_, err = serveErr(t, e, context.Background(), "/1/user/-/activities/steps/date/2026-11-19/1d.json")
			if !slices.Equal(*waits, tc.waits) {
				t.Errorf("waits %v, want %v", *waits, tc.waits)
			}
			var fe *Error
			switch {
			case tc.want == 0 && n != tc.failures+1:
				t.Errorf("%d settings calls, want %d", n, tc.failures+1)
			case tc.want != 0 && (!errors.As(err, &fe) || fe.Status != tc.want || fe.Type != Unavailable):
				t.Errorf("err %v, want Fitbit %d %s", err, tc.want, Unavailable)
			case tc.want != 0 && n != len(tc.waits)+1:
				t.Errorf("%d calls, want %d", n, len(tc.waits)+1)
			case tc.want != 0 && tc.retryAfter != "" && strconv.Itoa(int(fe.RetryAfter.Seconds())) != tc.retryAfter:
				t.Errorf("RetryAfter %v, want Google's %ss", fe.RetryAfter, tc.retryAfter)
			}
		})
	}
}

func TestBackoffStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	e, err := NewEngine(context.Background(), srv.Client(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The real wait (sleepCtx) returns at once on a done context.
	if _, err := serveErr(t, e, ctx, "/1/user/-/profile.json"); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

// TestSimulatedRateLimit: the simulator's 429 with Retry-After until the
// next minute, beyond maxBackoff, is Fitbit's 429 at once, with Google's
// Retry-After: no retry Google would refuse.
func TestSimulatedRateLimit(t *testing.T) {
	s, err := googlesim.Start(googlesim.Config{Now: func() time.Time { return simNow }, RateLimitPerMinute: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := s.MintTokens(s.Config().DefaultUser, s.AllScopes()...)
	e, err := NewEngine(context.Background(), &http.Client{Transport: bearer(tok.AccessToken)}, s.URL(), func() time.Time { return simNow })
	if err != nil {
		t.Fatal(err)
	}
	waits := recordWaits(e)
	_, err = serveErr(t, e, context.Background(), "/1/user/-/profile.json")
	var fe *Error
	left := simNow.Truncate(time.Minute).Add(time.Minute).Sub(simNow)
	if !errors.As(err, &fe) || fe.Status != http.StatusTooManyRequests || len(*waits) != 0 || fe.RetryAfter != left {
		t.Errorf("err %v (RetryAfter %v, want %v) after waits %v", err, fe.RetryAfter, left, *waits)
	}
}

// TestMissingScope: Google's 403 for a scope the connection lacks is
// Fitbit's 403 insufficient_scope naming the Fitbit scope.
func TestMissingScope(t *testing.T) {
	s, err := googlesim.Start(googlesim.Config{Now: func() time.Time { return simNow }, RateLimitPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var scopes []string
	for _, a := range []string{googlesim.AreaActivity, googlesim.AreaProfile, googlesim.AreaSettings} {
		scopes = append(scopes, s.Scope(a, false))
	}
	tok := s.MintTokens(s.Config().DefaultUser, scopes...)
	e, err := NewEngine(context.Background(), &http.Client{Transport: bearer(tok.AccessToken)}, s.URL(), func() time.Time { return simNow })
	if err != nil {
		t.Fatal(err)
	}
	for path, scope := range map[string]string{
		"/1.2/user/-/sleep/date/2026-11-19.json":             "sleep",
		"/1/user/-/body/log/weight/date/2026-11-19.json":     "weight",
		"/1/user/-/activities/heart/date/2026-11-19/1d.json": "heartrate",
	} {
		_, err := serveErr(t, e, context.Background(), path)
		var fe *Error
		if !errors.As(err, &fe) || fe.Status != http.StatusForbidden || fe.Type != InsufficientScope || fe.FieldName != scope {
			t.Errorf("%s: %v, want 403 %s naming %s", path, err, InsufficientScope, scope)
		}
	}
	if _, err := serveErr(t, e, context.Background(), "/1/user/-/activities/steps/date/2026-11-19/1d.json"); err != nil {
		t.Errorf("steps with the activity scope: %v", err)
	}
}

func TestTooManyCallsIsFitbitError(t *testing.T) {
	var fe *Error
	if !errors.As(error(ErrTooManyCalls), &fe) || fe.Status != http.StatusBadRequest || fe.Type != Validation {
		t.Errorf("ErrTooManyCalls = %#v", ErrTooManyCalls)
	}
}

// TestForbiddenOtherwise: a 403 that is not about scopes is Fitbit's
// insufficient_permissions, with no scope named.
func TestForbiddenOtherwise(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`))
	}))
	defer srv.Close()
	e, err := NewEngine(context.Background(), srv.Client(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = serveErr(t, e, context.Background(), "/1/user/-/profile.json")
	var fe *Error
	if !errors.As(err, &fe) || fe.Status != http.StatusForbidden || fe.Type != InsufficientPermissions || fe.FieldName != "" {
		t.Errorf("err %v", err)
	}
}
