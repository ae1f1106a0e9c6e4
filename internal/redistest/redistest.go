// Package redistest runs a real redis-server for tests.
//
// Each server listens on 127.0.0.1 on a free port, keeps its files in a
// t.TempDir(), has persistence off unless asked for, and is killed when the
// test ends. When redis-server is not installed the test is skipped with an
// install hint, except when the CI environment variable is non-empty: then it
// fails, since CI must install it.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// InstallHint says how to get redis-server.
const InstallHint = "install it with: apt-get install -y redis-server (or set REDIS_SERVER to the binary)"

// Config configures a server.
type Config struct {
	// Password, when set, is required of clients (requirepass).
	Password string
	// AppendOnly turns on the append-only file with appendfsync always, so
	// the data survives Kill and Restart. Off, the data is lost on restart.
	AppendOnly bool
	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	Args []string
}

// Server is a running (or killed) redis-server owned by a test.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	cfg  Config

	mu     sync.Mutex
	proc   *os.Process   // nil when not running
	exited chan struct{} // closed when proc has exited
}

// Start starts a redis-server and returns its address ("127.0.0.1:port").
func Start(t testing.TB) (addr string) {
	t.Helper()
	return StartServer(t, Config{}).Addr()
}

// StartWithPassword starts a redis-server that requires password.
func StartWithPassword(t testing.TB, password string) (addr string) {
	t.Helper()
	return StartServer(t, Config{Password: password}).Addr()
}

// Binary returns the redis-server path, or skips t (fails it when CI is set).
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redistest: %s not found and CI is set; CI must provide it: %s", bin, InstallHint)
		}
		t.Skipf("redistest: %s not found; %s", bin, InstallHint)
	}
	return p
}

// StartServer starts a redis-server configured by cfg. It is killed when the
// test ends.
func StartServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := &Server{tb: t, bin: Binary(t), dir: t.TempDir(), cfg: cfg}
	t.Cleanup(func() { s.Kill() })
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// Addr is the server's address, "127.0.0.1:port". It stays the same across
// Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Kill kills the server (SIGKILL, as a crash) and waits for it to exit. It
// is safe to call on a killed server.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc, s.exited = nil, nil
}

// Restart kills the server if it runs and starts it again on the same port
// and directory. Without Config.AppendOnly the data is gone.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	var err error
	for attempt := 0; attempt < 20; attempt++ { // the port may linger briefly
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.tb.Fatalf("redistest: restarting redis-server: %v", err)
}

func (s *Server) start() error {
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--dir", s.dir,
		"--save", "",
		"--daemonize", "no",
		"--loglevel", "warning",
		"--logfile", "",
	}
	if s.cfg.AppendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.cfg.Password != "" {
		args = append(args, "--requirepass", s.cfg.Password)
	}
	args = append(args, s.cfg.Args...)

	out := &syncBuffer{}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(s.Addr()) {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited at start: %s", strings.TrimSpace(out.String()))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING within 10s: %s", strings.TrimSpace(out.String()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.proc, s.exited = cmd.Process, exited
	s.mu.Unlock()
	return nil
}

// ping reports whether a server answers at addr. A server that requires a
// password answers PING with -NOAUTH, which also means it is up.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false
	}
	return strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
