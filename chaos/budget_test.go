package chaos

// Three real Caddy processes, each a Google-only gateway, over one store,
// in front of one simulated Google: the identity's Google budget (300 calls
// a minute) holds for the cluster, and Google's own 429 silences the
// identity on every instance until Google's reset. With Redis and with the
// file system (each instance keeping its third):
//
//	go test -v -run Budget ./chaos
//
// The processes judge by the real clock, so each test starts its calls at
// a point of the clock minute that leaves them time to finish in it (a
// window turning mid-burst would change the counts); the tests run in
// parallel, so those waits overlap.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/googlesim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
)

const budgetTmpl = `{
	admin 127.0.0.1:{{.Admin}}` + instanceOptions + `
	fitbit {
		encryption_key {{.Key}}
		cache_sync_interval {{.Sync}}
		{{.Store}}
		provider google_health {
			client_id {{.ClientID}}
			client_secret {{.ClientSecret}}
			redirect_uri {{.Self}}/fitbit/callback
			authorize_url {{.AuthorizeURL}}
			token_url {{.TokenURL}}
			revoke_url {{.RevokeURL}}
			api_base {{.APIBase}}
			scopes profile
			{{.Budget}}
		}
	}
}

http://:{{.Port}} {
	basic_auth {
		alice {{.Hash}}
	}
	fitbit_auth
	fitbit_proxy
}
`

// budgetCluster is three gateway processes and the simulated Google they
// call, alice connected through the first.
type budgetCluster struct {
	t      *testing.T
	sim    *googlesim.Server
	urls   []string // the gateways
	admins []string // their admin endpoints
	logs   []string // their log files
	client *http.Client
	// connected is when alice's connection was made.
	connected time.Time
}

const budgetInstances = 3

