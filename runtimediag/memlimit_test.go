package runtimediag

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memdiag/memdiag/procself"
)

// limitSnapshot is a tick's snapshot of a process in a cgroup limited to limit bytes, resident
// bytes in all, goMapped of them mapped by the Go runtime and not released, all of it heap objects —
// allocated, but not necessarily written, so not necessarily resident.
func limitSnapshot(limit, resident, goMapped uint64) *Snapshot {
	s := &Snapshot{Requested: Set(SourceCgroupMemory, SourceStatm, SourceRuntimeMetrics), Time: time.Unix(1e9, 0)}
	if limit > 0 {
		s.CgroupMemory.Present = procself.CgroupHasLimit
		s.CgroupMemory.Limit = procself.CgroupLimit{Bytes: limit}
	}
	s.Statm.ResidentBytes = resident
	s.Runtime.HeapObjectsBytes = goMapped
	s.Runtime.TotalBytes = goMapped
	return s
}

// classified is a full classification that found nonGo bytes outside Go (classifyErr: none could
// be made).
type classified struct {
	nonGo uint64
	err   error
}

func TestAdaptiveLimit(t *testing.T) {
	const mib = 1 << 20
	share := 0.05
	headroom := int64(share * float64(512*mib))
	for _, tc := range []struct {
		name     string
		user     int64         // limit in force at the first tick
		class    []*classified // the classification before tick i (nil: none new)
		ticks    []*Snapshot
		outside  []int64  // a limit set by someone else before tick i (0: none)
		want     []int64  // limit in force after each tick
		wantFrom []string // non_go_source of the set lines
	}{
		{
			name:  "waits for the first classification",
			user:  math.MaxInt64,
			ticks: []*Snapshot{limitSnapshot(512*mib, 300*mib, 100*mib)},
			want:  []int64{math.MaxInt64},
		},
		{
			// 200 MiB of C heap and 250 MiB of Go heap allocated, 150 MiB of it never written: the
			// resident set is 300 MiB, and resident minus the Go heap says 50 MiB of non-Go
			// memory. The classification's 200 MiB is what counts.
			name:     "the classification, not resident minus Go's memory",
			user:     math.MaxInt64,
			class:    []*classified{{nonGo: 200 * mib}},
			ticks:    []*Snapshot{limitSnapshot(512*mib, 300*mib, 250*mib)},
			want:     []int64{512*mib - 200*mib - headroom},
			wantFrom: []string{nonGoFromClassification},
		},
		{
			name:  "follows the non-Go memory with hysteresis; the lower bound raises the classification",
			user:  math.MaxInt64,
			class: []*classified{{nonGo: 200 * mib}},
			ticks: []*Snapshot{
				limitSnapshot(512*mib, 300*mib, 100*mib), // classified 200 MiB, lower bound 200 MiB
				limitSnapshot(512*mib, 305*mib, 100*mib), // lower bound 205 MiB: a 5 MiB move, under the 10.24 MiB hysteresis
				limitSnapshot(512*mib, 340*mib, 100*mib), // lower bound 240 MiB: applied
			},
			want:     []int64{512*mib - 200*mib - headroom, 512*mib - 200*mib - headroom, 512*mib - 240*mib - headroom},
			wantFrom: []string{nonGoFromClassification, nonGoFromLowerBound},
		},
		{
			name:     "no classification possible: the lower bound alone",
			user:     math.MaxInt64,
			class:    []*classified{{err: errors.New("smaps: permission denied")}},
			ticks:    []*Snapshot{limitSnapshot(512*mib, 300*mib, 250*mib)},
			want:     []int64{512*mib - 50*mib - headroom},
			wantFrom: []string{nonGoFromLowerBoundOnly},
		},
		{
			name:     "floor",
			user:     math.MaxInt64,
			class:    []*classified{{nonGo: 450 * mib}},
			ticks:    []*Snapshot{limitSnapshot(512*mib, 500*mib, 50*mib)},
			want:     []int64{128 * mib},
			wantFrom: []string{nonGoFromClassification},
		},
		{
			name:  "never above the user's GOMEMLIMIT",
			user:  200 * mib,
			class: []*classified{{nonGo: 50 * mib}},
			ticks: []*Snapshot{limitSnapshot(512*mib, 150*mib, 100*mib)},
			want:  []int64{200 * mib},
		},
		{
			name:  "off outside a limited cgroup",
			user:  math.MaxInt64,
			class: []*classified{{nonGo: 200 * mib}},
			ticks: []*Snapshot{limitSnapshot(0, 300*mib, 100*mib)},
			want:  []int64{math.MaxInt64},
		},
		{
			name:     "a limit set by someone else becomes the ceiling",
			user:     math.MaxInt64,
			class:    []*classified{{nonGo: 200 * mib}},
			ticks:    []*Snapshot{limitSnapshot(512*mib, 300*mib, 100*mib), limitSnapshot(512*mib, 300*mib, 100*mib)},
			outside:  []int64{0, 100 * mib},
			want:     []int64{512*mib - 200*mib - headroom, 100 * mib},
			wantFrom: []string{nonGoFromClassification},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inForce := tc.user
			core, logs := observer.New(zapcore.InfoLevel)
			cfg := MemoryLimit{HeadroomShare: 0.05, FloorShare: 0.25, HysteresisShare: 0.02, ClassifyInterval: time.Minute}
			a := newAdaptiveLimit(&cfg, zap.New(core))
			a.set = func(v int64) int64 {
				old := inForce
				if v >= 0 {
					inForce = v
				}
				return old
			}
			for i, s := range tc.ticks {
				if i < len(tc.class) && tc.class[i] != nil {
					c := tc.class[i]
					a.noteClassification(s.Time.Add(-time.Second), &RSS{NonGoBytes: c.nonGo}, c.err)
				}
				if i < len(tc.outside) && tc.outside[i] != 0 {
					inForce = tc.outside[i]
				}
				a.update(s)
				if inForce != tc.want[i] {
					t.Errorf("tick %d: limit %d MiB, want %d MiB", i, inForce>>20, tc.want[i]>>20)
				}
			}
			var from []string
			for _, e := range logs.All() {
				if e.Message != LogMessageMemoryLimit || e.ContextMap()["change"] == nil || e.ContextMap()["limit_bytes"] == nil {
					t.Errorf("log line %q %v: want %q with change and limit_bytes", e.Message, e.ContextMap(), LogMessageMemoryLimit)
				}
				if e.ContextMap()["change"] == "set" {
					f, _ := e.ContextMap()[fieldMemLimitNonGoFrom].(string)
					from = append(from, f)
				}
			}
			if !slices.Equal(from, tc.wantFrom) {
				t.Errorf("set lines' non_go_source %q, want %q (lines: %v)", from, tc.wantFrom, logs.All())
			}
			a.restore()
			if len(tc.outside) == 0 && inForce != tc.user {
				t.Errorf("Close left the limit at %d, want the user's %d", inForce, tc.user)
			}
		})
	}
}

