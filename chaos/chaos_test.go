package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
)

// The shape of a run.
const (
	numIdentities  = 50
	numInstances   = 3
	tokenLifetime  = 6 * time.Second // the simulator's access tokens
	refreshSkew    = 2 * time.Second // the gateway refreshes this long before expiry
	recoveryEvery  = 2 * time.Second // the gateway's recovery sweep
	loadDuration   = 45 * time.Second
	numWorkers     = 16
	clientTimeout  = 40 * time.Second // a request taking longer counts as hung
	targetedDelay  = 1500 * time.Millisecond
	identityPasswd = "chaos-password"
)

// TestChaosFileSystem runs the suite over one file-system store shared by
// the three instances.
func TestChaosFileSystem(t *testing.T) {
	bin := caddyBinary(t)
	shared := t.TempDir()
	if keep := os.Getenv("CHAOS_KEEP"); keep != "" {
		shared = filepath.Join(keep, "fs-store-"+time.Now().Format("150405"))
	}
	runChaos(t, bin, variant{
		name:      "file_system",
		store:     "storage file_system {\n\t\t\troot " + shared + "\n\t\t}",
		fileStore: shared,
	})
}

// TestChaosRedis runs the suite over one Redis shared by the instances.
func TestChaosRedis(t *testing.T) {
	bin := caddyBinary(t)
	if !hasModule("fitbit.stores.redis") {
		t.Skip("chaos: this Caddy build has no fitbit.stores.redis module yet (not in `caddy list-modules`); the Redis run needs `store redis { … }`")
	}
	addr := redistest.Start(t)
	runChaos(t, bin, variant{
		name:  "redis",
		store: "store redis {\n\t\t\taddress " + addr + "\n\t\t\tkey_prefix chaos\n\t\t}",
	})
}

// variant is the store under test.
type variant struct {
	name      string
	store     string // the store lines of the fitbit option
	fileStore string // root of the file-system store, "" for others
}

const instanceTmpl = `{
	admin off
	persist_config off
	auto_https off
	grace_period 2s
	storage file_system {{.Dir}}/caddy-data-{{.N}}
	log {
		output file {{.Log}} {
			roll_disabled
		}
		format json
		level INFO
	}
	fitbit {
		client_id {{.ClientID}}
		client_secret {{.ClientSecret}}
		redirect_uri {{.Front}}/fitbit/callback
		authorize_url {{.Sim}}/oauth2/authorize
		token_url {{.Sim}}/oauth2/token?instance={{.N}}
		revoke_url {{.Sim}}/oauth2/revoke
		recover_url {{.Sim}}/oauth2/recover?instance={{.N}}
		api_base {{.Sim}}
		encryption_key {{.Key}}
		refresh_skew {{.Skew}}
		token_timeout 3s
		token_retry_budget 5s
		recovery_interval {{.Recovery}}
		refresh_token_recovery
		{{.Store}}
	}
}

http://:{{.Port}} {
	basic_auth {
{{- range .Users}}
		{{.}} {{$.Hash}}
{{- end}}
	}
	fitbit_auth
	fitbit_proxy
	log {
		output file {{.Access}} {
			roll_disabled
		}
		format json
	}
}
`

const frontTmpl = `{
	admin off
	persist_config off
	auto_https off
	grace_period 1s
	storage file_system {{.Dir}}/caddy-data-front
	log {
		output file {{.Log}} {
			roll_disabled
		}
		format json
		level WARN
	}
}

http://:{{.Port}} {
	reverse_proxy{{range .Upstreams}} 127.0.0.1:{{.}}{{end}} {
		lb_policy random
		lb_retries 10
		lb_try_duration 3s
		lb_try_interval 100ms
		fail_duration 2s
		max_fails 1
		transport http {
			dial_timeout 500ms
		}
	}
	handle_errors {
		header Content-Type application/json
		header X-Chaos-Front-Error 1
		respond ` + "`" + `{"errors":[{"errorType":"front_upstream_unavailable","message":"no gateway instance answered"}],"success":false}` + "`" + ` {err.status_code}
	}
}
`

// run is the state of one chaos run.
type run struct {
	t        *testing.T
	v        variant
	dir      string
	sim      *fitbitsim.Server
	front    *proc
	frontURL string
	insts    []*proc
	users    []string          // identities (basic_auth user names)
	fitbit   map[string]string // identity -> simulated Fitbit user id
	client   *http.Client
	key      string // the encryption key (base64)

	killMu   sync.Mutex // one kill decision at a time
	restarts sync.WaitGroup
	stopping atomic.Bool  // no more restarts scheduled by the chaos
	armed    atomic.Bool  // a targeted kill waits for the next processed refresh
	lastKill atomic.Int64 // unix nanos of the latest SIGKILL

	randomKills, targetedKills, targetedMissed, expiries atomic.Int64

	hookMu      sync.Mutex     // guards the three below
	tokenReqs   map[string]int // "instance N grant status" -> count
	restartErrs []string
	killLog     []string

	res results
}

