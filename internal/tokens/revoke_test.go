package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/provider"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redisstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// countRevokes counts the requests that reach the revoke endpoint, on the
// real transport.
type countRevokes struct {
	mu sync.Mutex
	n  int
}

func (c *countRevokes) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/revoke") {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countRevokes) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// backend is one kind of real store. fresh makes an empty backing store and
// returns a way to open it under a keyring (as many times as there are
// instances) and to alter a record stored there.
type backend struct {
	name  string
	fresh func(t *testing.T) backing
}

type backing struct {
	open   func(t *testing.T, keys *tokenstore.Keyring) tokenstore.Store
	tamper func(t *testing.T, st tokenstore.Store, k tokenstore.Key)
}

// backends are the storage store (file system) and a Redis server started
// for t, each test on its own key prefix.
func backends(t *testing.T) []backend {
	file := backend{name: "storage", fresh: func(t *testing.T) backing {
		dir := t.TempDir()
		return backing{
			open: func(t *testing.T, keys *tokenstore.Keyring) tokenstore.Store {
				return storagestore.New(&certmagic.FileStorage{Path: dir}, keys, "")
			},
			tamper: func(t *testing.T, st tokenstore.Store, k tokenstore.Key) {
				key, err := st.(*storagestore.Store).ConnectionKey(k)
				if err != nil {
					t.Fatal(err)
				}
				storetest.TamperFile(t, dir, key)
			},
		}
	}}
	addr := redistest.Start(t)
	prefixes := 0
	red := backend{name: "redis", fresh: func(t *testing.T) backing {
		prefixes++
		prefix := fmt.Sprintf("t%d", prefixes)
		return backing{
			open: func(t *testing.T, keys *tokenstore.Keyring) tokenstore.Store {
				st, err := redisstore.New(redisstore.Options{Addr: addr, KeyPrefix: prefix}, keys)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close() })
				return st
			},
			tamper: func(t *testing.T, st tokenstore.Store, k tokenstore.Key) {
				rs := st.(*redisstore.Store)
				key, err := rs.ConnectionKey(k)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				d, err := rs.Client().HGet(ctx, key, "d").Bytes()
				if err != nil {
					t.Fatal(err)
				}
				d[len(d)-1] ^= 1
				if err := rs.Client().HSet(ctx, key, "d", d).Err(); err != nil {
					t.Fatal(err)
				}
			},
		}
	}}
	return []backend{file, red}
}

