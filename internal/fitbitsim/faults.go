package fitbitsim

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
)

// Faults injects failures into POST /oauth2/token (refresh_token and
// authorization_code grants; other grant types, the introspect and recover
// endpoints are never faulted; the revoke endpoint only by
// FailNextRevokes). The zero value injects nothing.
//
// At most one of the three rates applies to a request: one uniform draw u
// picks DropBefore if u < DropBeforeRate, else Error if u < DropBeforeRate +
// ErrorRate, else DropAfterIssue if u < the sum of all three. The delay
// comes on top of whatever the draw picked.
type Faults struct {
	// Delay is added before answering (or dropping). Processing happens
	// first, so a client that gives up during the delay has still caused a
	// rotation: that is the "slow Fitbit" case a gateway timeout must
	// survive. The wait ends early if the client goes away.
	Delay time.Duration
	// DelayJitter adds a uniform extra 0..DelayJitter to Delay.
	DelayJitter time.Duration
	// ErrorRate (0..1) answers 500, 502 or 503 with errorType "system"
	// without processing the request: nothing is spent or rotated.
	ErrorRate float64
	// DropAfterIssueRate (0..1) processes the request (a refresh rotates,
	// issues the new pair and opens the grace window; a code is spent and a
	// chain started) and then closes the connection without answering:
	// "Fitbit rotated, the gateway never saw the answer".
	DropAfterIssueRate float64
	// DropBeforeRate (0..1) closes the connection without processing.
	DropBeforeRate float64
	// Seed, if not zero, makes the random draws reproducible from this
	// SetFaults on (for a sequential test; concurrent requests still race
	// for the draws). Zero seeds from crypto randomness.
	Seed uint64
}

type faultOp int

const (
	opNone faultOp = iota
	opError
	opDropAfter
	opDropBefore
)

// FaultKind is a fault forced on a refresh request by FailNextRefreshes.
// Use FaultError, FaultDropAfterIssue, FaultDropBefore, FaultErrorStatus or
// FaultDelay.
type FaultKind struct {
	op     faultOp
	status int           // opError
	delay  time.Duration // added to the configured Delay
}

// The forcible faults. FaultError answers 503; FaultErrorStatus picks the
// status.
var (
	FaultError          = FaultKind{op: opError, status: http.StatusServiceUnavailable}
	FaultDropAfterIssue = FaultKind{op: opDropAfter}
	FaultDropBefore     = FaultKind{op: opDropBefore}
)

// FaultErrorStatus is FaultError with a chosen 5xx status (anything outside
// 500..599 becomes 503).
func FaultErrorStatus(status int) FaultKind {
	if status < 500 || status > 599 {
		status = http.StatusServiceUnavailable
	}
	return FaultKind{op: opError, status: status}
}

// FaultDelay processes the request normally and answers d later (plus the
// configured Delay, if any).
func FaultDelay(d time.Duration) FaultKind { return FaultKind{delay: max(d, 0)} }

// faultState is the fault configuration and the forced-fault queue.
type faultState struct {
	mu     sync.Mutex
	cfg    Faults
	rng    *rand.Rand
	forced []FaultKind // FIFO, consumed by refresh requests
	// revokes are forced answers of the revoke endpoint, FIFO.
	revokes []RevokeFault
}

// RevokeFault is an answer forced on a revoke request by FailNextRevokes:
// Status with a Fitbit envelope of ErrorType, sent before the client is
// authenticated or anything is revoked.
type RevokeFault struct {
	Status    int
	ErrorType string
}

// The revoke faults a gateway meets: the API turned off, a client secret
// rotated since the tokens were issued, an outage.
var (
	RevokeGone          = RevokeFault{Status: http.StatusGone, ErrorType: "gone"}
	RevokeInvalidClient = RevokeFault{Status: http.StatusBadRequest, ErrorType: apierror.InvalidClient}
	RevokeUnavailable   = RevokeFault{Status: http.StatusServiceUnavailable, ErrorType: apierror.System}
)

// FailNextRevokes queues f for the next n requests to the revoke endpoint,
// behind faults queued before; n <= 0 empties the queue. Faulted requests
// do not count as Revocations.
func (s *Server) FailNextRevokes(n int, f RevokeFault) {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n <= 0 {
		fs.revokes = nil
		return
	}
	for range n {
		fs.revokes = append(fs.revokes, f)
	}
}

// revokeFault answers a revoke request from the queue, if one is queued.
func (s *Server) revokeFault(w http.ResponseWriter) bool {
	fs := &s.faults
	fs.mu.Lock()
	if len(fs.revokes) == 0 {
		fs.mu.Unlock()
		return false
	}
	f := fs.revokes[0]
	fs.revokes = fs.revokes[1:]
	fs.mu.Unlock()
	apierror.Write(w, f.Status, apierror.Item{ErrorType: f.ErrorType, Message: "Injected revoke fault. " + visit})
	return true
}

// faultPlan is what happens to one token request.
type faultPlan struct {
	op     faultOp
	status int
	delay  time.Duration
}

