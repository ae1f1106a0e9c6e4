package redistest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func roundTrip(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

func TestStart(t *testing.T) {
	addr := Start(t)
	if got := roundTrip(t, addr, "PING"); got != "+PONG" {
		t.Fatalf("PING = %q", got)
	}
	if got := roundTrip(t, addr, "CONFIG GET save"); got != "*2" {
		t.Fatalf("CONFIG GET save = %q", got)
	}
}

func TestStartWithPassword(t *testing.T) {
	addr := StartWithPassword(t, "s3cret")
	if got := roundTrip(t, addr, "GET x"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("unauthenticated GET = %q, want -NOAUTH", got)
	}
}

func TestKillRestart(t *testing.T) {
	s := StartServer(t, Config{AppendOnly: true})
	if got := roundTrip(t, s.Addr(), "SET k v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	if ping(s.Addr()) {
		t.Fatal("server answers after Kill")
	}
	s.Kill() // idempotent
	s.Restart()
	if got := roundTrip(t, s.Addr(), "EXISTS k"); got != ":1" {
		t.Fatalf("after restart with appendonly EXISTS k = %q, want :1", got)
	}

	v := StartServer(t, Config{})
	roundTrip(t, v.Addr(), "SET k v")
	v.Restart()
	if got := roundTrip(t, v.Addr(), "EXISTS k"); got != ":0" {
		t.Fatalf("after restart without persistence EXISTS k = %q, want :0", got)
	}
}
