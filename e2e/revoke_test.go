package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// sweepFast makes the background sweeps (unfinished refreshes, pending
// revocations) run often, so a test waits on their effect briefly.
const sweepFast = "recovery_interval 50ms"

// storeCase is a token store the tests below run on: its lines in the
// fitbit global option, and the Redis address when it is Redis.
type storeCase struct {
	name, config, redisAddr string
}

// stores are the default storage store and Redis (started for t).
func stores(t *testing.T) []storeCase {
	addr := redistest.Start(t)
	return []storeCase{
		{name: "storage"},
		{name: "redis", config: "store redis {\n\t\t\taddress " + addr + "\n\t\t\tkey_prefix e2e\n\t\t}", redisAddr: addr},
	}
}

// eventually polls cond until it holds, failing the test after a generous
// bound; it measures nothing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: never happened", what)
}

// disconnection is the JSON answer of POST /fitbit/disconnect.
type disconnection struct {
	Disconnected bool  `json:"disconnected"`
	WasConnected bool  `json:"was_connected"`
	Revoked      *bool `json:"revoked"`
	RevokeError  *struct {
		Reason      string `json:"reason"`
		Message     string `json:"message"`
		RetryQueued bool   `json:"retry_queued"`
	} `json:"revoke_error"`
}

func (e *env) disconnect(user string) disconnection {
	e.t.Helper()
	resp, body := e.do(e.app(user), "POST", "/fitbit/disconnect", nil, nil)
	var d disconnection
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &d) != nil {
		e.t.Fatalf("disconnect: %d %s", resp.StatusCode, body)
	}
	for _, s := range e.sim.IssuedSecrets() {
		if strings.Contains(body, s) {
			e.t.Fatal("the disconnect answer holds a token")
		}
	}
	return d
}

// When the provider is gone, refuses the client or is down, disconnect still
// deletes the connection and says why the provider did not revoke it; the
// transient failure is retried in the background until the simulator gets
// it. On both stores.
func TestDisconnectWhenProviderFails(t *testing.T) {
	for _, sc := range stores(t) {
		for _, tc := range []struct {
			name   string
			fail   func(sim *fitbitsim.Server)
			reason string
			retry  bool
		}{
			{"gone", func(sim *fitbitsim.Server) { sim.SetGone(true) }, "provider_gone", false},
			{"invalid_client", func(sim *fitbitsim.Server) { sim.FailNextRevokes(1, fitbitsim.RevokeInvalidClient) }, "rejected", false},
			{"unavailable", func(sim *fitbitsim.Server) { sim.FailNextRevokes(1, fitbitsim.RevokeUnavailable) }, "unavailable", true},
		} {
			t.Run(sc.name+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t, options{FitbitExtra: sc.config + "\n\t\t" + sweepFast})
				e.mustConnect("alice")
				if code, _ := e.get("alice", "/1/user/-/profile.json"); code != 200 {
					t.Fatalf("profile: %d", code)
				}
				tc.fail(e.sim)
				d := e.disconnect("alice")
				e.sim.SetGone(false)
				if !d.Disconnected || !d.WasConnected || d.Revoked == nil || *d.Revoked || d.RevokeError == nil ||
					d.RevokeError.Reason != tc.reason || d.RevokeError.Message == "" || d.RevokeError.RetryQueued != tc.retry {
					t.Fatalf("disconnect answer %+v %+v", d, d.RevokeError)
				}
				if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "not_connected" {
					t.Fatalf("after disconnect: %d %v", code, m)
				}
				if tc.retry {
					eventually(t, "the background retry revokes the tokens", func() bool { return e.sim.Stats().Revocations == 1 })
				} else if e.sim.Stats().Revocations != 0 {
					t.Fatal("revoked despite the fault")
				}
				if leaks := secretsIn(t, e.dir, e.sim.IssuedSecrets()); len(leaks) > 0 {
					t.Fatalf("tokens in plain text: %v", leaks)
				}
			})
		}
	}
}