func keyringOf(t *testing.T, seeds ...string) *tokenstore.Keyring {
	t.Helper()
	var keys [][]byte
	for _, s := range seeds {
		k := sha256.Sum256([]byte(s))
		keys = append(keys, k[:])
	}
	kr, err := tokenstore.NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// revokeEnv is a Manager over one real store in front of the simulator,
// with a fake clock and an observed logger.
type revokeEnv struct {
	sim     *fitbitsim.Server
	store   tokenstore.Store
	m       *Manager
	revokes *countRevokes
	clk     *fakeClock
	logs    *observer.ObservedLogs
	be      backing
}

func newRevokeEnv(t *testing.T, be backend) *revokeEnv {
	t.Helper()
	sim, err := fitbitsim.Start(fitbitsim.Config{RateLimitPerHour: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	core, logs := observer.New(zapcore.DebugLevel)
	b := be.fresh(t)
	e := &revokeEnv{sim: sim, store: b.open(t, keyringOf(t, "key-1")), clk: &fakeClock{now: time.Now()}, logs: logs, be: b, revokes: &countRevokes{}}
	e.m = e.manager(e.store, zap.New(core))
	return e
}

// manager is another Manager (another instance, or this one after a
// restart or reload) over st, counting its revocations with e's.
func (e *revokeEnv) manager(st tokenstore.Store, log *zap.Logger) *Manager {
	return New(Config{Provider: provider.NewClient(simReg(e.sim, ""), &http.Client{Transport: e.revokes}), Store: st,
		Now: e.clk.Now, Logger: log, RevokeAttempts: 3, RevokeWindow: time.Hour})
}

// connect connects identity to the simulated user through Connect, as the
// callback does, and returns the stored record.
func (e *revokeEnv) connect(t *testing.T, identity, user string) *tokenstore.Record {
	t.Helper()
	tr := e.sim.MintTokens(user)
	rec := &tokenstore.Record{UserID: tr.UserID, Scopes: strings.Fields(tr.Scope), AccessToken: tr.AccessToken,
		RefreshToken: tr.RefreshToken, TokenType: "Bearer", Expiry: e.clk.Now().Add(8 * time.Hour),
		Status: tokenstore.StatusOK, ConnectedAt: e.clk.Now()}
	if err := e.m.Connect(context.Background(), identity, rec); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return rec.Clone()
}

// revokeRequests counts the requests that reached the revoke endpoint.
func (e *revokeEnv) revokeRequests() int { return e.revokes.count() }

func (e *revokeEnv) pending(t *testing.T) int {
	t.Helper()
	v, err := e.store.ListEntries(context.Background(), revokeRetryKind, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(v)
}

// alive reports whether the simulator still accepts accessToken.
func (e *revokeEnv) alive(t *testing.T, accessToken string) bool {
	t.Helper()
	req, _ := http.NewRequest("GET", e.sim.APIBase()+"/1/user/-/profile.json", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func (e *revokeEnv) wantDeleted(t *testing.T, identity string) {
	t.Helper()
	if _, err := e.store.LoadConnection(context.Background(), tokenstore.KeyOf("fitbit", identity)); !errors.Is(err, tokenstore.ErrNotFound) {
		t.Fatalf("after disconnect the store has %v, want ErrNotFound", err)
	}
	if _, err := e.m.Get(context.Background(), identity); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Get after disconnect: %v", err)
	}
}

func noSecretIn(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("%s holds a token: %q", what, s)
		}
	}
}

// Whatever the provider answers the revocation, the connection is deleted,
// and the answer says whether and why not the provider revoked it; only a
// transient failure is retried.
func TestDisconnectWhenRevokeFails(t *testing.T) {
	for _, be := range backends(t) {
		for _, tc := range []struct {
			name   string
			fault  fitbitsim.RevokeFault
			reason RevokeReason
			retry  bool
		}{
			{"gone", fitbitsim.RevokeGone, RevokeProviderGone, false},
			{"invalid_client", fitbitsim.RevokeInvalidClient, RevokeRejected, false},
			{"unauthorized", fitbitsim.RevokeFault{Status: 401, ErrorType: "invalid_client"}, RevokeRejected, false},
			{"unavailable", fitbitsim.RevokeUnavailable, RevokeUnavailable, true},
		} {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				e := newRevokeEnv(t, be)
				rec := e.connect(t, "alice", "AAAAAA")
				if _, err := e.m.Get(context.Background(), "alice"); err != nil {
					t.Fatal(err)
				}
				e.sim.FailNextRevokes(1, tc.fault)
				d, err := e.m.Disconnect(context.Background(), "alice")
				if err != nil {
					t.Fatalf("Disconnect: %v", err)
				}
				if !d.Existed || d.Revoked || d.Reason != tc.reason || d.Message == "" || d.RetryQueued != tc.retry {
					t.Fatalf("Disconnect = %+v, want reason %s, retry %v", d, tc.reason, tc.retry)
				}
				noSecretIn(t, "the message", d.Message, rec.AccessToken, rec.RefreshToken)
				e.wantDeleted(t, "alice")
				if tc.retry != (e.pending(t) == 1) {
					t.Fatalf("%d pending revocations, want retry %v", e.pending(t), tc.retry)
				}
				if !e.alive(t, rec.AccessToken) {
					t.Fatal("the simulator revoked the tokens despite the fault")
				}

				// The sweep retries a transient failure only, and the retry
				// revokes the tokens at the provider.
				before := e.revokeRequests()
				if _, err := e.m.RetryRevocations(context.Background()); err != nil {
					t.Fatal(err)
				}
				if got := e.revokeRequests() - before; got != map[bool]int{true: 1, false: 0}[tc.retry] {
					t.Fatalf("the sweep sent %d revocations", got)
				}
				if e.alive(t, rec.AccessToken) != !tc.retry {
					t.Fatalf("after the sweep the tokens are alive: %v", !tc.retry)
				}
				if e.pending(t) != 0 {
					t.Fatal("a revocation is still pending after it succeeded")
				}
			})
		}
	}
}

// A revocation that keeps failing is retried with backoff, at most
// RevokeAttempts times, then given up and logged.
func TestRevokeRetryBacksOffThenGivesUp(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := newRevokeEnv(t, be)
			rec := e.connect(t, "alice", "AAAAAA")
			e.sim.FailNextRevokes(100, fitbitsim.RevokeUnavailable)
			if d, err := e.m.Disconnect(context.Background(), "alice"); err != nil || !d.RetryQueued {
				t.Fatalf("Disconnect = %+v, %v", d, err)
			}
			sweep := func() int {
				t.Helper()
				before := e.revokeRequests()
				if _, err := e.m.RetryRevocations(context.Background()); err != nil {
					t.Fatal(err)
				}
				return e.revokeRequests() - before
			}
			if n := sweep(); n != 1 { // attempt 2, due at once
				t.Fatalf("first sweep sent %d", n)
			}
			if n := sweep(); n != 0 { // backing off
				t.Fatalf("a sweep during the backoff sent %d", n)
			}
			e.clk.Add(5 * time.Minute)
			if n := sweep(); n != 1 { // attempt 3, the last of RevokeAttempts 3
				t.Fatalf("sweep after the backoff sent %d", n)
			}
			e.clk.Add(5 * time.Minute)
			if n := sweep(); n != 0 {
				t.Fatalf("a sweep past RevokeAttempts sent %d", n)
			}
			if e.pending(t) != 0 {
				t.Fatal("the given-up revocation is still pending")
			}
			if n := e.logs.FilterMessageSnippet("gave up revoking").FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
				t.Fatalf("%d give-up logs, want 1", n)
			}
			for _, l := range e.logs.All() {
				b, _ := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()).EncodeEntry(l.Entry, l.Context)
				noSecretIn(t, "a log line", b.String(), rec.AccessToken, rec.RefreshToken)
			}
		})
	}
}

