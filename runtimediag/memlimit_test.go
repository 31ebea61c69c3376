package runtimediag

import (
	"math"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memdiag/memdiag/procself"
)

// limitSnapshot is a tick's snapshot of a process in a cgroup limited to limit bytes, resident
// bytes in all, goMapped of them the Go runtime's.
func limitSnapshot(limit, resident, goMapped uint64) *Snapshot {
	s := &Snapshot{Requested: Set(SourceCgroupMemory, SourceStatm, SourceRuntimeMetrics)}
	if limit > 0 {
		s.CgroupMemory.Present = procself.CgroupHasLimit
		s.CgroupMemory.Limit = procself.CgroupLimit{Bytes: limit}
	}
	s.Statm.ResidentBytes = resident
	s.Runtime.HeapObjectsBytes = goMapped
	return s
}

func TestAdaptiveLimit(t *testing.T) {
	const mib = 1 << 20
	share := 0.05
	headroom := int64(share * float64(512*mib))
	for _, tc := range []struct {
		name    string
		user    int64 // limit in force at the first tick
		ticks   []*Snapshot
		outside []int64 // a limit set by someone else before tick i (0: none)
		want    []int64 // limit in force after each tick
		logs    int
	}{
		{
			name: "follows the non-Go memory with hysteresis",
			user: math.MaxInt64,
			ticks: []*Snapshot{
				limitSnapshot(512*mib, 300*mib, 100*mib), // 200 MiB non-Go: 512−200−25.6 = 286.4 MiB
				limitSnapshot(512*mib, 305*mib, 100*mib), // 205 MiB: a 5 MiB move, under the 10.24 MiB hysteresis
				limitSnapshot(512*mib, 340*mib, 100*mib), // 240 MiB: applied
			},
			want: []int64{512*mib - 200*mib - headroom, 512*mib - 200*mib - headroom, 512*mib - 240*mib - headroom},
			logs: 2,
		},
		{
			name:  "floor",
			user:  math.MaxInt64,
			ticks: []*Snapshot{limitSnapshot(512*mib, 500*mib, 50*mib)}, // 450 MiB non-Go
			want:  []int64{128 * mib},
			logs:  1,
		},
		{
			name:  "never above the user's GOMEMLIMIT",
			user:  200 * mib,
			ticks: []*Snapshot{limitSnapshot(512*mib, 150*mib, 100*mib)},
			want:  []int64{200 * mib},
			logs:  0,
		},
		{
			name:  "off outside a limited cgroup",
			user:  math.MaxInt64,
			ticks: []*Snapshot{limitSnapshot(0, 300*mib, 100*mib)},
			want:  []int64{math.MaxInt64},
		},
		{
			name:    "a limit set by someone else becomes the ceiling",
			user:    math.MaxInt64,
			ticks:   []*Snapshot{limitSnapshot(512*mib, 300*mib, 100*mib), limitSnapshot(512*mib, 300*mib, 100*mib)},
			outside: []int64{0, 100 * mib},
			want:    []int64{512*mib - 200*mib - headroom, 100 * mib},
			logs:    2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inForce := tc.user
			core, logs := observer.New(zapcore.InfoLevel)
			cfg := MemoryLimit{HeadroomShare: 0.05, FloorShare: 0.25, HysteresisShare: 0.02}
			a := newAdaptiveLimit(&cfg, zap.New(core))
			a.set = func(v int64) int64 {
				old := inForce
				if v >= 0 {
					inForce = v
				}
				return old
			}
			for i, s := range tc.ticks {
				if i < len(tc.outside) && tc.outside[i] != 0 {
					inForce = tc.outside[i]
				}
				a.update(s)
				if inForce != tc.want[i] {
					t.Errorf("tick %d: limit %d MiB, want %d MiB", i, inForce>>20, tc.want[i]>>20)
				}
			}
			if logs.Len() != tc.logs {
				t.Errorf("%d log lines, want %d: %v", logs.Len(), tc.logs, logs.All())
			}
			for _, e := range logs.All() {
				if e.Message != LogMessageMemoryLimit || e.ContextMap()["change"] == nil || e.ContextMap()["limit_bytes"] == nil {
					t.Errorf("log line %q %v: want %q with change and limit_bytes", e.Message, e.ContextMap(), LogMessageMemoryLimit)
				}
			}
			a.restore()
			if len(tc.outside) == 0 && inForce != tc.user {
				t.Errorf("Close left the limit at %d, want the user's %d", inForce, tc.user)
			}
		})
	}
}

func TestWithMemoryLimitValidates(t *testing.T) {
	if _, err := NewMonitor(WithMemoryLimit(MemoryLimit{HeadroomShare: 1.5})); err == nil {
		t.Error("HeadroomShare 1.5 accepted")
	}
	if _, err := NewMonitor(WithMemoryLimit(MemoryLimit{FloorShare: -0.1})); err == nil {
		t.Error("negative FloorShare accepted")
	}
	m, err := NewMonitor(WithMemoryLimit(MemoryLimit{}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.memLimit == nil || m.memLimit.cfg.HeadroomShare != 0.05 || m.memLimit.cfg.FloorShare != 0.25 || m.memLimit.cfg.HysteresisShare != 0.02 {
		t.Errorf("defaults not applied: %+v", m.memLimit)
	}
}
