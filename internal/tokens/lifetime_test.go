package tokens

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Tokens that live no longer than the skew (2-minute tokens against the
// default 5 minutes) are refreshed on every request: the first such token
// is warned of, once per registration.
func TestShortTokensAreWarnedOfOnce(t *testing.T) {
	e := newEnv(t)
	core, logs := observer.New(zapcore.WarnLevel)
	e.m.SetLogger(zap.New(core))
	e.sim.SetAccessTokenLifetime(2 * time.Minute)
	e.connect(t, "alice", "AAAAAA", time.Minute)
	e.connect(t, "bob", "BBBBBB", time.Minute)
	for _, id := range []string{"alice", "bob", "alice"} {
		if _, err := e.m.Get(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	warned := logs.FilterMessageSnippet("refresh_skew is not shorter").All()
	if len(warned) != 1 || warned[0].ContextMap()["provider"] != "fitbit" || warned[0].ContextMap()["refresh_skew"] != DefaultSkew {
		t.Fatalf("warnings: %+v", logs.All())
	}

	// Tokens of the usual 8 hours are not.
	e = newEnv(t)
	core, logs = observer.New(zapcore.WarnLevel)
	e.m.SetLogger(zap.New(core))
	e.connect(t, "alice", "AAAAAA", time.Minute)
	if _, err := e.m.Get(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessageSnippet("refresh_skew").Len(); n != 0 {
		t.Fatalf("warned of 8-hour tokens: %+v", logs.All())
	}
}
