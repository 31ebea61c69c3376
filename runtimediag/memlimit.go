package runtimediag

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/memdiag/memdiag/gcmodel"
)

// MemoryLimit configures the adaptive memory limit (WithMemoryLimit). Zero fields take the
// defaults.
type MemoryLimit struct {
	// HeadroomShare of the container limit is left free beyond the measured non-Go memory, for that
	// memory to grow between two ticks (default 0.05).
	HeadroomShare float64
	// FloorShare of the container limit is the lowest limit ever set, so that a burst of non-Go
	// memory does not throttle the GC into the CPU limiter (default 0.25).
	FloorShare float64
	// HysteresisShare of the container limit is the smallest change applied: the limit moves only
	// when the new value differs by more, so it does not follow every tick's noise (default 0.02).
	HysteresisShare float64
}

// WithMemoryLimit makes the Monitor set the Go memory limit (debug.SetMemoryLimit) on every tick
// to the container's memory limit minus the measured non-Go resident memory (C heap, thread stacks,
// mappings — what GOMEMLIMIT cannot see) minus a headroom; opt-in.
//
// The non-Go memory is the tick's cheap estimate: statm's resident set minus the Go memory that is
// surely resident (heap objects and their spans, stacks, metadata in use). The limit changes only by more than the hysteresis, never
// goes below the floor, and never above a limit in force when the Monitor started (GOMEMLIMIT or an
// earlier debug.SetMemoryLimit) or one set by someone else since; each change is logged. Outside a
// memory-limited cgroup it does nothing. Close restores the limit found at the first tick.
func WithMemoryLimit(o MemoryLimit) Option {
	return monitorOption{"WithMemoryLimit", func(c *config) error {
		for _, f := range []struct {
			name string
			v    *float64
			def  float64
		}{{"HeadroomShare", &o.HeadroomShare, gcmodel.DefaultHeadroomShare}, {"FloorShare", &o.FloorShare, 0.25}, {"HysteresisShare", &o.HysteresisShare, 0.02}} {
			if math.IsNaN(*f.v) || *f.v < 0 || *f.v >= 1 {
				return fmt.Errorf("runtimediag: WithMemoryLimit: %s %v is not in [0, 1)", f.name, *f.v)
			}
			if *f.v == 0 {
				*f.v = f.def
			}
		}
		c.monitor.memLimit = &o
		return nil
	}}
}

// LogMessageMemoryLimit is a change of the Go memory limit by WithMemoryLimit (Info).
const LogMessageMemoryLimit = "memdiag memory limit"

// Memory limit line fields.
const (
	fieldMemLimitChange    = "change" // set, restored, ceiling
	fieldMemLimitBytes     = "limit_bytes"
	fieldMemLimitPrevious  = "previous_bytes"
	fieldMemLimitContainer = "container_limit_bytes"
	fieldMemLimitNonGo     = "non_go_bytes"
	fieldMemLimitCeiling   = "ceiling_bytes"
	fieldMemLimitReason    = "reason"
)

// memLimitLogFields is the line's fields, for the documentation test (logFields).
var memLimitLogFields = []string{fieldMemLimitChange, fieldMemLimitBytes, fieldMemLimitPrevious, fieldMemLimitContainer,
	fieldMemLimitNonGo, fieldMemLimitCeiling, fieldMemLimitReason}

// errNoMemoryLimit is why the adaptive limit does nothing: no memory-limited cgroup in sight.
var errNoMemoryLimit = errors.New("no memory-limited cgroup")

// adaptiveLimit is the tick's state for WithMemoryLimit. Only the tick goroutine touches it, and
// Close after the tick has stopped.
type adaptiveLimit struct {
	cfg MemoryLimit
	log *zap.Logger
	set func(int64) int64 // debug.SetMemoryLimit; a fake in tests

	started  bool
	original int64 // the limit in force at the first tick
	ceiling  int64 // never set above: the user's limit, gcmodel.NoLimit when none
	current  int64 // what this Monitor set last; 0 before it set one
}

func newAdaptiveLimit(cfg *MemoryLimit, log *zap.Logger) *adaptiveLimit {
	if cfg == nil {
		return nil
	}
	return &adaptiveLimit{cfg: *cfg, log: log, set: debug.SetMemoryLimit}
}