func runChaos(t *testing.T, bin string, v variant) {
	dir := t.TempDir()
	if keep := os.Getenv("CHAOS_KEEP"); keep != "" {
		// Keep the configs, logs and store for a post-mortem.
		dir = filepath.Join(keep, v.name+"-"+time.Now().Format("150405"))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Logf("chaos[%s]: keeping the run's files in %s (CHAOS_KEEP)", v.name, dir)
	}
	r := &run{t: t, v: v, dir: dir, fitbit: map[string]string{}, tokenReqs: map[string]int{}}
	r.res.init()
	started := time.Now()
	r.setUp(bin)
	r.connectAll()
	t.Logf("chaos[%s]: %d identities connected through the front in %v", v.name, len(r.users), time.Since(started).Round(time.Millisecond))

	loadStart := time.Now()
	r.load()
	t.Logf("chaos[%s]: load phase done in %v", v.name, time.Since(loadStart).Round(time.Millisecond))
	r.finish()
	t.Logf("chaos[%s]: whole run %v", v.name, time.Since(started).Round(time.Millisecond))
}

// setUp starts the simulator, the three instances and the front.
func (r *run) setUp(bin string) {
	t := r.t
	ports, err := freePorts(numInstances + 1)
	if err != nil {
		t.Fatal(err)
	}
	frontPort := ports[numInstances]
	r.frontURL = "http://127.0.0.1:" + strconv.Itoa(frontPort)

	sim, err := fitbitsim.Start(fitbitsim.Config{
		RedirectURIs:        []string{r.frontURL + "/fitbit/callback"},
		AccessTokenLifetime: tokenLifetime,
		RateLimitPerHour:    -1,
		RecoveryEnabled:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sim = sim
	t.Cleanup(func() {
		sim.SetTokenHook(nil)
		sim.Close()
	})

	hash, err := bcrypt.GenerateFromPassword([]byte(identityPasswd), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for i := range numIdentities {
		r.users = append(r.users, fmt.Sprintf("user%02d", i+1))
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	r.key = base64.StdEncoding.EncodeToString(key)
	env := append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(r.dir, "xdg-data"),
		"XDG_CONFIG_HOME="+filepath.Join(r.dir, "xdg-config"),
		"HOME="+r.dir,
	)

	for i := range numInstances {
		n := i + 1
		p := &proc{
			name: fmt.Sprintf("instance %d", n), bin: bin, port: ports[i], env: env,
			config:  filepath.Join(r.dir, fmt.Sprintf("instance%d.caddyfile", n)),
			logPath: filepath.Join(r.dir, fmt.Sprintf("instance%d.log", n)),
			outPath: filepath.Join(r.dir, fmt.Sprintf("instance%d.out", n)),
		}
		r.writeConfig(p.config, instanceTmpl, map[string]any{
			"Dir": r.dir, "N": n, "Log": p.logPath, "ClientID": sim.ClientID(), "ClientSecret": sim.ClientSecret(),
			"Front": r.frontURL, "Sim": sim.URL(), "Key": r.key,
			"Skew": refreshSkew.String(), "Recovery": recoveryEvery.String(), "Store": r.v.store,
			"Port": p.port, "Access": p.logPath + ".access", "Users": r.users, "Hash": base64.StdEncoding.EncodeToString(hash),
		})
		r.insts = append(r.insts, p)
	}
	r.front = &proc{
		name: "front", bin: bin, port: frontPort, env: env,
		config:  filepath.Join(r.dir, "front.caddyfile"),
		logPath: filepath.Join(r.dir, "front.log"),
		outPath: filepath.Join(r.dir, "front.out"),
	}
	r.writeConfig(r.front.config, frontTmpl, map[string]any{
		"Dir": r.dir, "Log": r.front.logPath, "Port": frontPort, "Upstreams": ports[:numInstances],
	})

	// Cleanups run last-in first-out: stop the chaos, then every process,
	// then (registered earlier) the simulator and the temp dirs.
	t.Cleanup(func() {
		r.stopping.Store(true)
		r.restarts.Wait()
		for _, p := range append([]*proc{r.front}, r.insts...) {
			p.kill()
		}
		if t.Failed() {
			r.dumpLogs()
		}
	})
	for _, p := range append(append([]*proc{}, r.insts...), r.front) {
		if _, err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	r.client = &http.Client{
		Timeout: clientTimeout,
		Transport: &http.Transport{
			MaxIdleConns: 4 * numWorkers, MaxIdleConnsPerHost: 4 * numWorkers,
			IdleConnTimeout: 30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(r.client.CloseIdleConnections)
	sim.SetTokenHook(r.tokenHook)
}

func (r *run) writeConfig(path, tmpl string, data map[string]any) {
	var buf bytes.Buffer
	if err := template.Must(template.New("").Parse(tmpl)).Execute(&buf, data); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// tokenHook sees every token request the simulator processed, before its
// answer leaves. When a targeted kill is armed, the first processed refresh
// gets its instance SIGKILLed right there: Fitbit has rotated the pair, and
// the instance never reads the answer (it is held back by a delay, and
// the process is gone before the delay ends).
func (r *run) tokenHook(req *http.Request, grant string, status int) {
	inst := req.URL.Query().Get("instance")
	r.hookMu.Lock()
	r.tokenReqs[fmt.Sprintf("instance %s %s %d", inst, grant, status)]++
	r.hookMu.Unlock()
	if grant != "refresh_token" || status != http.StatusOK {
		return
	}
	n, err := strconv.Atoi(inst)
	if err != nil || n < 1 || n > len(r.insts) {
		return
	}
	if !r.armed.CompareAndSwap(true, false) {
		return
	}
	if r.killAndRestart(r.insts[n-1], "targeted: Fitbit processed its refresh") {
		r.targetedKills.Add(1)
	} else {
		r.targetedMissed.Add(1)
	}
}

// killAndRestart SIGKILLs p if at least one other instance is up, and
// restarts it after 1 to 2 seconds. It reports whether it killed.
func (r *run) killAndRestart(p *proc, why string) bool {
	if r.stopping.Load() {
		return false
	}
	r.killMu.Lock()
	up := 0
	for _, q := range r.insts {
		if q != p && q.isReady() {
			up++
		}
	}
	pid := p.pid()
	killed := up > 0 && p.isReady() && p.kill()
	if killed {
		r.hookMu.Lock()
		r.killLog = append(r.killLog, fmt.Sprintf("%s SIGKILL %s (pid %d, %s)", time.Now().Format("15:04:05.000"), p.name, pid, why))
		r.hookMu.Unlock()
		r.lastKill.Store(time.Now().UnixNano())
		r.restarts.Add(1)
	}
	r.killMu.Unlock()
	if !killed {
		return false
	}
	delay := time.Second + mrand.N(time.Second)
	go func() {
		defer r.restarts.Done()
		time.Sleep(delay)
		if r.stopping.Load() {
			return
		}
		if killedMeanwhile, err := p.start(); err != nil && !killedMeanwhile {
			r.hookMu.Lock()
			r.restartErrs = append(r.restartErrs, err.Error())
			r.hookMu.Unlock()
		}
	}()
	return true
}

// chaos kills instances at random moments and, in turn, right after Fitbit
// processed one of their refreshes; and forces access tokens to expire.
func (r *run) chaos(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			if !sleepCtx(ctx, 2500*time.Millisecond+mrand.N(1500*time.Millisecond)) {
				return
			}
			if i%2 == 0 {
				if r.killAndRestart(r.insts[mrand.N(len(r.insts))], "random") {
					r.randomKills.Add(1)
				}
				continue
			}
			// Targeted: the next processed refresh is answered 1.5 s late,
			// and its instance is killed as soon as Fitbit has processed it.
			r.sim.FailNextRefreshes(1, fitbitsim.FaultDelay(targetedDelay))
			r.armed.Store(true)
			if !sleepCtx(ctx, 2*time.Second) {
				return
			}
			if r.armed.CompareAndSwap(true, false) {
				r.targetedMissed.Add(1)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			if !sleepCtx(ctx, 1500*time.Millisecond+mrand.N(time.Second)) {
				return
			}
			r.sim.ExpireAccessTokens(r.fitbit[r.users[mrand.N(len(r.users))]])
			r.expiries.Add(1)
		}
	}()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// load runs the workers and the chaos for loadDuration.
func (r *run) load() {
	r.sim.SetFaults(fitbitsim.Faults{
		Delay:              50 * time.Millisecond,
		DelayJitter:        400 * time.Millisecond,
		ErrorRate:          0.10,
		DropAfterIssueRate: 0.05,
		DropBeforeRate:     0.03,
	})
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration)
	defer cancel()
	var chaosWG, workWG sync.WaitGroup
	r.chaos(ctx, &chaosWG)
	var seq atomic.Int64
	for range numWorkers {
		workWG.Add(1)
		go func() {
			defer workWG.Done()
			for ctx.Err() == nil {
				id := r.users[mrand.N(len(r.users))]
				r.res.add(r.request(id, mrand.N(5) == 0, seq.Add(1)))
				sleepCtx(ctx, 5*time.Millisecond+mrand.N(20*time.Millisecond))
			}
		}()
	}
	workWG.Wait()
	chaosWG.Wait()
	r.armed.Store(false)
	r.sim.FailNextRefreshes(0, fitbitsim.FaultKind{})
	r.sim.SetFaults(fitbitsim.Faults{})
}
