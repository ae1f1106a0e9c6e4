package chaos

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// proc is one Caddy process that the suite starts, kills and restarts with
// the same config.
type proc struct {
	name    string
	bin     string
	config  string // Caddyfile path
	port    int
	logPath string // Caddy's own log (log global option)
	outPath string // the process's stdout and stderr, appended across restarts
	env     []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited
	ready  bool          // listening since its last start
	kills  int           // SIGKILLs sent by the suite
	starts int
}

// start runs the process unless it is running and waits until it listens.
// It reports an error if the process exits before it listens, unless the
// suite killed it meanwhile (killed is then true).
func (p *proc) start() (killed bool, err error) {
	p.mu.Lock()
	if p.cmd != nil && !isClosed(p.done) {
		p.mu.Unlock()
		return false, nil
	}
	out, err := os.OpenFile(p.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.mu.Unlock()
		return false, err
	}
	cmd := exec.Command(p.bin, "run", "--config", p.config, "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = p.env
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		p.mu.Unlock()
		return false, fmt.Errorf("%s: start: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	p.cmd, p.done, p.ready = cmd, done, false
	p.starts++
	kills := p.kills
	p.mu.Unlock()

	err = waitListening(p.port, done, 20*time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kills != kills {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w (see %s)", p.name, err, p.outPath)
	}
	if p.done == done {
		p.ready = true
	}
	return false, nil
}

// isReady reports whether the process runs and has listened.
func (p *proc) isReady() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready && p.cmd != nil && !isClosed(p.done)
}

// kill sends SIGKILL and waits for the process to be gone. It reports
// whether there was a process to kill.
func (p *proc) kill() bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd == nil || isClosed(done) {
		p.mu.Unlock()
		return false
	}
	p.kills++
	p.ready = false
	_ = cmd.Process.Kill() // SIGKILL on Unix
	p.mu.Unlock()
	<-done
	return true
}

// pid is the process id of the current process (0 if none).
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) counts() (starts, kills int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts, p.kills
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitListening waits until something accepts on 127.0.0.1:port, failing
// if exited closes first or after timeout.
func waitListening(port int, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for {
		select {
		case <-exited:
			return errors.New("exited before listening")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %v", addr, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePorts returns n distinct free TCP ports on loopback.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
