package authserver_test

import (
	"context"
	"testing"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/authserver"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

func TestOperatorListsAndRevokesAnIdentitysGrants(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var issued []string
	for range 2 {
		a, e := h.srv.ParseAuthorize(phoneAuthorize())
		if e != nil {
			t.Fatal(e)
		}
		code, err := h.srv.IssueCode(ctx, a, true, "oauth2:identity-1", "22B7NF")
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, h.exchangePhone(code).AccessToken)
	}
	hash := tokenstore.IdentityHash("oauth2:identity-1")
	gs, err := authserver.Grants(ctx, h.store, hash)
	if err != nil || len(gs) != 2 || gs[0].Client != phoneApp || gs[0].UserID != "22B7NF" || len(gs[0].Scopes) == 0 || gs[0].ID == gs[1].ID {
		t.Fatalf("grants %+v, %v", gs, err)
	}
	if other, _ := authserver.Grants(ctx, h.store, tokenstore.IdentityHash("someone else")); len(other) != 0 {
		t.Fatalf("another identity's grants: %+v", other)
	}
	// Another identity cannot revoke it by id.
	if gone, err := authserver.RevokeGrant(ctx, h.store, tokenstore.IdentityHash("someone else"), gs[0].ID); gone != nil || err != nil {
		t.Fatalf("revoked through another identity: %v %v", gone, err)
	}
	if gone, err := authserver.RevokeGrant(ctx, h.store, hash, gs[0].ID); gone == nil || gone.ID != gs[0].ID || gone.Client != phoneApp || err != nil {
		t.Fatalf("revoke: %v %v", gone, err)
	}
	h.advance(authserver.DefaultAccessTTL / 2) // past the front's cache of checked tokens
	h.callRefused(issued[0], apierror.InvalidToken)
	if _, ae := h.call(issued[1]); ae != nil {
		t.Fatalf("the other grant: %v", ae)
	}
	if gs, _ := authserver.Grants(ctx, h.store, hash); len(gs) != 1 {
		t.Fatalf("after revoke: %+v", gs)
	}
}
