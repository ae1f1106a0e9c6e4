package fitbitsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// freshConns never reuses a connection, so a dropped one shows up as the
// plain EOF or reset of that request.
var freshConns = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	Timeout:   10 * time.Second,
}

// tryPost is post that returns transport errors instead of failing.
func tryPost(ctx context.Context, c *http.Client, s *Server, endpoint string, form url.Values) (response, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

func tryRefresh(s *Server, rt string) (response, error) {
	return tryPost(context.Background(), freshConns, s, s.TokenURL(),
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// isDrop reports whether err is a connection closed without an answer.
func isDrop(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

func wantDrop(t *testing.T, r response, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got an answer, want a dropped connection: %d %s", r.Status, r.Body)
	}
	if !isDrop(err) {
		t.Fatalf("error %v, want EOF or connection reset", err)
	}
}

func kinds(events []RefreshEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Kind
	}
	return out
}

func wantLog(t *testing.T, s *Server, user string, want ...string) {
	t.Helper()
	if got := kinds(s.RefreshLog(user)); !slices.Equal(got, want) {
		t.Fatalf("RefreshLog(%s) = %v, want %v", user, got, want)
	}
}

func TestFaultDropAfterIssue(t *testing.T) {
	s, clk := start(t, Config{})
	tr := login(t, s, "activity profile")
	s.FailNextRefreshes(1, FaultDropAfterIssue)

	r, err := tryRefresh(s, tr.RefreshToken)
	wantDrop(t, r, err)
	// Fitbit rotated although nobody saw the answer: the new pair exists.
	issued := s.IssuedSecrets()
	lost := issued[len(issued)-1]
	if st := s.Stats(); st.Refreshes != 1 || st.FaultsDropAfterIssue != 1 || st.GraceReplays != 0 {
		t.Fatalf("stats = %+v", st)
	}
	wantLog(t, s, "22B7NF", EventCodeExchange, EventRotated, EventDroppedAfterIssue)

	// An identical retry inside the grace window gets the undelivered pair.
	clk.Advance(DefaultGraceWindow - time.Second)
	a := refresh(t, s, tr.RefreshToken)
	b := refresh(t, s, tr.RefreshToken)
	got := tokens(t, a)
	if got.RefreshToken != lost || string(a.Body) != string(b.Body) {
		t.Fatalf("retry got %s (lost %s); second retry %s", a.Body, lost, b.Body)
	}
	if st := s.Stats(); st.Refreshes != 1 || st.GraceReplays != 2 || st.RefreshReuseRejected != 0 {
		t.Fatalf("stats = %+v", st)
	}

	// After the window the old token is a reuse.
	clk.Advance(2 * time.Second)
	wantError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant")
	if st := s.Stats(); st.RefreshReuseRejected != 1 || s.UserStats("22B7NF").RefreshReuseRejected != 1 {
		t.Fatalf("stats = %+v", st)
	}
	wantLog(t, s, "22B7NF", EventCodeExchange, EventRotated, EventDroppedAfterIssue,
		EventGrace, EventGrace, EventReuseRejected)
	tokens(t, refresh(t, s, got.RefreshToken)) // the delivered-late pair carries on
}

func TestFaultDropAfterIssueOutsideGrace(t *testing.T) {
	// The gateway that crashed past the grace window has lost the chain:
	// its old token is a reuse and the lost one is the only live one.
	s, clk := start(t, Config{})
	tr := login(t, s, "profile")
	s.FailNextRefreshes(1, FaultDropAfterIssue)
	r, err := tryRefresh(s, tr.RefreshToken)
	wantDrop(t, r, err)
	lost := s.IssuedSecrets()[len(s.IssuedSecrets())-1]
	clk.Advance(DefaultGraceWindow + time.Second)
	wantError(t, refresh(t, s, tr.RefreshToken), 400, "invalid_grant")
	if st := s.Stats(); st.RefreshReuseRejected != 1 {
		t.Fatalf("stats = %+v", st)
	}
	tokens(t, refresh(t, s, lost))
}

func TestFaultErrorRate(t *testing.T) {
	s, _ := start(t, Config{})
	tr := login(t, s, "profile")
	s.SetFaults(Faults{ErrorRate: 1, Seed: 7})
	seen := map[int]bool{}
	for range 30 {
		r, err := tryRefresh(s, tr.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 500 && r.Status != 502 && r.Status != 503 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if it := item(t, r); it.ErrorType != "system" {
			t.Fatalf("item = %+v", it)
		}
		seen[r.Status] = true
	}
	if len(seen) < 2 {
		t.Fatalf("only statuses %v in 30 draws", seen)
	}
	st := s.Stats()
	if st.FaultsErrors != 30 || st.Refreshes != 0 || st.InvalidGrants != 0 || st.FaultsDelayed != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if u := s.UserStats("22B7NF"); u.Refreshes != 0 {
		t.Fatalf("user stats = %+v", u)
	}
	if got := s.Faults(); got.ErrorRate != 1 || got.Seed != 7 {
		t.Fatalf("Faults() = %+v", got)
	}
	// Nothing rotated: the original token still rotates, not as a replay.
	s.SetFaults(Faults{})
	tokens(t, refresh(t, s, tr.RefreshToken))
	if st := s.Stats(); st.Refreshes != 1 || st.GraceReplays != 0 {
		t.Fatalf("stats = %+v", st)
	}
	log := kinds(s.RefreshLog("22B7NF"))
	if len(log) != 32 || log[1] != EventFaultError || log[31] != EventRotated {
		t.Fatalf("log = %v", log)
	}
}

func TestFaultsOnCodeExchange(t *testing.T) {
	s, _ := start(t, Config{})
	code := getCode(t, s, "profile")
	s.SetFaults(Faults{ErrorRate: 1})
	r := exchange(t, s, code)
	if r.Status < 500 || item(t, r).ErrorType != "system" {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	if st := s.Stats(); st.CodeExchanges != 0 || st.CodeExchangeFailures != 0 || st.FaultsErrors != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// The code was not spent, so it can be exchanged once the fault is
	// gone; here the answer is lost instead.
	s.SetFaults(Faults{DropAfterIssueRate: 1})
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	r, err := tryPost(context.Background(), freshConns, s, s.TokenURL(), form)
	wantDrop(t, r, err)
	if st := s.Stats(); st.CodeExchanges != 1 || st.FaultsDropAfterIssue != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if u := s.Users(); !slices.Equal(u, []string{"22B7NF"}) {
		t.Fatalf("Users() = %v", u)
	}
	wantLog(t, s, "22B7NF", EventFaultError, EventCodeExchange, EventDroppedAfterIssue)
	s.SetFaults(Faults{})
	wantError(t, exchange(t, s, code), 400, "invalid_grant") // spent
	// FailNextRefreshes is for refreshes only: a code exchange passes.
	s.FailNextRefreshes(1, FaultError)
	tr := login(t, s, "profile")
	wantError(t, refresh(t, s, tr.RefreshToken), 503, "system")
	tokens(t, refresh(t, s, tr.RefreshToken))
}

func TestFailNextRefreshes(t *testing.T) {
	s, _ := start(t, Config{})
	tr := login(t, s, "profile")
	s.FailNextRefreshes(2, FaultError)
	s.FailNextRefreshes(1, FaultErrorStatus(502))
	s.FailNextRefreshes(1, FaultDropBefore)
	s.FailNextRefreshes(1, FaultErrorStatus(404)) // not a 5xx: becomes 503
	var got []string
	for range 6 {
		r, err := tryRefresh(s, tr.RefreshToken)
		switch {
		case err != nil && isDrop(err):
			got = append(got, "drop")
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, fmt.Sprint(r.Status))
		}
	}
	if want := []string{"503", "503", "502", "drop", "503", "200"}; !slices.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	st := s.Stats()
	if st.FaultsErrors != 4 || st.FaultsDropBefore != 1 || st.Refreshes != 1 || st.GraceReplays != 0 {
		t.Fatalf("stats = %+v", st)
	}
	wantLog(t, s, "22B7NF", EventCodeExchange, EventFaultError, EventFaultError, EventFaultError,
		EventFaultDropBefore, EventFaultError, EventRotated)

	// n <= 0 empties the queue.
	s.FailNextRefreshes(3, FaultDropBefore)
	s.FailNextRefreshes(0, FaultKind{})
	tr = tokens(t, refresh(t, s, tokens(t, refresh(t, s, tr.RefreshToken)).RefreshToken))
	if st := s.Stats(); st.FaultsDropBefore != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestFaultSeedIsReproducible(t *testing.T) {
	run := func() ([]string, Stats) {
		s, _ := start(t, Config{})
		s.SetFaults(Faults{ErrorRate: 0.3, DropAfterIssueRate: 0.3, DropBeforeRate: 0.2, Seed: 42})
		var out []string
		for range 40 {
			// An unknown token: every processed request is invalid_grant.
			r, err := tryRefresh(s, strings.Repeat("cd", 32))
			switch {
			case err != nil && isDrop(err):
				out = append(out, "drop")
			case err != nil:
				t.Fatal(err)
			default:
				out = append(out, fmt.Sprint(r.Status))
			}
		}
		return out, s.Stats()
	}
	a, sa := run()
	b, sb := run()
	if !slices.Equal(a, b) || sa != sb {
		t.Fatalf("same seed, different outcomes:\n%v %+v\n%v %+v", a, sa, b, sb)
	}
	if sa.FaultsErrors == 0 || sa.FaultsDropAfterIssue == 0 || sa.FaultsDropBefore == 0 || sa.InvalidGrants == 0 {
		t.Fatalf("40 draws did not exercise every fault: %+v", sa)
	}
	// Processed requests are the answered invalid_grants plus the drops after.
	if sa.InvalidGrants != int64(strings.Count(strings.Join(a, ","), "400"))+sa.FaultsDropAfterIssue {
		t.Fatalf("outcomes %v stats %+v", a, sa)
	}
}

func TestFaultDelay(t *testing.T) {
	t.Run("answers after processing", func(t *testing.T) {
		s, _ := start(t, Config{})
		tr := login(t, s, "profile")
		s.SetFaults(Faults{Delay: 5 * time.Millisecond, DelayJitter: 5 * time.Millisecond})
		next := tokens(t, refresh(t, s, tr.RefreshToken))
		if next.RefreshToken == tr.RefreshToken {
			t.Fatal("not rotated")
		}
		if st := s.Stats(); st.FaultsDelayed != 1 || st.Refreshes != 1 {
			t.Fatalf("stats = %+v", st)
		}
		// A delayed code exchange counts too.
		login(t, s, "profile")
		if st := s.Stats(); st.FaultsDelayed != 2 {
			t.Fatalf("stats = %+v", st)
		}
	})
	t.Run("client gives up", func(t *testing.T) {
		s, _ := start(t, Config{})
		tr := login(t, s, "profile")
		s.FailNextRefreshes(1, FaultDelay(time.Hour))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := tryPost(ctx, freshConns, s, s.TokenURL(),
				url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}})
			done <- err
		}()
		// Wait (for a condition, not a duration) until the rotation happened.
		for deadline := time.Now().Add(10 * time.Second); s.Stats().FaultsDelayed == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the delayed refresh never arrived")
			}
			time.Sleep(time.Millisecond)
		}
		if st := s.Stats(); st.Refreshes != 1 {
			t.Fatalf("processing must precede the delay: %+v", st)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("client error %v", err)
		}
		// Processed stays processed: the retry is a grace replay.
		tokens(t, refresh(t, s, tr.RefreshToken))
		if st := s.Stats(); st.Refreshes != 1 || st.GraceReplays != 1 {
			t.Fatalf("stats = %+v", st)
		}
		// The handler stopped waiting when the client left, so a graceful
		// shutdown does not wait for the hour.
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	})
}

