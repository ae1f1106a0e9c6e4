package fitbitsim

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"
)

func recoverReq(t *testing.T, s *Server, rt string) response {
	t.Helper()
	return post(t, s, s.RecoverURL(), url.Values{"refresh_token": {rt}}, true)
}

func TestRecoverDisabled(t *testing.T) {
	s, _ := start(t, Config{})
	tr := login(t, s, "profile")
	it := wantError(t, recoverReq(t, s, tr.RefreshToken), 403, "insufficient_permissions")
	if it.Message != "Refresh token recovery is not enabled for this application." {
		t.Fatalf("message = %q", it.Message)
	}
	// Client authentication comes first.
	wantError(t, post(t, s, s.RecoverURL(), url.Values{"refresh_token": {tr.RefreshToken}}, false), 401, "invalid_client")
	if s.Config().RecoveryEnabled {
		t.Fatal("RecoveryEnabled by default")
	}
	s.SetRecoveryEnabled(true)
	if !s.Config().RecoveryEnabled {
		t.Fatal("SetRecoveryEnabled not reflected in Config()")
	}
	tokens(t, recoverReq(t, s, tr.RefreshToken))
	s.SetRecoveryEnabled(false)
	wantError(t, recoverReq(t, s, tr.RefreshToken), 403, "insufficient_permissions")
	if st := s.Stats(); st.Recoveries != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if r := api(t, s, "GET", "/oauth2/recover", "", nil); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.Status)
	}
}

func TestRecoverAfterLostRotation(t *testing.T) {
	s, clk := start(t, Config{RecoveryEnabled: true})
	t0 := login(t, s, "activity profile")
	s.FailNextRefreshes(1, FaultDropAfterIssue)
	r, err := tryRefresh(s, t0.RefreshToken)
	wantDrop(t, r, err)
	lost := s.IssuedSecrets()[len(s.IssuedSecrets())-1]

	// The gateway comes back after the grace window: its token is a reuse.
	clk.Advance(DefaultGraceWindow + time.Minute)
	wantError(t, refresh(t, s, t0.RefreshToken), 400, "invalid_grant")

	r = recoverReq(t, s, t0.RefreshToken)
	shape := regexp.MustCompile(`^\{"access_token":"[^"]+","expires_in":28800,"refresh_token":"[0-9a-f]{64}","scope":"activity profile","token_type":"Bearer","user_id":"22B7NF"\}$`)
	if !shape.Match(r.Body) || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("recover: %d %s %v", r.Status, r.Body, r.Header)
	}
	t2 := tokens(t, r)
	if t2.RefreshToken == lost || t2.RefreshToken == t0.RefreshToken {
		t.Fatal("recover did not issue a new pair")
	}
	// Both old tokens are dead, the lost one immediately (no grace: nobody
	// can have the recovered answer by presenting it).
	wantError(t, refresh(t, s, lost), 400, "invalid_grant")
	wantError(t, refresh(t, s, t0.RefreshToken), 400, "invalid_grant")
	if r := api(t, s, "GET", "/1/user/-/profile.json", t2.AccessToken, nil); r.Status != 200 {
		t.Fatalf("recovered access token: %d %s", r.Status, r.Body)
	}
	t3 := tokens(t, refresh(t, s, t2.RefreshToken))

	st := s.Stats()
	if st.Recoveries != 1 || st.Refreshes != 2 || st.RefreshReuseRejected != 3 || st.InvalidGrants != 3 {
		t.Fatalf("stats = %+v", st)
	}
	if u := s.UserStats("22B7NF"); u.Recoveries != 1 || u.Refreshes != 2 {
		t.Fatalf("user stats = %+v", u)
	}
	wantLog(t, s, "22B7NF", EventCodeExchange, EventRotated, EventDroppedAfterIssue, EventReuseRejected,
		EventRecovered, EventReuseRejected, EventReuseRejected, EventRotated)

	// Recovering with the current token works as well, and kills it at once.
	t4 := tokens(t, post(t, s, s.RecoverURL(), url.Values{"refresh_token": {t3.RefreshToken}, "expires_in": {"3600"}}, true))
	if t4.ExpiresIn != 3600 {
		t.Fatalf("expires_in = %d", t4.ExpiresIn)
	}
	wantError(t, refresh(t, s, t3.RefreshToken), 400, "invalid_grant")
	tokens(t, refresh(t, s, t4.RefreshToken))
}