// A pending revocation survives a restart: another Manager over the same
// store (another instance, or this one restarted) makes it.
func TestRevokeRetryIsDurable(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			e := newRevokeEnv(t, be)
			rec := e.connect(t, "alice", "AAAAAA")
			e.sim.FailNextRevokes(1, fitbitsim.RevokeUnavailable)
			if d, err := e.m.Disconnect(context.Background(), "alice"); err != nil || !d.RetryQueued {
				t.Fatalf("Disconnect = %+v, %v", d, err)
			}
			other := e.manager(e.be.open(t, keyringOf(t, "key-1")), nil)
			if n, err := other.RetryRevocations(context.Background()); err != nil || n != 1 {
				t.Fatalf("the other instance's sweep = %d, %v", n, err)
			}
			if e.alive(t, rec.AccessToken) {
				t.Fatal("tokens alive after the retry")
			}
		})
	}
}

// Reconnecting: the previous grant is revoked only when the identity
// switched provider accounts. Revoking it when the same account reconnects
// would revoke the new tokens too (one revoke kills every token of the
// user), and a pending retry for that account is cancelled for the same
// reason.
func TestReconnectRevokesPreviousGrantOfAnotherAccount(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name+"/same_account", func(t *testing.T) {
			e := newRevokeEnv(t, be)
			e.connect(t, "alice", "AAAAAA")
			again := e.connect(t, "alice", "AAAAAA")
			if e.pending(t) != 0 {
				t.Fatal("a reconnect of the same account queued a revocation")
			}
			if _, err := e.m.RetryRevocations(context.Background()); err != nil {
				t.Fatal(err)
			}
			if e.revokeRequests() != 0 || !e.alive(t, again.AccessToken) {
				t.Fatal("the same account's new tokens were revoked")
			}
		})
		t.Run(be.name+"/other_account", func(t *testing.T) {
			e := newRevokeEnv(t, be)
			old := e.connect(t, "alice", "AAAAAA")
			cur := e.connect(t, "alice", "BBBBBB")
			if e.pending(t) != 1 {
				t.Fatal("switching accounts queued no revocation of the previous grant")
			}
			if n, err := e.m.RetryRevocations(context.Background()); err != nil || n != 1 {
				t.Fatalf("sweep = %d, %v", n, err)
			}
			if e.alive(t, old.AccessToken) {
				t.Fatal("the previous account's grant is still live")
			}
			if !e.alive(t, cur.AccessToken) {
				t.Fatal("the new account's tokens were revoked")
			}
			if got, err := e.m.Get(context.Background(), "alice"); err != nil || got.AccessToken() != cur.AccessToken {
				t.Fatalf("Get after the switch: %v", err)
			}
		})
		t.Run(be.name+"/cancels_pending_retry", func(t *testing.T) {
			e := newRevokeEnv(t, be)
			e.connect(t, "alice", "AAAAAA")
			e.sim.FailNextRevokes(1, fitbitsim.RevokeUnavailable)
			if d, err := e.m.Disconnect(context.Background(), "alice"); err != nil || !d.RetryQueued {
				t.Fatalf("Disconnect = %+v, %v", d, err)
			}
			// Another identity (or the same) connects the same account anew.
			again := e.connect(t, "bob", "AAAAAA")
			if e.pending(t) != 0 {
				t.Fatal("the new consent of the account did not cancel its pending revocation")
			}
			before := e.revokeRequests()
			if _, err := e.m.RetryRevocations(context.Background()); err != nil {
				t.Fatal(err)
			}
			if e.revokeRequests() != before || !e.alive(t, again.AccessToken) {
				t.Fatal("the cancelled revocation revoked the new grant")
			}
		})
	}
}

