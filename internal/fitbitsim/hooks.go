package fitbitsim

import (
	"net/http"
	"sync"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// TokenHook observes a request to POST /oauth2/token once the simulator has
// processed it and before its answer leaves: grant is the request's
// grant_type and status the status of the answer it prepared (200 when a
// pair was issued or replayed). A request that an injected fault answered
// (or dropped) without processing is not reported; one processed and then
// delayed or dropped (FaultDelay, DropAfterIssue) is reported before the
// delay or the drop.
//
// The hook runs on the request's goroutine, so the answer waits for it: a
// test can act "between Fitbit's answer and the client's write", e.g.
// SIGKILL the gateway instance that sent the request (r's URL, query
// included, tells which one when each instance has its own token URL).
// It must not modify r.
type TokenHook func(r *http.Request, grant string, status int)

// tokenHooks holds each Server's hook (kept out of the Server struct so the
// hook stays a test-only add-on).
var tokenHooks sync.Map // *Server -> TokenHook

// SetTokenHook installs h (nil removes it). Safe for concurrent use.
func (s *Server) SetTokenHook(h TokenHook) {
	if h == nil {
		tokenHooks.Delete(s)
		return
	}
	tokenHooks.Store(s, h)
}

func (s *Server) tokenHook() TokenHook {
	if h, ok := tokenHooks.Load(s); ok {
		return h.(TokenHook)
	}
	return nil
}

// withTokenHook wraps w for a token grant when a hook is installed; the
// returned func, deferred by the grant, reports the processed request.
func (s *Server) withTokenHook(w http.ResponseWriter, r *http.Request, grant string) (http.ResponseWriter, func()) {
	h := s.tokenHook()
	if h == nil {
		return w, func() {}
	}
	hw := &simkit.StatusWriter{ResponseWriter: w} // the status of the answer the grant prepared
	return hw, func() {
		status := hw.Status
		if status == 0 {
			status = http.StatusOK
		}
		h(r, grant, status)
	}
}
