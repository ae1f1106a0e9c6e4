package simkit

import "sync"

// Log is a list that is safe for concurrent use. With Max > 0 it keeps
// only the newest Max entries, dropping the oldest first. The zero value
// is an empty, unbounded log.
type Log[T any] struct {
	Max int

	mu    sync.Mutex
	items []T
}

// Add appends vs.
func (l *Log[T]) Add(vs ...T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, vs...)
	if l.Max > 0 && len(l.items) > l.Max {
		l.items = append(l.items[:0], l.items[len(l.items)-l.Max:]...)
	}
}

// AppendTo appends the entries, oldest first, to dst and returns it.
func (l *Log[T]) AppendTo(dst []T) []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(dst, l.items...)
}

// All returns a copy of the entries, oldest first (nil if there are none).
func (l *Log[T]) All() []T { return l.AppendTo(nil) }

// Reset forgets every entry.
func (l *Log[T]) Reset() {
	l.mu.Lock()
	l.items = nil
	l.mu.Unlock()
}