// A record that cannot be opened (tampered with, or its key dropped from
// the keyring) is a distinct, logged, non-retryable error; a fresh consent
// replaces it and disconnect deletes it.
func TestUnreadableRecord(t *testing.T) {
	for _, be := range backends(t) {
		for _, how := range []string{"tampered", "key_dropped"} {
			t.Run(be.name+"/"+how, func(t *testing.T) {
				e := newRevokeEnv(t, be)
				ctx := context.Background()
				first := e.connect(t, "alice", "AAAAAA")
				var m *Manager
				if how == "tampered" {
					e.be.tamper(t, e.store, tokenstore.KeyOf("fitbit", "alice"))
					m = e.manager(e.store, e.m.log.Load())
				} else {
					// A config whose keyring no longer has the record's key.
					m = e.manager(e.be.open(t, keyringOf(t, "key-2")), e.m.log.Load())
				}
				logs := e.logs.TakeAll
				logs()

				_, err := m.Get(ctx, "alice")
				var se *StoreError
				if !errors.Is(err, tokenstore.ErrUnreadable) || errors.As(err, &se) {
					t.Fatalf("Get = %v, want ErrUnreadable and no StoreError", err)
				}
				got := logs()
				if len(got) != 1 || got[0].Level != zapcore.ErrorLevel || got[0].ContextMap()["identity_hash"] != tokenstore.IdentityHash("alice") ||
					!strings.Contains(got[0].ContextMap()["error"].(string), "cannot") {
					t.Fatalf("want one error log with the identity hash and the cause, got %+v", got)
				}
				noSecretIn(t, "the error", err.Error(), first.AccessToken, first.RefreshToken)

				// A fresh consent replaces it.
				tr := e.sim.MintTokens("AAAAAA")
				rec := &tokenstore.Record{UserID: tr.UserID, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
					TokenType: "Bearer", Expiry: e.clk.Now().Add(8 * time.Hour), Status: tokenstore.StatusOK}
				if err := m.Connect(ctx, "alice", rec); err != nil {
					t.Fatalf("Connect over an unreadable record: %v", err)
				}
				if got, err := m.Get(ctx, "alice"); err != nil || got.AccessToken() != tr.AccessToken {
					t.Fatalf("Get after the new consent: %v", err)
				}
				if e.revokeRequests() != 0 {
					t.Fatal("the new consent revoked something")
				}

				// Unreadable again: disconnect deletes it, and says it could
				// not revoke.
				e.be.tamper(t, e.store, tokenstore.KeyOf("fitbit", "alice"))
				d, err := m.Disconnect(ctx, "alice")
				if err != nil || !d.Existed || d.Revoked || d.Reason != RevokeUnreadable || d.RetryQueued {
					t.Fatalf("Disconnect = %+v, %v", d, err)
				}
				if _, err := e.store.LoadConnection(ctx, tokenstore.KeyOf("fitbit", "alice")); !errors.Is(err, tokenstore.ErrNotFound) {
					t.Fatalf("after disconnect: %v", err)
				}
				if !bytes.Contains([]byte(d.Message), []byte("could not be read")) {
					t.Fatalf("message %q", d.Message)
				}
			})
		}
	}
}
