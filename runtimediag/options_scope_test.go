package runtimediag

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMisconfigurationFailsAtConstruction: what used to be accepted and then misbehaved — a
// Monitor option given to a Collector (silently ignored), a root that does not exist (every /proc
// figure unread), an unknown finding code (a trigger that never fires) — is an error from the
// constructor that names the option.
func TestMisconfigurationFailsAtConstruction(t *testing.T) {
	for name, tc := range map[string]struct {
		build func() error
		want  []string
	}{
		"monitor option to NewCollector": {
			func() error { _, err := NewCollector(WithTickInterval(time.Second)); return err },
			[]string{"NewCollector", "WithTickInterval", "NewMonitor"},
		},
		"trigger option to NewCollector": {
			func() error { _, err := NewCollector(WithTriggers(OnGCPause(time.Millisecond))); return err },
			[]string{"NewCollector", "WithTriggers"},
		},
		"memory limit option to NewCollector": {
			func() error { _, err := NewCollector(WithMemoryLimit(MemoryLimit{})); return err },
			[]string{"NewCollector", "WithMemoryLimit"},
		},
		"root that does not exist": {
			func() error { _, err := NewMonitor(WithRoot("/nonexistent-memdiag-root")); return err },
			[]string{"WithRoot", "/nonexistent-memdiag-root"},
		},
		"root without proc": {
			func() error { _, err := NewCollector(WithRoot(t.TempDir())); return err },
			[]string{"WithRoot", "proc"},
		},
		"unknown finding code": {
			func() error { _, err := NewMonitor(WithTriggers(OnFinding("nope"))); return err },
			[]string{"OnFinding", `"nope"`},
		},
		"nil option": {
			func() error { _, err := NewCollector(nil); return err },
			[]string{"NewCollector", "nil option"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.build()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
	// The Collector's own options still configure a Monitor, and a known code is accepted.
	if _, err := NewCollector(WithMaxThreads(10), WithRoot("/")); err != nil {
		t.Errorf("collector options: %v", err)
	}
	m, err := NewMonitor(WithMaxThreads(10), WithTriggers(OnFinding(FindingCodes()[0])))
	if err != nil {
		t.Fatalf("collector and monitor options to NewMonitor: %v", err)
	}
	m.Close()
}

// TestStartOnEndedContext: Start with a context that has already ended starts nothing and says so,
// instead of returning nil for a Monitor that stops before its first tick.
func TestStartOnEndedContext(t *testing.T) {
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("Start on a cancelled context: %v", err)
	}
	if n := m.Stats().Ticks; n != 0 {
		t.Errorf("%d ticks after a refused Start", n)
	}
	// A later Start with a live context works.
	if err := m.Start(t.Context()); err != nil {
		t.Fatalf("Start after a refused one: %v", err)
	}
}
