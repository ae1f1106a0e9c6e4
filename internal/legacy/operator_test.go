package legacy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/legacy"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func TestOperatorListsAndRevokesAnIdentitysAccessTokens(t *testing.T) {
	h := newHarness(t)
	cfg := h.config(consumerKey, consumerSecret)
	tok := h.connect(cfg)
	client := cfg.Client(context.Background(), tok)
	ctx := context.Background()
	hash := tokenstore.IdentityHash(h.signedCall(client).Identity)

	got, err := legacy.AccessTokens(ctx, h.store, hash)
	if err != nil || len(got) != 1 || got[0].Consumer != consumerKey || got[0].UserID != "ABC1" || got[0].ID == tok.Token || got[0].Created.IsZero() {
		t.Fatalf("tokens %+v, %v", got, err)
	}
	if gone, err := legacy.RevokeAccessToken(ctx, h.store, tokenstore.IdentityHash("someone else"), got[0].ID); gone != nil || err != nil {
		t.Fatalf("revoked through another identity: %v %v", gone, err)
	}
	if gone, err := legacy.RevokeAccessToken(ctx, h.store, hash, got[0].ID); gone == nil || *gone != got[0] || err != nil {
		t.Fatalf("revoke: %v %v", gone, err)
	}
	if got, _ := legacy.AccessTokens(ctx, h.store, hash); len(got) != 0 {
		t.Fatalf("after revoke: %+v", got)
	}
	h.now.Add(int64(2 * time.Minute / time.Second)) // past the front's cache of access tokens
	resp, err := client.Get(h.gateway.URL + "/1/user/-/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked token: %d", resp.StatusCode)
	}
}

// signedCall makes a signed call through the gateway and returns what it
// passed on.
func (h *harness) signedCall(client *http.Client) echoed {
	h.t.Helper()
	resp, err := client.Get(h.gateway.URL + "/1/user/-/profile.json")
	if err != nil {
		h.t.Fatal(err)
	}
	return decodeEcho(h.t, resp)
}
