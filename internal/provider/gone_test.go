package provider

import (
	"testing"
	"time"
)

func TestGoneMarkClearSince(t *testing.T) {
	var g Gone
	if !g.Since().IsZero() {
		t.Fatal("a new Gone is gone")
	}
	t0 := time.Unix(1793577600, 0) // 2026-11-02
	if !g.Mark(t0) {
		t.Fatal("the first 410 is not reported as first")
	}
	if g.Mark(t0.Add(time.Minute)) {
		t.Fatal("a second 410 is reported as first: it would be logged again")
	}
	if got := g.Since(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Since = %v, want the last 410", got)
	}
	g.Clear()
	if !g.Since().IsZero() {
		t.Fatal("Clear left it gone")
	}
	if !g.Mark(t0) {
		t.Fatal("a 410 after a normal answer is not reported as first")
	}
}