// startBudgetCluster starts the cluster over store (a fitbit store
// directive) with budget (the registration's budget directive, or ""),
// against a Google allowing googlePerMinute calls a minute (0: its 300).
func startBudgetCluster(t *testing.T, store, budget string, googlePerMinute int) *budgetCluster {
	bin := caddyBinary(t)
	dir := t.TempDir()
	ports, err := freePorts(2 * budgetInstances)
	if err != nil {
		t.Fatal(err)
	}
	c := &budgetCluster{t: t, client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	t.Cleanup(c.client.CloseIdleConnections)
	var redirects []string
	for i := range budgetInstances {
		c.urls = append(c.urls, "http://127.0.0.1:"+strconv.Itoa(ports[i]))
		c.admins = append(c.admins, "http://127.0.0.1:"+strconv.Itoa(ports[budgetInstances+i]))
		redirects = append(redirects, c.urls[i]+"/fitbit/callback")
	}
	c.sim, err = googlesim.Start(googlesim.Config{RedirectURIs: redirects, RateLimitPerMinute: googlePerMinute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.sim.Close() })

	hash, err := bcrypt.GenerateFromPassword([]byte(identityPasswd), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c.logs = startInstances(t, bin, dir, ports[:budgetInstances], budgetTmpl, func(i int, logPath string) map[string]any {
		return map[string]any{
			"Admin": ports[budgetInstances+i], "Dir": dir, "N": i + 1, "Log": logPath, "Level": "DEBUG", "Key": base64.StdEncoding.EncodeToString(key),
			"Sync": peerSync.String(), "Store": store, "Budget": budget,
			"ClientID": c.sim.ClientID(), "ClientSecret": c.sim.ClientSecret(), "Self": c.urls[i],
			"AuthorizeURL": c.sim.AuthorizeURL(), "TokenURL": c.sim.TokenURL(), "RevokeURL": c.sim.RevokeURL(), "APIBase": c.sim.APIBase(),
			"Port": ports[i], "Hash": base64.StdEncoding.EncodeToString(hash),
		}
	})
	browserConnect(t, c.urls[0], "alice")
	c.connected = time.Now()
	return c
}

// answer is one gateway answer to the app.
type budgetAnswer struct {
	status     int
	retryAfter string
	reason     string // the google.rpc.Status ErrorInfo's reason and domain
	domain     string
	sent, at   time.Time // when the call was sent, and its answer arrived
}

// call sends alice's GET /v4/users/me/identity to instance i.
func (c *budgetCluster) call(i int) budgetAnswer {
	req, _ := http.NewRequest(http.MethodGet, c.urls[i%budgetInstances]+"/v4/users/me/identity", nil)
	req.SetBasicAuth("alice", identityPasswd)
	sent := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("call to instance %d: %v", i%budgetInstances+1, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := budgetAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), sent: sent, at: time.Now()}
	var st struct {
		Error struct {
			Status  string
			Details []struct{ Reason, Domain string }
		}
	}
	if resp.StatusCode != http.StatusOK && json.Unmarshal(body, &st) == nil && len(st.Error.Details) > 0 {
		a.reason, a.domain = st.Error.Details[0].Reason, st.Error.Details[0].Domain
	}
	return a
}

// localRefusal checks that a is the gateway's own 429 in Google's dialect
// whose Retry-After is the truth to a second: the block ends between
// earliest and latest (as far as the test can tell), and Retry-After must
// point no earlier than earliest (from when the answer arrived) and at
// most a second after latest (from when the call was sent; whole seconds
// round up). It returns how far after earliest it points.
func (c *budgetCluster) localRefusal(a budgetAnswer, earliest, latest time.Time) time.Duration {
	c.t.Helper()
	if a.status != http.StatusTooManyRequests || a.reason != "RATE_LIMIT_EXCEEDED" || a.domain != apierror.Domain {
		c.t.Fatalf("want the gateway's 429 RATE_LIMIT_EXCEEDED (%s), got %d %s %s", apierror.Domain, a.status, a.reason, a.domain)
	}
	ra, err := strconv.Atoi(a.retryAfter)
	d := time.Duration(ra) * time.Second
	if err != nil || d < earliest.Sub(a.at) || d > latest.Sub(a.sent)+time.Second {
		c.t.Fatalf("Retry-After %q, want %.1f–%.1f s", a.retryAfter, earliest.Sub(a.at).Seconds(), latest.Sub(a.sent).Seconds()+1)
	}
	return d - earliest.Sub(a.at)
}

// nextMinute is when the clock minute holding t ends: when the windows
// start again (Google's and the gateway's).
func nextMinute(t time.Time) time.Time { return t.Truncate(time.Minute).Add(time.Minute) }

// awaitMinute waits, if the current clock minute has less than left of it
// to go, or if fresh and Google counted alice's connection in it (its
// identity calls, which no budget of the gateway's counts), for the next
// one (and a little more, for the instances' clocks).
func (c *budgetCluster) awaitMinute(left time.Duration, fresh bool) {
	now := time.Now()
	if end := nextMinute(now); end.Sub(now) < left || fresh && end.Equal(nextMinute(c.connected)) {
		time.Sleep(end.Sub(now) + 200*time.Millisecond)
	}
}

// rateLimited sums caddy_fitbit_rate_limited_total{provider="google_health",by}
// over the instances.
func (c *budgetCluster) rateLimited(by string) int {
	c.t.Helper()
	series := regexp.MustCompile(`(?m)^caddy_fitbit_rate_limited_total\{by="` + by + `",provider="google_health"\} (\S+)$`)
	total := 0
	for _, admin := range c.admins {
		resp, err := c.client.Get(admin + "/metrics")
		if err != nil {
			c.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := series.FindSubmatch(b); m != nil {
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			total += int(math.Round(v))
		}
	}
	return total
}

// burst sends 400 calls of alice within one clock minute, round robin over
// the instances (8 at a time): exactly 300 reach Google, which refuses
// none, and 100 get the gateway's 429 with a Retry-After within a second
// of the minute's end.
func (c *budgetCluster) burst() {
	t := c.t
	c.awaitMinute(40*time.Second, true)
	before := c.sim.Stats()
	const n, workers = 400, 8
	answers := make([]budgetAnswer, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				answers[i] = c.call(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	ok, refused := 0, 0
	var worst time.Duration
	for i, a := range answers {
		switch a.status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			end := nextMinute(answers[0].at)
			worst = max(worst, c.localRefusal(a, end, end))
		default:
			t.Fatalf("call %d: %d", i, a.status)
		}
	}
	st := c.sim.Stats()
	reached, google429 := st.APIRequests-before.APIRequests, st.API429-before.API429
	t.Logf("400 calls over %d instances: %d reached Google (%d answered 429 there), %d answered 429 by the gateway; Retry-After at most %v after the truth",
		budgetInstances, reached, google429, refused, worst)
	if ok != 300 || refused != 100 || reached != 300 || google429 != 0 {
		t.Fatalf("%d answered, %d refused by the gateway; Google saw %d and refused %d; want 300, 100, 300, 0", ok, refused, reached, google429)
	}
	if got := c.rateLimited("gateway"); got != 100 {
		t.Fatalf("caddy_fitbit_rate_limited_total{by=gateway} sums to %d over the instances, want 100", got)
	}
}

// silence drives Google's own 429 (it allows 5 calls a minute, some of
// which alice's connection may have made) and checks that nothing of
// alice's reaches Google until its reset, whichever instance she calls,
// then that her calls go through again after it. learnt, if set, waits
// until every instance knows of the block.
func (c *budgetCluster) silence(learnt func()) {
	t := c.t
	c.awaitMinute(15*time.Second, false)
	before := c.sim.Stats()
	sent := 0
	var earliest, latest time.Time // Google's reset: its Retry-After from when it answered
	for ; ; sent++ {
		a := c.call(sent)
		if a.status == http.StatusOK && sent < 5 {
			continue
		}
		ra, err := strconv.Atoi(a.retryAfter)
		if a.status != http.StatusTooManyRequests || a.domain == apierror.Domain || err != nil {
			t.Fatalf("call %d: %d %s, Retry-After %q; want Google's own 429 by the 6th", sent+1, a.status, a.domain, a.retryAfter)
		}
		sent++
		earliest, latest = a.sent.Add(time.Duration(ra)*time.Second), a.at.Add(time.Duration(ra)*time.Second)
		break
	}
	if learnt != nil {
		learnt()
	}
	var worst time.Duration
	for i := range 3 * budgetInstances {
		worst = max(worst, c.localRefusal(c.call(i), earliest, latest))
	}
	st := c.sim.Stats()
	t.Logf("after Google's 429: %d calls over %d instances answered 429 by the gateway, Retry-After at most %v after the truth; Google saw %d calls, refused %d",
		3*budgetInstances, budgetInstances, worst, st.APIRequests-before.APIRequests, st.API429-before.API429)
	if st.APIRequests-before.APIRequests != int64(sent) || st.API429-before.API429 != 1 {
		t.Fatalf("Google saw %d calls and refused %d; want %d and 1: calls reached it during its block", st.APIRequests-before.APIRequests, st.API429-before.API429, sent)
	}
	if up, local := c.rateLimited("upstream"), c.rateLimited("gateway"); up != 1 || local != 3*budgetInstances {
		t.Fatalf("caddy_fitbit_rate_limited_total: upstream %d, gateway %d; want 1 and %d", up, local, 3*budgetInstances)
	}
	time.Sleep(time.Until(latest.Add(200 * time.Millisecond)))
	for i := range budgetInstances {
		if a := c.call(i); a.status != http.StatusOK {
			t.Fatalf("instance %d after Google's reset: %d", i+1, a.status)
		}
	}
}

// learntBlock waits until every instance's log says it knows of one
// provider's 429 in force (module's poll of the store's blocks).
func (c *budgetCluster) learntBlock() {
	waitFor(c.t, "every instance learns of Google's 429", func() (bool, string) {
		for i, path := range c.logs {
			b, _ := os.ReadFile(path)
			if !strings.Contains(string(b), `"msg":"the providers' 429s in force, from every instance","blocked":1`) {
				return false, fmt.Sprintf("instance %d has not", i+1)
			}
		}
		return true, ""
	})
}

func redisBudgetStore(t *testing.T) string {
	caddyBinary(t)
	if !hasModule("fitbit.stores.redis") {
		t.Skip("this Caddy build has no fitbit.stores.redis module")
	}
	return "store redis {\n\t\t\taddress " + redistest.Start(t) + "\n\t\t\tkey_prefix budget\n\t\t}"
}

func fileBudgetStore(t *testing.T) string {
	return "storage file_system {\n\t\t\troot " + t.TempDir() + "\n\t\t}"
}

// With Redis the cluster shares one budget: 300 of 400 calls reach Google.
func TestBudgetBurstRedis(t *testing.T) {
	t.Parallel()
	startBudgetCluster(t, redisBudgetStore(t), "", 0).burst()
}

// With the file store each of 3 instances keeps 100 of the 300: calls
// spread evenly over them still let exactly 300 through.
func TestBudgetBurstFileSystem(t *testing.T) {
	t.Parallel()
	startBudgetCluster(t, fileBudgetStore(t), "budget {\n\t\t\t\tinstances 3\n\t\t\t}", 0).burst()
}

// With Redis, Google's 429 on one instance blocks alice on all at once.
func TestBudgetUpstream429Redis(t *testing.T) {
	t.Parallel()
	startBudgetCluster(t, redisBudgetStore(t), "", 5).silence(nil)
}

// With the file store the other instances learn Google's 429 from the
// store within cache_sync_interval; from then on none sends alice's calls.
func TestBudgetUpstream429FileSystem(t *testing.T) {
	t.Parallel()
	c := startBudgetCluster(t, fileBudgetStore(t), "budget {\n\t\t\t\tinstances 3\n\t\t\t}", 5)
	c.silence(c.learntBlock)
}
