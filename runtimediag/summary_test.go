package runtimediag

import (
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestSnapshotMarshalLogObject: zap.Object("memdiag", snap) logs the headline numbers of the
// sources that were read and names each source that could not be, with its reason, rather than
// logging zeros for it.
func TestSnapshotMarshalLogObject(t *testing.T) {
	s := &Snapshot{
		Duration:  3 * time.Millisecond,
		Requested: Set(SourceRuntimeMetrics, SourceStatm, SourceCgroupMemory),
		Runtime: RuntimeMetrics{
			TotalBytes: 40 << 20, HeapObjectsBytes: 12 << 20, HeapLiveBytes: 10 << 20, HeapGoalBytes: 20 << 20,
			HeapReleasedBytes: 1 << 20, Goroutines: 7, Threads: 9, GCCyclesTotal: 42,
		},
	}
	s.Statm.ResidentBytes = 64 << 20
	s.sources[SourceCgroupMemory].err = fmt.Errorf("open memory.current: %w", fs.ErrNotExist)

	core, logs := observer.New(zapcore.InfoLevel)
	zap.New(core).Info("memory", zap.Object("memdiag", s))

	want := map[string]any{
		"memdiag": map[string]any{
			"resident_bytes":            uint64(64 << 20),
			"go_total_bytes":            uint64(40 << 20),
			"heap_objects_bytes":        uint64(12 << 20),
			"heap_live_bytes":           uint64(10 << 20),
			"heap_goal_bytes":           uint64(20 << 20),
			"heap_released_bytes":       uint64(1 << 20),
			"goroutines":                uint64(7),
			"threads":                   uint64(9),
			"gc_cycles":                 uint64(42),
			"read_duration":             3 * time.Millisecond,
			"unavailable.cgroup_memory": "no such file",
		},
	}
	if d := cmp.Diff(want, logs.All()[0].ContextMap()); d != "" {
		t.Errorf("logged snapshot (-want +got):\n%s", d)
	}
}
