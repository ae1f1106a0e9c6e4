package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A connected user's app that trickles its body (one byte, then nothing)
// gets a clear 408 once replay_body_timeout has passed, instead of holding
// the request until the server's own timeouts: the connection's read
// deadline ends the stalled read. Nothing reaches Fitbit.
func TestTrickledBodyGets408(t *testing.T) {
	e := newEnv(t, options{ProxyExtra: "replay_body_timeout 1s"})
	e.mustConnect("alice")
	before := e.sim.Stats().APIRequests

	conn, err := net.Dial("tcp", "localhost:9080")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := http.NewRequest("POST", gateway+"/1/user/-/foods/log.json", nil)
	req.SetBasicAuth("alice", passwords["alice"])
	fmt.Fprintf(conn, "POST /1/user/-/foods/log.json HTTP/1.1\r\nHost: localhost:9080\r\nAuthorization: %s\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 26\r\n\r\nf", req.Header.Get("Authorization"))
	// A bound on a broken gateway, not a measurement.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if resp.StatusCode != http.StatusRequestTimeout || errorType(m) != "request_timeout" {
		t.Fatalf("trickled body: %d %s", resp.StatusCode, b)
	}
	if st := e.sim.Stats(); st.APIRequests != before {
		t.Fatalf("the trickled request reached Fitbit: %+v", st)
	}
	// The gateway serves the next request as ever.
	if resp, body := e.do(e.app("alice"), "POST", "/1/user/-/foods/log.json", []byte("foodId=1&mealTypeId=1&x=1"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}); resp.StatusCode >= 500 || resp.StatusCode == 408 {
		t.Fatalf("a body sent at once: %d %s", resp.StatusCode, body)
	}
}