func TestSetFaultsClamps(t *testing.T) {
	s := New(Config{})
	s.SetFaults(Faults{ErrorRate: 2, DropBeforeRate: -1, DropAfterIssueRate: 0.5, Delay: -time.Second})
	if f := s.Faults(); f.ErrorRate != 1 || f.DropBeforeRate != 0 || f.DropAfterIssueRate != 0.5 || f.Delay != 0 {
		t.Fatalf("Faults() = %+v", f)
	}
}

// A client that retries the identical request after every failure never
// causes a reuse and rotates each chain exactly once, whatever the faults:
// the property the gateway's refresh must keep under fault injection.
func TestFaultsWithIdenticalRetries(t *testing.T) {
	s, _ := start(t, Config{})
	s.SetFaults(Faults{ErrorRate: 0.2, DropAfterIssueRate: 0.25, DropBeforeRate: 0.15,
		DelayJitter: time.Millisecond})
	const n = 50
	refreshTokens := make([]string, n)
	for i := range n {
		refreshTokens[i] = s.MintTokens(fmt.Sprintf("U%03d", i), "profile").RefreshToken
	}
	client := &http.Client{Timeout: 10 * time.Second} // keep-alive: drops hit reused connections too
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshTokens[i]}}
			for range 200 {
				r, err := tryPost(context.Background(), client, s, s.TokenURL(), form)
				if err == nil && r.Status == 200 {
					return
				}
				if err == nil && r.Status < 500 {
					errs <- fmt.Errorf("user %d: %d %s", i, r.Status, r.Body)
					return
				}
			}
			errs <- fmt.Errorf("user %d: no success in 200 tries", i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	users := s.Users()
	if len(users) != n || users[0] != "U000" || users[n-1] != "U049" {
		t.Fatalf("Users() = %v", users)
	}
	for _, u := range users {
		log := kinds(s.RefreshLog(u))
		if c := strings.Count(strings.Join(log, ","), EventRotated); c != 1 ||
			slices.Contains(log, EventReuseRejected) || log[0] != EventMinted {
			t.Fatalf("%s: %v", u, log)
		}
		if st := s.UserStats(u); st.Refreshes != 1 || st.RefreshReuseRejected != 0 {
			t.Fatalf("%s: %+v", u, st)
		}
	}
	if st := s.Stats(); st.Refreshes != n || st.RefreshReuseRejected != 0 || st.InvalidGrants != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// Where the writer cannot be hijacked (middleware, HTTP/2) a drop is a
// handler abort, which the client sees the same way.
func TestFaultDropWithoutHijacker(t *testing.T) {
	s := New(Config{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(struct{ http.ResponseWriter }{w}, r)
	}))
	t.Cleanup(ts.Close)
	tr := s.MintTokens("", "profile")
	s.FailNextRefreshes(1, FaultDropAfterIssue)
	r, err := tryPost(context.Background(), freshConns, s, ts.URL+pathToken,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}})
	wantDrop(t, r, err)
	if st := s.Stats(); st.Refreshes != 1 || st.FaultsDropAfterIssue != 1 {
		t.Fatalf("stats = %+v", st)
	}
}