// TestAdaptiveLimitAsksForClassification: the tick asks at once when there is none, once at a
// time, again after ClassifyInterval, and early when the lower bound passes the classification.
func TestAdaptiveLimitAsksForClassification(t *testing.T) {
	const mib = 1 << 20
	cfg := MemoryLimit{HeadroomShare: 0.05, FloorShare: 0.25, HysteresisShare: 0.02, ClassifyInterval: time.Minute}
	a := newAdaptiveLimit(&cfg, zap.NewNop())
	a.set = func(int64) int64 { return math.MaxInt64 }
	t0 := time.Unix(1e9, 0)
	at := func(d time.Duration, resident uint64) *Snapshot {
		s := limitSnapshot(512*mib, resident, 100*mib)
		s.Time = t0.Add(d)
		return s
	}
	steps := []struct {
		s        *Snapshot
		classify *time.Duration // a classification read at t0+this arrives before the tick
		want     bool
	}{
		{s: at(0, 300*mib), want: true},            // none yet
		{s: at(time.Second, 300*mib), want: false}, // asked, not answered
		{s: at(2*time.Second, 300*mib), classify: ptr(time.Second), want: false},
		{s: at(30*time.Second, 300*mib), want: false}, // fresh enough, lower bound 200 MiB = classified
		{s: at(62*time.Second, 300*mib), want: true},  // a minute old
		{s: at(63*time.Second, 300*mib), classify: ptr(62 * time.Second), want: false},
		{s: at(64*time.Second, 360*mib), want: false}, // lower bound 260 MiB, but the classification is 2 s old
		{s: at(73*time.Second, 360*mib), want: true},  // … and now 11 s old: the non-Go memory grew
		{s: at(74*time.Second, 360*mib), want: false}, // asked
	}
	for i, st := range steps {
		if st.classify != nil {
			a.noteClassification(t0.Add(*st.classify), &RSS{NonGoBytes: 200 * mib}, nil)
		}
		if got := a.update(st.s); got != st.want {
			t.Errorf("step %d (t0+%s): asks for a classification %v, want %v", i, st.s.Time.Sub(t0), got, st.want)
		}
	}
	// A classification older than the one held is ignored.
	a.noteClassification(t0, &RSS{NonGoBytes: 1}, nil)
	if c := a.classified.Load(); c.bytes != 200*mib {
		t.Errorf("an older classification replaced a newer one: %d bytes", c.bytes)
	}
}

func ptr[T any](v T) *T { return &v }

func TestWithMemoryLimitValidates(t *testing.T) {
	if _, err := NewMonitor(WithMemoryLimit(MemoryLimit{HeadroomShare: 1.5})); err == nil {
		t.Error("HeadroomShare 1.5 accepted")
	}
	if _, err := NewMonitor(WithMemoryLimit(MemoryLimit{FloorShare: -0.1})); err == nil {
		t.Error("negative FloorShare accepted")
	}
	if _, err := NewMonitor(WithMemoryLimit(MemoryLimit{ClassifyInterval: -time.Second})); err == nil {
		t.Error("negative ClassifyInterval accepted")
	}
	m, err := NewMonitor(WithMemoryLimit(MemoryLimit{}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.memLimit == nil || m.memLimit.cfg.HeadroomShare != 0.05 || m.memLimit.cfg.FloorShare != 0.25 || m.memLimit.cfg.HysteresisShare != 0.02 ||
		m.memLimit.cfg.ClassifyInterval != time.Minute {
		t.Errorf("defaults not applied: %+v", m.memLimit)
	}
}