// update re-evaluates the limit from the tick's snapshot. Nil-safe; allocates nothing when the
// limit does not change.
func (a *adaptiveLimit) update(s *Snapshot) {
	if a == nil {
		return
	}
	inForce := a.set(-1)
	if !a.started {
		a.started, a.original, a.ceiling = true, inForce, inForce
	} else if a.current != 0 && inForce != a.current {
		// Someone else set a limit since: it is the user's, and the new ceiling.
		a.ceiling, a.current = inForce, 0
		a.log.Info(LogMessageMemoryLimit, zap.String(fieldMemLimitChange, "ceiling"), zap.Int64(fieldMemLimitBytes, inForce),
			zap.String(fieldMemLimitReason, "the limit was changed outside memdiag; memdiag never sets it higher"))
	}
	target, nonGo, err := a.target(s)
	if err != nil {
		if a.current != 0 {
			// No limited cgroup any more (or unreadable): give back the user's limit.
			a.set(a.ceiling)
			a.log.Info(LogMessageMemoryLimit, zap.String(fieldMemLimitChange, "restored"), zap.Int64(fieldMemLimitBytes, a.ceiling),
				zap.Int64(fieldMemLimitPrevious, a.current), zap.String(fieldMemLimitReason, err.Error()))
			a.current = 0
		}
		return
	}
	prev := inForce
	if a.current != 0 {
		prev = a.current
	}
	lim, _ := cgroupLimit(&s.CgroupMemory)
	if a.current != 0 && math.Abs(float64(target-prev)) <= a.cfg.HysteresisShare*float64(lim) {
		return
	}
	if target == inForce {
		return
	}
	a.set(target)
	a.current = target
	a.log.Info(LogMessageMemoryLimit, zap.String(fieldMemLimitChange, "set"), zap.Int64(fieldMemLimitBytes, target),
		zap.Int64(fieldMemLimitPrevious, prev), zap.Uint64(fieldMemLimitContainer, lim), zap.Uint64(fieldMemLimitNonGo, nonGo),
		zap.Int64(fieldMemLimitCeiling, a.ceiling))
}

// target is the limit for snapshot s: the container limit minus the non-Go resident memory minus
// the headroom, at least the floor, at most the ceiling.
func (a *adaptiveLimit) target(s *Snapshot) (limit int64, nonGo uint64, err error) {
	if !s.Has(SourceCgroupMemory) || !s.Has(SourceStatm) || !s.Has(SourceRuntimeMetrics) {
		return 0, 0, fmt.Errorf("%w: the cgroup, statm or runtime/metrics was not read", errNoMemoryLimit)
	}
	lim, ok := cgroupLimit(&s.CgroupMemory)
	if !ok || lim > math.MaxInt64 {
		return 0, 0, errNoMemoryLimit
	}
	nonGo = sat(s.Statm.ResidentBytes, goResidentLowerBound(&s.Runtime))
	floor := int64(a.cfg.FloorShare * float64(lim))
	t, ok := gcmodel.AdaptiveLimit(lim, nonGo, a.cfg.HeadroomShare)
	if !ok || t < floor {
		t = floor
	}
	return min(t, a.ceiling), nonGo, nil
}

// goResidentLowerBound is the Go memory that is surely resident: heap objects and the unused
// room in their spans, goroutine and runtime stacks, span and cache metadata in use. Free heap
// spans and reserved metadata can be mapped without ever having been touched, so they are left
// out: the non-Go memory is then overestimated, if anything, and the limit errs low.
func goResidentLowerBound(m *RuntimeMetrics) uint64 {
	return m.HeapObjectsBytes + m.HeapUnusedBytes + m.HeapStacksBytes + m.OSStacksBytes + m.MSpanInuseBytes + m.MCacheInuseBytes
}

// restore gives back the limit found at the first tick, if this Monitor changed it. Nil-safe.
func (a *adaptiveLimit) restore() {
	if a == nil || a.current == 0 {
		return
	}
	if a.set(-1) == a.current {
		a.set(a.original)
	}
	a.current = 0
}
