package simkit

import "net/http"

// RecoverPanic, deferred at the top of a ServeHTTP, turns a panic of the
// handler into an answer written by answer (the simulator's own 500
// format), so that a bug in a simulator does not take the test process
// down. http.ErrAbortHandler is panicked again: it is how a handler drops
// a connection on purpose.
func RecoverPanic(w http.ResponseWriter, answer func(w http.ResponseWriter, v any)) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		answer(w, v)
	}
}
