package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// minRotationGap is the least time between two successful refreshes of one
// connection that one expiry cycle allows: the gateway refreshes refreshSkew
// before expiry, and the simulator truncates issue times to the second.
const minRotationGap = tokenLifetime - refreshSkew - time.Second

// finish crashes every instance at once, restarts them, lets the recovery
// sweep run, then checks that no connection was lost and reports.
func (r *run) finish() {
	t := r.t
	r.stopping.Store(true)
	r.restarts.Wait()
	wedged := r.wedgedLocks()
	for _, w := range wedged {
		t.Errorf("file store: %s", w)
	}
	for _, p := range r.insts {
		p.kill()
	}
	for _, p := range r.insts {
		if _, err := p.start(); err != nil {
			t.Fatalf("restarting after the final crash: %v", err)
		}
	}
	time.Sleep(3 * recoveryEvery)

	// One request per identity, after the dust settled.
	final := make([]outcome, len(r.users))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i, id := range r.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			final[i] = r.request(id, false, 0)
		}()
	}
	wg.Wait()
	var lost []string
	for i, id := range r.users {
		if final[i].kind != okKind {
			lost = append(lost, id)
			t.Errorf("LOST CONNECTION %s (Fitbit user %s): the final request did not succeed: %s %s %s",
				id, r.fitbit[id], final[i].kind, final[i].key, final[i].detail)
		}
	}
	var unhealthy []string
	for _, id := range r.users {
		st, err := r.status(id)
		if err != nil || !st.Connected || st.Health != "ok" || st.UserID != r.fitbit[id] {
			unhealthy = append(unhealthy, id)
			t.Errorf("status of %s at the end: %+v %v (want connected, health ok, user %s)", id, st, err, r.fitbit[id])
		}
	}
	storeNote := r.checkFileStore()

	// What the simulator saw.
	st := r.sim.Stats()
	var violations []string
	var rotMin, rotMax, recoveredUsers int
	rotMin = 1 << 30
	for _, id := range r.users {
		fid := r.fitbit[id]
		evs := r.sim.RefreshLog(fid)
		v, rot := rotationViolations(fid, evs)
		violations = append(violations, v...)
		rotMin, rotMax = min(rotMin, rot), max(rotMax, rot)
		if r.sim.UserStats(fid).Recoveries > 0 {
			recoveredUsers++
		}
	}
	for _, v := range violations {
		t.Errorf("simulator: %s", v)
	}
	if st.RefreshReuseRejected != 0 {
		t.Errorf("simulator: %d refresh tokens were presented again after their rotation (invalid_grant by reuse)", st.RefreshReuseRejected)
	}
	if st.InvalidGrants != 0 {
		t.Errorf("simulator: %d invalid_grant answers; nothing in this run revokes or reuses a token on purpose", st.InvalidGrants)
	}
	if rotMin < 3 {
		t.Errorf("simulator: some identity saw only %d refreshes: the load did not span several expiry cycles", rotMin)
	}

	res := &r.res
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.failures > 0 {
		t.Errorf("%d of %d requests neither succeeded nor got a clear retryable 5xx; first ones:\n\t%s",
			res.failures, res.total, strings.Join(res.examples, "\n\t"))
	}
	panics := r.panics()
	for i, p := range panics {
		if i == 5 {
			t.Errorf("… and %d more panics", len(panics)-5)
			break
		}
		t.Errorf("GATEWAY PANIC (the front saw a dropped connection): %s", p)
	}
	for _, e := range r.restartErrs {
		t.Errorf("an instance did not come back: %s", e)
	}
	if r.targetedKills.Load() == 0 {
		t.Errorf("no targeted kill happened (between Fitbit's answer and the write)")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "chaos[%s] figures (3 instances, %d identities, %v tokens, %v load):\n", r.v.name, len(r.users), tokenLifetime, loadDuration)
	fmt.Fprintf(&b, "  requests:     %d total: %d ok (%d GET profile, %d POST echo), %d retryable 5xx, %d cut off by a kill, %d failures; slowest %v, %d over 5 s\n",
		res.total, res.okGet+res.okPost, res.okGet, res.okPost, res.retryTotal(), res.cut, res.failures, res.maxTook.Round(time.Millisecond), res.slow)
	for _, l := range res.retryLines() {
		fmt.Fprintf(&b, "                  %s\n", l)
	}
	fmt.Fprintf(&b, "  refreshes:    %d rotations, %d grace replays, %d recoveries (%d identities); per identity %d..%d rotations; %d code exchanges\n",
		st.Refreshes, st.GraceReplays, st.Recoveries, recoveredUsers, rotMin, rotMax, st.CodeExchanges)
	fmt.Fprintf(&b, "  rejections:   %d invalid_grant, %d by reuse; %d rotations closer than %v without a forced expiry\n",
		st.InvalidGrants, st.RefreshReuseRejected, len(violations), minRotationGap)
	starts, kills := 0, 0
	for _, p := range r.insts {
		s, k := p.counts()
		starts, kills = starts+s, kills+k
	}
	fmt.Fprintf(&b, "  kills:        %d SIGKILLs: %d random, %d targeted after Fitbit processed a refresh (%d armed but not fired), %d in the final crash; %d starts\n",
		kills, r.randomKills.Load(), r.targetedKills.Load(), r.targetedMissed.Load(), len(r.insts), starts)
	fmt.Fprintf(&b, "  faults:       %d 5xx errors, %d drops after issue, %d drops before, %d delayed answers; %d forced access-token expiries\n",
		st.FaultsErrors, st.FaultsDropAfterIssue, st.FaultsDropBefore, st.FaultsDelayed, r.expiries.Load())
	fmt.Fprintf(&b, "  token calls:  %s\n", strings.Join(r.tokenCallLines(), "; "))
	fmt.Fprintf(&b, "  gateway logs: %s\n", strings.Join(r.logSummary(), "; "))
	if storeNote != "" {
		fmt.Fprintf(&b, "  store:        %s\n", storeNote)
	}
	fmt.Fprintf(&b, "  panics:       %d in the instances' logs; %d connection locks held for over %v before the final crash\n", len(panics), len(wedged), maxLockHold)
	fmt.Fprintf(&b, "  lost connections: %d; needs_reauth or unhealthy at the end: %d\n", len(lost), len(unhealthy))
	t.Log(b.String())
	fmt.Print(b.String())

	if t.Failed() {
		r.hookMu.Lock()
		t.Logf("kills:\n\t%s", strings.Join(r.killLog, "\n\t"))
		r.hookMu.Unlock()
		var failing []string
		for id := range res.failed {
			failing = append(failing, id)
		}
		sort.Strings(failing)
		if len(failing) > 3 {
			failing = failing[:3]
		}
		for _, id := range append(append(lost, unhealthy...), failing...) {
			r.evidence(id)
		}
		for _, v := range violations {
			if u, _, ok := strings.Cut(v, ":"); ok {
				r.t.Logf("refresh log of %s: %s", u, formatEvents(r.sim.RefreshLog(strings.TrimPrefix(u, "user "))))
			}
		}
	}
}

