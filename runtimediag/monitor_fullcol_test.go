package runtimediag

import (
	"runtime"
	"testing"
	"time"
)

// TestTickNeverWaitsForAFullRead holds the full-report collector's lock, as a long smaps walk
// would, and shows that a tick still completes: the two read through different collectors.
func TestTickNeverWaitsForAFullRead(t *testing.T) {
	m := newTestMonitor(t)
	if m.col == m.fullCol {
		t.Fatal("ticks and full reports share one collector")
	}
	m.fullCol.mu.Lock()
	defer m.fullCol.mu.Unlock()
	done := make(chan struct{})
	go func() { defer close(done); m.tick() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a tick waited for the full-report collector")
	}
}

// TestFirstPointHasNoPauseMaximum: without a previous snapshot the pause history reaches back to
// the process's start, so the first point must not report its maximum as this tick's pause.
func TestFirstPointHasNoPauseMaximum(t *testing.T) {
	runtime.GC()
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cur := c.Cheap()
	if len(cur.GCPauses.Recent) == 0 {
		t.Fatal("no GC pause recorded after runtime.GC")
	}
	var p Point
	pointFrom(&p, nil, cur)
	if p.PauseGCMaxSeconds != 0 {
		t.Errorf("first point's PauseGCMaxSeconds = %v, want 0", p.PauseGCMaxSeconds)
	}
	runtime.GC()
	next := c.Cheap()
	pointFrom(&p, cur, next)
	if p.PauseGCMaxSeconds <= 0 {
		t.Errorf("a GC between two points gave PauseGCMaxSeconds = %v, want > 0", p.PauseGCMaxSeconds)
	}
}
