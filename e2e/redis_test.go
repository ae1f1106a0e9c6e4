package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	dghubble "github.com/dghubble/oauth1"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
)

// The gateway on a Redis store: connect, refresh and replay, reload, and no
// plaintext token in Redis.
func TestRedisStore(t *testing.T) {
	addr := redistest.Start(t)
	store := "store redis {\n\t\t\taddress " + addr + "\n\t\t\tkey_prefix e2e\n\t\t}"
	e := newEnv(t, options{FitbitExtra: store})
	e.mustConnect("alice")
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("profile: %d %v", code, m)
	}
	e.sim.ExpireAccessTokens("ALICE1")
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 {
		t.Fatalf("after expiry: %d %v", code, m)
	}
	// A reload with other settings makes a new state that reads Redis.
	e.load(options{FitbitExtra: store + "\n\t\tcache_size 7"})
	if code, m := e.get("alice", "/1/user/-/profile.json"); code != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("after reload: %d %v", code, m)
	}
	if st := e.sim.Stats(); st.Refreshes != 1 || st.InvalidGrants != 0 {
		t.Fatalf("simulator %+v", st)
	}

	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v %v", keys, err)
	}
	var raw strings.Builder
	for _, k := range keys {
		raw.WriteString(k)
		switch typ, _ := c.Type(ctx, k).Result(); typ {
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				raw.WriteString(f + v)
			}
		case "set":
			raw.WriteString(strings.Join(c.SMembers(ctx, k).Val(), ""))
		case "string":
			raw.WriteString(c.Get(ctx, k).Val())
		}
	}
	for _, s := range append(e.sim.IssuedSecrets(), "alice") {
		if strings.Contains(raw.String(), s) {
			t.Fatalf("Redis holds %q in plain text", s[:min(8, len(s))])
		}
	}
}

// TestLegacyOAuth1OnRedis: the legacy OAuth 1.0a tokens and nonces live in
// the Redis store, sealed, under hashed keys; a replayed request is refused.
func TestLegacyOAuth1OnRedis(t *testing.T) {
	addr := redistest.Start(t)
	a := newLegacy(t, "store redis {\n\t\t\taddress "+addr+"\n\t\t\tkey_prefix e2e\n\t\t}")
	tok := a.authorize()
	var signed http.Header
	capture := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		signed = r.Header.Clone()
		return http.DefaultTransport.RoundTrip(r)
	})}
	resp, err := a.cfg.Client(context.WithValue(context.Background(), dghubble.HTTPClient, capture), tok).Get(gateway + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 200 || profileUser(m) != "ALICE1" {
		t.Fatalf("profile: %d %v", status, m)
	}
	req, _ := http.NewRequest("GET", gateway+"/1/user/-/profile.json", nil)
	req.Header = signed
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if status, m := readJSON(t, resp); status != 401 || m["errors"].([]any)[0].(map[string]any)["fieldName"] != "oauth_nonce" {
		t.Fatalf("replay: %d %v", status, m)
	}

	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	for _, kind := range []string{"oauth1_access", "oauth1_nonce"} {
		keys, _ := c.Keys(ctx, "e2e:entry:"+kind+":*").Result()
		if len(keys) == 0 {
			t.Errorf("no %s entries in Redis", kind)
		}
		for _, k := range keys {
			v := c.Get(ctx, k).Val()
			for _, s := range []string{tok.Token, tok.TokenSecret, legacySecret, "oauth1:"} {
				if strings.Contains(k+v, s) {
					t.Fatalf("Redis holds %q in plain text", s[:min(8, len(s))])
				}
			}
		}
	}
	if keys, _ := c.Keys(ctx, "e2e:entry:oauth1_request:*").Result(); len(keys) != 0 {
		t.Errorf("a redeemed request token is still stored: %v", keys)
	}
}