func TestRecoverRejects(t *testing.T) {
	s, _ := start(t, Config{RecoveryEnabled: true})
	tr := login(t, s, "profile")
	next := tokens(t, refresh(t, s, tr.RefreshToken))

	wantError(t, post(t, s, s.RecoverURL(), url.Values{}, true), 400, "invalid_request")
	wantError(t, post(t, s, s.RecoverURL(), url.Values{"refresh_token": {next.RefreshToken}, "expires_in": {"60"}}, true),
		400, "invalid_request")
	it := wantError(t, recoverReq(t, s, "00"+tr.RefreshToken[2:]), 400, "invalid_grant")
	if it.Message != "Refresh token invalid: 00"+tr.RefreshToken[2:]+". "+visit {
		t.Fatalf("message = %q", it.Message)
	}

	// RevokeUser: every token of the chain, rotated or current, is dead.
	s.RevokeUser("22B7NF")
	wantError(t, recoverReq(t, s, tr.RefreshToken), 400, "invalid_grant")
	wantError(t, recoverReq(t, s, next.RefreshToken), 400, "invalid_grant")

	// The revoke endpoint likewise, even after a new login.
	again := login(t, s, "profile")
	if r := post(t, s, s.RevokeURL(), url.Values{"token": {again.RefreshToken}}, true); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	wantError(t, recoverReq(t, s, again.RefreshToken), 400, "invalid_grant")

	st := s.Stats()
	if st.Recoveries != 0 || st.InvalidGrants != 4 || st.RefreshReuseRejected != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRecoverSupersededChain(t *testing.T) {
	// A token of a chain that a later code exchange superseded (not revoked)
	// still identifies the user: recovery rotates the current chain.
	s, _ := start(t, Config{RecoveryEnabled: true})
	old := login(t, s, "profile")
	cur := login(t, s, "activity profile")
	got := tokens(t, recoverReq(t, s, old.RefreshToken))
	if got.Scope != "activity profile" {
		t.Fatalf("scope = %q, want the current chain's", got.Scope)
	}
	wantError(t, refresh(t, s, cur.RefreshToken), 400, "invalid_grant")
	tokens(t, refresh(t, s, got.RefreshToken))
}

func TestMintTokensManyUsers(t *testing.T) {
	s, _ := start(t, Config{})
	if u := s.Users(); len(u) != 0 {
		t.Fatalf("Users() = %v", u)
	}
	seen := map[string]bool{}
	for i := range 50 {
		user := "M" + string(rune('A'+i/26)) + string(rune('A'+i%26))
		tr := s.MintTokens(user, "heartrate")
		if tr.UserID != user || tr.Scope != "heartrate" || seen[tr.RefreshToken] {
			t.Fatalf("MintTokens(%s) = %+v", user, tr)
		}
		seen[tr.RefreshToken] = true
		tokens(t, refresh(t, s, tr.RefreshToken))
		wantLog(t, s, user, EventMinted, EventRotated)
	}
	if u := s.Users(); len(u) != 50 || u[0] != "MAA" || u[49] != "MBX" {
		t.Fatalf("Users() = %v", u)
	}
	s.ExpireAccessTokens("MAA")
	s.RevokeUser("MAA")
	wantLog(t, s, "MAA", EventMinted, EventRotated, EventAccessExpired, EventRevoked)
	if len(s.Users()) != 50 || s.RefreshLog("nobody") != nil {
		t.Fatal("revoked users stay listed; unknown users have no log")
	}
}
