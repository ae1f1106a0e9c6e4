// Package benchutil holds what the benchmark programs share: starting and
// stopping processes, reading their RSS, an HTTP client sized for many
// concurrent connections, a pass of one request per identity with recorded
// latencies, percentiles, and the gateway's Caddyfile.
package benchutil

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"
)

// Proc is a started child process.
type Proc struct {
	Cmd     *exec.Cmd
	Started time.Time
	done    chan struct{}
}

// Start runs name with args, output appended to logPath.
func Start(logPath, name string, args ...string) (*Proc, error) {
	cmd := exec.Command(name, args...)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// PID of the process.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM (then SIGKILL after 5 s) to the process and waits.
func (p *Proc) Stop() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// RSSKiB returns VmRSS and VmHWM (peak) of pid in KiB.
func RSSKiB(pid int) (rss, hwm int64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"VmRSS:", "VmHWM:"} {
			if strings.HasPrefix(line, k) {
				v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
				if k == "VmRSS:" {
					rss = v
				} else {
					hwm = v
				}
			}
		}
	}
	return rss, hwm
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Client is an HTTP client that keeps up to conns connections per host.
func Client(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 120 * time.Second}
}

// Get sends GET url with X-User: identity (when not empty) and returns the
// status and body.
func Get(ctx context.Context, c *http.Client, url, identity string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if identity != "" {
		req.Header.Set("X-User", identity)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// WaitStatus polls url (with X-User identity) every interval until it
// answers want, and returns when it did.
func WaitStatus(url, identity string, want int, interval, timeout time.Duration) (time.Time, error) {
	c := Client(1)
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, body, err := Get(ctx, c, url, identity)
		cancel()
		if err == nil && st == want {
			return time.Now(), nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("status %d: %.200s", st, body)
		}
		time.Sleep(interval)
	}
	return time.Time{}, fmt.Errorf("%s did not answer %d within %v (last: %s)", url, want, timeout, last)
}

// Pass is the result of one request per identity.
type Pass struct {
	Latencies []time.Duration
	Statuses  map[int]int
	Errors    int
	FirstErr  string
	Took      time.Duration
}

// HitAll sends one GET url per identity with conc workers and records each
// request's latency.
func HitAll(c *http.Client, url string, identities []string, conc int) Pass {
	var (
		mu   sync.Mutex
		res  = Pass{Statuses: map[int]int{}, Latencies: make([]time.Duration, 0, len(identities))}
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, len(identities)/conc+1)
			st := map[int]int{}
			errs, first := 0, ""
			for {
				i := int(next.Add(1) - 1)
				if i >= len(identities) {
					break
				}
				t0 := time.Now()
				s, body, err := Get(context.Background(), c, url, identities[i])
				d := time.Since(t0)
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				if s != 200 && first == "" {
					first = fmt.Sprintf("%s: status %d: %.300s", identities[i], s, body)
				}
				st[s]++
				lat = append(lat, d)
			}
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			for k, v := range st {
				res.Statuses[k] += v
			}
			res.Errors += errs
			if res.FirstErr == "" {
				res.FirstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Took = time.Since(start)
	return res
}

// OK reports whether every request answered 200.
func (p Pass) OK() bool { return p.Errors == 0 && len(p.Statuses) == 1 && p.Statuses[200] > 0 }

// Dist is a latency distribution.
type Dist struct {
	N                       int
	P50, P90, P99, Max, Min time.Duration
}

// Distribution sorts lat and returns its percentiles (nearest rank).
func Distribution(lat []time.Duration) Dist {
	if len(lat) == 0 {
		return Dist{}
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(s) {
			i = len(s) - 1
		}
		return s[i]
	}
	return Dist{N: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: s[len(s)-1], Min: s[0]}
}

// Ms formats d in milliseconds with three decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

// Identities returns prefix+from … prefix+(from+n-1) with the given stride.
func Identities(prefix string, from, n, stride int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + strconv.Itoa(from+i*stride)
	}
	return ids
}

// GatewayConfig is what the gateway's Caddyfile is made of.
type GatewayConfig struct {
	ClientID, ClientSecret string
	Port                   int    // listen port (loopback)
	Admin                  string // admin address, "" for off
	DataDir                string // Caddy's own storage
	Store                  string // the fitbit store's file-system root
	Key                    string // base64 encryption key
	CacheSize              int
	API                    string // api_base and where reverse_proxy sends requests: http://host:port
	TokenURL               string // token endpoint
	Skew                   string // refresh_skew ("" for the default)
	Upstream               string // reverse_proxy's upstream host:port
	Metrics                bool   // serve Prometheus metrics at /metrics
}

var gatewayTmpl = template.Must(template.New("gw").Parse(`{
	{{if .Admin}}admin {{.Admin}}{{else}}admin off{{end}}
	persist_config off
	auto_https off
	storage file_system {{.DataDir}}
	fitbit {
		client_id {{.ClientID}}
		client_secret {{.ClientSecret}}
		redirect_uri http://127.0.0.1:{{.Port}}/fitbit/callback
		authorize_url {{.API}}/oauth2/authorize
		token_url {{.TokenURL}}
		revoke_url {{.API}}/oauth2/revoke
		api_base {{.API}}
		encryption_key {{.Key}}
		cache_size {{.CacheSize}}
		budget {
			per_user 1000000000
		}
		{{- if .Skew}}
		refresh_skew {{.Skew}}
		{{- end}}
		storage file_system {
			root {{.Store}}
		}
	}
}

http://:{{.Port}} {
	bind 127.0.0.1
	handle /healthz {
		respond "ok" 200
	}
	handle {
		reverse_proxy {{.Upstream}} {
			transport fitbit {
				identity {http.request.header.X-User}
			}
		}
	}
	{{- if .Metrics}}
	handle /metrics {
		metrics
	}
	{{- end}}
}
`))

// WriteGatewayConfig writes the gateway's Caddyfile to path.
func WriteGatewayConfig(path string, c GatewayConfig) error {
	if c.ClientID == "" {
		c.ClientID, c.ClientSecret = "BENCH1", "bench-client-secret"
	}
	var b strings.Builder
	if err := gatewayTmpl.Execute(&b, c); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// WorkDir returns dir, created if need be, or a new temporary directory
// named after prefix when dir is empty; cleanup removes only the latter.
func WorkDir(dir, prefix string) (work string, cleanup func(), err error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o700)
	}
	if work, err = os.MkdirTemp("", prefix); err != nil {
		return "", nil, err
	}
	return work, func() { _ = os.RemoveAll(work) }, nil
}