// rotationViolations checks one Fitbit user's chain: two successful
// refreshes (rotations or recoveries) closer than minRotationGap are only
// allowed around a forced expiry or a recovery; reuse and rejections never.
// It also returns the number of rotations.
func rotationViolations(user string, evs []fitbitsim.RefreshEvent) (out []string, rotations int) {
	var last fitbitsim.RefreshEvent
	excused := false
	for _, e := range evs {
		switch e.Kind {
		case fitbitsim.EventAccessExpired:
			excused = true
		case fitbitsim.EventReuseRejected, fitbitsim.EventRejected:
			out = append(out, fmt.Sprintf("user %s: %s at %s", user, e.Kind, e.At.Format("15:04:05.000")))
		case fitbitsim.EventCodeExchange, fitbitsim.EventMinted:
			last, excused = e, false
		case fitbitsim.EventRotated, fitbitsim.EventRecovered:
			rotations++
			if gap := e.At.Sub(last.At); !last.At.IsZero() && gap < minRotationGap && !excused && e.Kind != fitbitsim.EventRecovered {
				out = append(out, fmt.Sprintf("user %s: %s at %s only %v after %s at %s (one expiry cycle is %v)",
					user, e.Kind, e.At.Format("15:04:05.000"), gap.Round(time.Millisecond), last.Kind, last.At.Format("15:04:05.000"), minRotationGap))
			}
			last, excused = e, false
		}
	}
	return out, rotations
}

