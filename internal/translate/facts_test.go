package translate

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestFactsCachedPerConnection: a connection's second call within FactsTTL
// asks Google for no settings; after FactsTTL, or for another connection,
// it asks again; without WithConnection nothing is cached.
func TestFactsCachedPerConnection(t *testing.T) {
	e, _ := startEngine(t)
	clock := simNow
	e.now = func() time.Time { return clock }
	r, err := Parse(http.MethodGet, "/1/user/-/activities/steps/date/today/7d.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := func(ctx context.Context) int {
		t.Helper()
		a, err := e.Serve(ctx, r, Metric)
		if err != nil {
			t.Fatal(err)
		}
		return a.GoogleCalls
	}
	alice := WithConnection(context.Background(), "google_health\x00alice")
	first := calls(alice)
	if again := calls(alice); again != first-1 {
		t.Errorf("cached settings: %d Google calls, want %d", again, first-1)
	}
	if bob := calls(WithConnection(context.Background(), "google_health\x00bob")); bob != first {
		t.Errorf("another connection: %d Google calls, want %d", bob, first)
	}
	if none := calls(context.Background()); none != first {
		t.Errorf("no connection named: %d Google calls, want %d", none, first)
	}
	clock = clock.Add(FactsTTL)
	if later := calls(alice); later != first {
		t.Errorf("after FactsTTL: %d Google calls, want %d", later, first)
	}
}

// TestUserPathIsTheConnectedUser: /1/user/<id>/ is answered for the
// user's own Fitbit id (Google's legacyUserId) and refused for any other.
func TestUserPathIsTheConnectedUser(t *testing.T) {
	e, s := startEngine(t)
	own := s.LegacyUserID(s.Config().DefaultUser)
	if own == "" {
		t.Fatal("the simulated user has no legacyUserId")
	}
	ctx := WithConnection(context.Background(), "c")
	a := serve(t, e, "/1/user/"+own+"/profile.json", Metric)
	if got := a.Body.(map[string]any)["user"].(map[string]any)["encodedId"]; got != own {
		t.Errorf("encodedId %v, want %s", got, own)
	}
	r, err := Parse(http.MethodGet, "/1/user/ZZZZZZ/profile.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Serve(ctx, r, Metric)
	var te *Error
	if !errors.As(err, &te) || te.Status != http.StatusForbidden || te.Type != InsufficientPermissions {
		t.Fatalf("another user's id: %v", err)
	}
}
