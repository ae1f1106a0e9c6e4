package simkit

import "time"

// Window counts per key within fixed clock windows of Size (a clock hour,
// a clock minute): every count starts again when a new window begins. It
// is not safe for concurrent use; callers hold their own lock.
type Window[K comparable] struct {
	Size time.Duration

	start  int64 // the Unix second the counts belong to
	counts map[K]int
}

// Count returns k's count in the window that holds now, first starting a
// new window if now is past the one counted so far.
func (w *Window[K]) Count(now time.Time, k K) int {
	if s := now.Truncate(w.Size).Unix(); s != w.start {
		clear(w.counts)
		w.start = s
	}
	return w.counts[k]
}

// Set sets k's count in the current window (call Count first).
func (w *Window[K]) Set(k K, n int) {
	if w.counts == nil {
		w.counts = map[K]int{}
	}
	w.counts[k] = n
}

// SecondsLeft is how many seconds, rounded up, remain of the window that
// holds now.
func (w *Window[K]) SecondsLeft(now time.Time) int {
	end := now.Truncate(w.Size).Add(w.Size)
	return int((end.Sub(now) + time.Second - 1) / time.Second)
}