// clampRate keeps a rate within 0..1 (NaN is 0).
func clampRate(r float64) float64 {
	if math.IsNaN(r) || r < 0 {
		return 0
	}
	return min(r, 1)
}

// SetFaults replaces the fault configuration at run time. Rates are clamped
// to 0..1 and negative durations to 0. The forced-fault queue is kept.
func (s *Server) SetFaults(f Faults) {
	f.ErrorRate = clampRate(f.ErrorRate)
	f.DropAfterIssueRate = clampRate(f.DropAfterIssueRate)
	f.DropBeforeRate = clampRate(f.DropBeforeRate)
	f.Delay = max(f.Delay, 0)
	f.DelayJitter = max(f.DelayJitter, 0)
	seed := f.Seed
	if seed == 0 {
		seed = rand.Uint64() // the randomly seeded global source
	}
	fs := &s.faults
	fs.mu.Lock()
	fs.cfg = f
	fs.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fs.mu.Unlock()
}

// Faults returns the current fault configuration.
func (s *Server) Faults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.cfg
}

// FailNextRefreshes queues kind for the next n refresh_token requests at the
// token endpoint, whatever their outcome would be, ahead of (and instead of)
// the random draw; queued faults run in the order they were queued, so
// calls compose. n <= 0 empties the queue. Code exchanges never consume
// the queue.
func (s *Server) FailNextRefreshes(n int, kind FaultKind) {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n <= 0 {
		fs.forced = nil
		return
	}
	for range n {
		fs.forced = append(fs.forced, kind)
	}
}

// planFault decides the fault for one token request of grant type gt.
func (s *Server) planFault(gt string) faultPlan {
	if gt != "refresh_token" && gt != "authorization_code" {
		return faultPlan{}
	}
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.cfg
	var p faultPlan
	if f.Delay > 0 || f.DelayJitter > 0 {
		p.delay = f.Delay
		if f.DelayJitter > 0 {
			p.delay += time.Duration(fs.rng.Int64N(int64(f.DelayJitter) + 1))
		}
	}
	if gt == "refresh_token" && len(fs.forced) > 0 {
		k := fs.forced[0]
		fs.forced = fs.forced[1:]
		p.op, p.status, p.delay = k.op, k.status, p.delay+k.delay
		return p
	}
	if f.ErrorRate == 0 && f.DropAfterIssueRate == 0 && f.DropBeforeRate == 0 {
		return p
	}
	switch u := fs.rng.Float64(); {
	case u < f.DropBeforeRate:
		p.op = opDropBefore
	case u < f.DropBeforeRate+f.ErrorRate:
		p.op = opError
		p.status = []int{500, 502, 503}[fs.rng.IntN(3)]
	case u < f.DropBeforeRate+f.ErrorRate+f.DropAfterIssueRate:
		p.op = opDropAfter
	}
	return p
}

// serveFaulted answers a token request that has a fault plan. Requests
// without one never get here, so the normal path is untouched.
func (s *Server) serveFaulted(w http.ResponseWriter, r *http.Request, form url.Values, p faultPlan) {
	switch p.op {
	case opError:
		s.stats.faultsErrors.Add(1)
		s.logPresented(form, EventFaultError)
		if !s.faultDelay(r.Context(), p.delay) {
			return
		}
		apierror.Write(w, p.status, apierror.Item{ErrorType: apierror.System, Message: http.StatusText(p.status)})
	case opDropBefore:
		s.stats.faultsDropBefore.Add(1)
		s.logPresented(form, EventFaultDropBefore)
		s.faultDelay(r.Context(), p.delay)
		dropConnection(w)
	default: // opNone with a delay, or opDropAfter: process first
		buf := &bufferedResponse{header: http.Header{}}
		s.tokenGrant(buf, r, form)
		if p.op == opDropAfter {
			s.stats.faultsDropAfterIssue.Add(1)
			if user := buf.issuedTo(); user != "" {
				s.logEvent(user, EventDroppedAfterIssue)
			}
			s.faultDelay(r.Context(), p.delay)
			dropConnection(w)
			return
		}
		if s.faultDelay(r.Context(), p.delay) {
			buf.copyTo(w)
		}
	}
}

// faultDelay waits d (counting it) and reports whether the client is still
// there to be answered.
func (s *Server) faultDelay(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	s.stats.faultsDelayed.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the client's connection without a response. A
// hijacked TCP close reads as EOF (or a reset) to the client; where hijacking
// is impossible (HTTP/2, recorders) net/http's abort does the same job.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// bufferedResponse holds a processed answer until the fault plan decides
// whether (and when) it is delivered.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(max(b.status, http.StatusOK))
	_, _ = w.Write(b.body.Bytes())
}

// issuedTo is the user a successful token answer was for, "" otherwise.
func (b *bufferedResponse) issuedTo() string {
	if b.status != http.StatusOK {
		return ""
	}
	var tr TokenResponse
	if json.Unmarshal(b.body.Bytes(), &tr) != nil {
		return ""
	}
	return tr.UserID
}
