package chaos

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string // holds the binary; removed by TestMain
	caddyBin  string
	modules   string // caddy list-modules
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// goTool is the go command that runs these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// caddyBinary builds ./cmd/caddy once per test binary and returns its path,
// or skips t under -short.
func caddyBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("chaos: skipped under -short (it builds Caddy and runs about a minute per store)")
	}
	buildOnce.Do(func() {
		gomod, err := exec.Command(goTool(), "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		if root == "." || root == "" {
			buildErr = fmt.Errorf("go env GOMOD: not in a module (%q)", gomod)
			return
		}
		if buildDir, err = os.MkdirTemp("", "caddy-fitbit-chaos-"); err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(buildDir, "caddy")
		cmd := exec.Command(goTool(), "build", "-o", bin, "./cmd/caddy")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
			return
		}
		out, err := exec.Command(bin, "list-modules").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("caddy list-modules: %v\n%s", err, out)
			return
		}
		caddyBin, modules = bin, string(out)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return caddyBin
}

// hasModule reports whether the built Caddy has the module id.
func hasModule(id string) bool {
	for _, line := range strings.Split(modules, "\n") {
		if bytes.Equal(bytes.TrimSpace([]byte(line)), []byte(id)) {
			return true
		}
	}
	return false
}