// A connection whose record cannot be opened (its key dropped from the
// keyring, or the file altered) answers record_unreadable to the app and
// logs the cause; a new consent replaces it; disconnect deletes it. On both
// stores.
func TestUnreadableRecordRecovers(t *testing.T) {
	for _, sc := range stores(t) {
		store := sc.config
		t.Run(sc.name, func(t *testing.T) {
			e := newEnv(t, options{FitbitExtra: store})
			e.mustConnect("alice")
			// A new keyring without the record's key (a new state, so no cache).
			e.key = newKey()
			e.load(options{FitbitExtra: store})

			code, m := e.get("alice", "/1/user/-/profile.json")
			if code != 401 || errorType(m) != "record_unreadable" || !strings.Contains(errorMessage(m), "/fitbit/authorize") {
				t.Fatalf("profile with an unreadable record: %d %v", code, m)
			}
			logged, _ := os.ReadFile(filepath.Join(e.dir, "caddy.log"))
			if !strings.Contains(string(logged), "the stored connection cannot be read") ||
				!strings.Contains(string(logged), tokenstore.IdentityHash("alice")) || !strings.Contains(string(logged), "key that is not configured") {
				t.Fatal("the unreadable record was not logged with its identity hash and cause")
			}
			if _, st := e.get("alice", "/fitbit/status"); st["health"] != "record_unreadable" || st["connected"] != false {
				t.Fatalf("status: %v", st)
			}

			// A fresh consent replaces it.
			e.mustConnect("alice")
			if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 {
				t.Fatalf("profile after reconnecting: %d %v", code, m)
			}

			// Unreadable again, this time altered at rest; a reload with
			// other settings drops the cache.
			tamperStored(t, e, sc, "alice")
			e.load(options{FitbitExtra: store + "\n\t\tcache_size 9"})
			if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "record_unreadable" {
				t.Fatalf("profile with a tampered record: %d %v", code, m)
			}
			d := e.disconnect("alice")
			if !d.WasConnected || d.Revoked == nil || *d.Revoked || d.RevokeError == nil || d.RevokeError.Reason != "record_unreadable" {
				t.Fatalf("disconnect of an unreadable record: %+v", d)
			}
			if code, m := e.get("alice", "/1/user/-/profile.json"); code != 401 || errorType(m) != "not_connected" {
				t.Fatalf("after disconnect: %d %v", code, m)
			}
		})
	}
}

// tamperStored flips a bit of identity's sealed record in the store.
func tamperStored(t *testing.T, e *env, sc storeCase, identity string) {
	t.Helper()
	hash := tokenstore.IdentityHash(identity)
	if sc.redisAddr == "" {
		storetest.TamperFile(t, filepath.Join(e.dir, "storage"), "fitbit/connections/fitbit/"+hash)
		return
	}
	c := redis.NewClient(&redis.Options{Addr: sc.redisAddr})
	defer c.Close()
	ctx := context.Background()
	key := "e2e:conn:fitbit:" + hash
	d, err := c.HGet(ctx, key, "d").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d[len(d)-1] ^= 1
	if err := c.HSet(ctx, key, "d", d).Err(); err != nil {
		t.Fatal(err)
	}
}

// Reconnecting with another Fitbit account revokes the previous account's
// grant in the background; reconnecting the same account revokes nothing
// (it would revoke the new tokens: one revoke kills every token of a user).
func TestReconnectRevokesPreviousAccount(t *testing.T) {
	e := newEnv(t, options{FitbitExtra: sweepFast})
	same := func(*http.Request, []string) fitbitsim.Consent { return fitbitsim.Consent{UserID: "ALICE1"} }
	e.sim.SetConsent(same)
	e.mustConnect("alice")
	e.mustConnect("alice")
	if entries, _ := os.ReadDir(filepath.Join(e.dir, "storage", "fitbit", "entries", "revoke_retry")); len(entries) != 0 {
		t.Fatal("a reconnect of the same account queued a revocation")
	}
	e.sim.SetConsent(func(*http.Request, []string) fitbitsim.Consent { return fitbitsim.Consent{UserID: "BOB222"} })
	e.mustConnect("alice")
	eventually(t, "the previous account's grant is revoked", func() bool { return e.sim.Stats().Revocations == 1 })
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "BOB222" {
		t.Fatalf("the new account's connection: %d %v", code, m)
	}
	if st := e.sim.Stats(); st.Revocations != 1 {
		t.Fatalf("revocations %+v", st)
	}
}