func formatEvents(evs []fitbitsim.RefreshEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n\t%s %s", e.At.Format("15:04:05.000"), e.Kind)
	}
	return b.String()
}

// checkFileStore reads the shared file-system store directly: every
// connection decrypts, is ok and carries no unfinished refresh.
func (r *run) checkFileStore() string {
	if r.v.fileStore == "" {
		return ""
	}
	keys, err := tokenstore.ParseKeys([]string{r.key})
	if err != nil {
		r.t.Errorf("store check: %v", err)
		return ""
	}
	store := storagestore.New(&certmagic.FileStorage{Path: r.v.fileStore}, keys, "fitbit")
	ctx := context.Background()
	marked := 0
	// A sweep may still be finishing a refresh; give it a moment.
	for deadline := time.Now().Add(5 * time.Second); ; {
		marked = 0
		var problems []string
		for _, id := range r.users {
			rec, err := store.LoadConnection(ctx, tokenstore.KeyOf("fitbit", id))
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s: %v", id, err))
			case rec.Status != tokenstore.StatusOK:
				problems = append(problems, fmt.Sprintf("%s: status %s", id, rec.Status))
			case rec.UserID != r.fitbit[id]:
				problems = append(problems, fmt.Sprintf("%s: holds Fitbit user %s, want %s", id, rec.UserID, r.fitbit[id]))
			case rec.Refreshing != nil:
				marked++
				problems = append(problems, fmt.Sprintf("%s: unfinished refresh marker since %s by %s", id, rec.Refreshing.Since.Format("15:04:05.000"), rec.Refreshing.Instance))
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range problems {
				r.t.Errorf("file store: %s", p)
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	index, _ := store.ListRefreshing(ctx)
	return fmt.Sprintf("file system: %d connections ok, %d with a refresh marker left, %d stale index entries", len(r.users), marked, len(index))
}

func (r *run) tokenCallLines() []string {
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	var out []string
	for k, n := range r.tokenReqs {
		out = append(out, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(out)
	return out
}

// logEntry is the part of a Caddy JSON log line the suite reads.
type logEntry struct {
	Level  string `json:"level"`
	Logger string `json:"logger"`
	Msg    string `json:"msg"`
}

// logSummary counts the fitbit app's log messages over all instances.
func (r *run) logSummary() []string {
	counts := map[string]int{}
	for _, p := range r.insts {
		forLines(p.logPath, func(line []byte) {
			var e logEntry
			if json.Unmarshal(line, &e) == nil && strings.Contains(e.Logger, "fitbit") {
				counts[e.Level+" "+strings.TrimSuffix(e.Msg, ".")]++
			}
		})
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%q %d", k, n))
	}
	sort.Strings(out)
	return out
}

func forLines(path string, f func([]byte)) {
	file, err := os.Open(path)
	if err != nil {
		return
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f(sc.Bytes())
	}
}

// evidence logs what is known about a lost identity: the simulator's chain
// events and every instance's log lines about it.
func (r *run) evidence(identity string) {
	hash := tokenstore.IdentityHash(identity)
	r.t.Logf("EVIDENCE for %s (Fitbit user %s, identity_hash %s); chain events at the simulator:%s",
		identity, r.fitbit[identity], hash, formatEvents(r.sim.RefreshLog(r.fitbit[identity])))
	for _, p := range r.insts {
		var lines []string
		forLines(p.logPath, func(line []byte) {
			if bytes.Contains(line, []byte(hash)) {
				lines = append(lines, string(line))
			}
		})
		if len(lines) > 60 {
			lines = lines[len(lines)-60:]
		}
		r.t.Logf("%s log lines about %s (last %d):\n%s", p.name, identity, len(lines), strings.Join(lines, "\n"))
	}
}

// dumpLogs logs the tail of every process's output and of the warnings and
// errors in its log.
func (r *run) dumpLogs() {
	for _, p := range append(append([]*proc{}, r.insts...), r.front) {
		if p == nil {
			continue // a run without a front
		}
		var lines []string
		forLines(p.logPath, func(line []byte) {
			var e logEntry
			if json.Unmarshal(line, &e) == nil && (e.Level == "warn" || e.Level == "error" || strings.Contains(e.Logger, "fitbit")) {
				lines = append(lines, string(line))
			}
		})
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		out, err := os.ReadFile(p.outPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			out = []byte(err.Error())
		}
		if len(out) > 3000 {
			out = out[len(out)-3000:]
		}
		r.t.Logf("---- %s: tail of %s (warnings, errors, fitbit):\n%s\n---- tail of %s:\n%s",
			p.name, p.logPath, strings.Join(lines, "\n"), p.outPath, out)
	}
}

// panics returns the first line of every panic the instances logged (a
// panicking handler makes net/http drop the connection).
func (r *run) panics() []string {
	var out []string
	for _, p := range r.insts {
		for _, path := range []string{p.logPath, p.outPath} {
			forLines(path, func(line []byte) {
				if !bytes.Contains(line, []byte("panic")) {
					return
				}
				var e logEntry
				msg := string(line)
				if json.Unmarshal(line, &e) == nil {
					msg = e.Msg
				}
				first, rest, _ := strings.Cut(msg, "\n")
				// Keep the frame of the plugin that panicked.
				for _, l := range strings.Split(rest, "\n") {
					if strings.Contains(l, "caddy-fitbit/") {
						first += " | " + strings.TrimSpace(l)
						break
					}
				}
				out = append(out, p.name+": "+first)
			})
		}
	}
	return out
}

// maxLockHold is far longer than any refresh holds a connection lock (one
// token call is bounded by token_timeout, retries by token_retry_budget).
const maxLockHold = 20 * time.Second

// wedgedLocks lists the file store's connection locks that were created
// more than maxLockHold ago and are still kept fresh: their holder is gone
// (or stuck), yet no other instance can take them over.
func (r *run) wedgedLocks() []string {
	if r.v.fileStore == "" {
		return nil
	}
	dir := filepath.Join(r.v.fileStore, "locks")
	entries, _ := os.ReadDir(dir)
	var out []string
	byHash := map[string]string{}
	for _, id := range r.users {
		byHash[tokenstore.IdentityHash(id)] = id
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var meta struct {
			Created time.Time `json:"created"`
			Updated time.Time `json:"updated"`
		}
		if json.Unmarshal(b, &meta) != nil || time.Since(meta.Created) < maxLockHold {
			continue
		}
		who := e.Name()
		for h, id := range byHash {
			if strings.Contains(e.Name(), h) {
				who = id + " (" + e.Name() + ")"
			}
		}
		out = append(out, fmt.Sprintf("connection lock of %s created %s ago and last refreshed %s ago: held past any refresh, nobody can take it over",
			who, time.Since(meta.Created).Round(time.Second), time.Since(meta.Updated).Round(time.Second)))
	}
	return out
}
