package inject

import (
	"context"
	"net/http"
	"testing"
)

// A caller that resolved the identity hands it on (RoundTripAs, or
// WithIdentity through an http.Client): the transport does not evaluate
// the identity expression again, and takes the identity it was given.
func TestResolvedIdentityTakenAsGiven(t *testing.T) {
	f := newFixture(t)
	f.connect(t, "alice", "AAAAAA")
	f.connect(t, "bob", "BBBBBB")
	f.tr.Identity = func(*http.Request) string { t.Error("identity evaluated again"); return "" }
	url := f.sim.APIBase() + "/1/user/-/profile.json"

	if a := roundTrip(t, rtFunc(func(r *http.Request) (*http.Response, error) { return f.tr.RoundTripAs(r, "alice") }),
		newReq(t, "GET", url, "", nil)); a.status != http.StatusOK {
		t.Fatalf("RoundTripAs: %d %s", a.status, a.body)
	}
	if reqs := f.sim.Requests(); reqs[len(reqs)-1].UserID != "AAAAAA" {
		t.Error("RoundTripAs: not alice's token")
	}

	req := newReq(t, "GET", url, "", nil)
	req = req.WithContext(WithIdentity(context.Background(), "bob"))
	if a := roundTrip(t, f.tr, req); a.status != http.StatusOK {
		t.Fatalf("WithIdentity: %d %s", a.status, a.body)
	}
	if reqs := f.sim.Requests(); reqs[len(reqs)-1].UserID != "BBBBBB" {
		t.Error("WithIdentity: not bob's token")
	}

	// An identity resolved as "" is unauthenticated, not evaluated anew.
	req = newReq(t, "GET", url, "", nil)
	req = req.WithContext(WithIdentity(context.Background(), ""))
	if a := roundTrip(t, f.tr, req); a.status != http.StatusUnauthorized || envelope(t, a).ErrorType != "unauthenticated" {
		t.Errorf("WithIdentity(\"\"): %d %s", a.status, a.body)
	}
}
