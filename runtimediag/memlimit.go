package runtimediag

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"

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
	// ClassifyInterval is the longest the non-Go memory goes without a fresh classification of
	// every mapping (a read of /proc/self/smaps, whose cost grows with resident memory:
	// docs/performance.md); default one minute. Any full report in between counts as one.
	ClassifyInterval time.Duration
}

// defaultClassifyInterval is MemoryLimit.ClassifyInterval's default.
const defaultClassifyInterval = time.Minute

// minReclassifyGap is the shortest time between two classifications asked for because the tick's
// lower bound showed the non-Go memory grew past the last one: growth that fast is followed by
// the lower bound meanwhile, and smaps is not read over and over.
const minReclassifyGap = 10 * time.Second

// WithMemoryLimit makes the Monitor set the Go memory limit (debug.SetMemoryLimit) on every tick
// to the container's memory limit minus the measured non-Go resident memory (C heap, thread stacks,
// binary and libraries, file and shared mappings — what GOMEMLIMIT cannot see) minus a headroom;
// opt-in.
//
// The non-Go memory is the sum of the non-Go categories of the last full classification of every
// mapping (smaps; the report's rss.non_go_bytes), raised to the tick's lower bound when that is
// higher: statm's resident set minus all the Go runtime has mapped and not released, which no Go
// memory can hide. The resident set minus a Go figure alone is not an estimate of the non-Go memory:
// heap the program allocated but never wrote (a large buffer filled in part) is counted by the
// runtime and not resident, and the difference then undercounts the C heap by as much. The Monitor
// classifies at its first tick (no limit is set before), every ClassifyInterval, and when the lower
// bound passes the last classification by more than the hysteresis; full reports count too.
//
// The cgroup's limit is read on every tick, so a lowered container limit is followed at the next
// tick. The limit changes only by more than the hysteresis, never goes below the floor, and never
// above a limit in force when the Monitor started (GOMEMLIMIT or an earlier debug.SetMemoryLimit)
// or one set by someone else since; each change is logged. Outside a memory-limited cgroup it does
// nothing. Close restores the limit found at the first tick.
func WithMemoryLimit(o MemoryLimit) Option {
	return monitorOption{"WithMemoryLimit", func(c *config) error {
		if o.ClassifyInterval < 0 {
			return fmt.Errorf("runtimediag: WithMemoryLimit: ClassifyInterval %s is negative", o.ClassifyInterval)
		}
		if o.ClassifyInterval == 0 {
			o.ClassifyInterval = defaultClassifyInterval
		}
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
	fieldMemLimitNonGoFrom = "non_go_source"
	fieldMemLimitCeiling   = "ceiling_bytes"
	fieldMemLimitReason    = "reason"
)

// memLimitLogFields is the line's fields, for the documentation test (logFields).
var memLimitLogFields = []string{fieldMemLimitChange, fieldMemLimitBytes, fieldMemLimitPrevious, fieldMemLimitContainer,
	fieldMemLimitNonGo, fieldMemLimitNonGoFrom, fieldMemLimitCeiling, fieldMemLimitReason}

// Where a set line's non_go_bytes came from.
const (
	nonGoFromClassification = "classification" // the last full classification's non-Go categories
	nonGoFromLowerBound     = "lower_bound"    // the tick's lower bound, above the classification
	nonGoFromLowerBoundOnly = "lower_bound_only"
)

// errNoMemoryLimit is why the adaptive limit does nothing: no memory-limited cgroup in sight.
var errNoMemoryLimit = errors.New("no memory-limited cgroup")

// errNotClassified is why the adaptive limit waits: no classification of the non-Go memory yet.
var errNotClassified = errors.New("no classification of the non-Go memory yet")

// nonGoClassification is the non-Go resident memory a full classification measured, or why none
// could be made (then only the tick's lower bound is known).
type nonGoClassification struct {
	at    time.Time
	bytes uint64 // RSS.NonGoBytes
	err   error
}

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

	// classified is the last classification, stored by whichever goroutine made it (the worker,
	// a full report) and read by the tick.
	classified atomic.Pointer[nonGoClassification]
	asked      time.Time // when the tick last asked for a classification
}

// noteClassification records a full attribution (rss, when err is nil) made from a snapshot read
// at at, or why none could be made. An older one than the last recorded is ignored. Nil-safe;
// safe for concurrent use.
func (a *adaptiveLimit) noteClassification(at time.Time, rss *RSS, err error) {
	if a == nil {
		return
	}
	c := &nonGoClassification{at: at, err: err}
	if err == nil {
		c.bytes = rss.NonGoBytes
	}
	for {
		old := a.classified.Load()
		if old != nil && old.at.After(at) {
			return
		}
		if a.classified.CompareAndSwap(old, c) {
			return
		}
	}
}

// wantsClassification says whether the tick at now should ask for a classification: there is
// none yet, the last is ClassifyInterval old, or the lower bound shows the non-Go memory grew past
// it. One request is outstanding at a time (asked again only after ClassifyInterval if it was
// lost).
func (a *adaptiveLimit) wantsClassification(now time.Time, lower uint64, hysteresis float64) bool {
	c := a.classified.Load()
	pending := !a.asked.IsZero() && (c == nil || a.asked.After(c.at)) && now.Sub(a.asked) < a.cfg.ClassifyInterval
	if pending {
		return false
	}
	switch {
	case c == nil:
	case now.Sub(c.at) >= a.cfg.ClassifyInterval:
	case c.err == nil && float64(lower) > float64(c.bytes)+hysteresis && now.Sub(c.at) >= minReclassifyGap && now.Sub(a.asked) >= minReclassifyGap:
	default:
		return false
	}
	a.asked = now
	return true
}

func newAdaptiveLimit(cfg *MemoryLimit, log *zap.Logger) *adaptiveLimit {
	if cfg == nil {
		return nil
	}
	return &adaptiveLimit{cfg: *cfg, log: log, set: debug.SetMemoryLimit}
}

// update re-evaluates the limit from the tick's snapshot, and says whether the tick should ask
// for a classification of the non-Go memory. Nil-safe; allocates nothing when the limit does not
// change.
func (a *adaptiveLimit) update(s *Snapshot) (classify bool) {
	if a == nil {
		return false
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
	target, nonGo, from, err := a.target(s)
	if lim, ok := cgroupLimit(&s.CgroupMemory); ok && s.Has(SourceStatm) && s.Has(SourceRuntimeMetrics) {
		classify = a.wantsClassification(s.Time, nonGoLowerBound(s), a.cfg.HysteresisShare*float64(lim))
	}
	if errors.Is(err, errNotClassified) {
		return classify
	}
	if err != nil {
		if a.current != 0 {
			// No limited cgroup any more (or unreadable): give back the user's limit.
			a.set(a.ceiling)
			a.log.Info(LogMessageMemoryLimit, zap.String(fieldMemLimitChange, "restored"), zap.Int64(fieldMemLimitBytes, a.ceiling),
				zap.Int64(fieldMemLimitPrevious, a.current), zap.String(fieldMemLimitReason, err.Error()))
			a.current = 0
		}
		return classify
	}
	prev := inForce
	if a.current != 0 {
		prev = a.current
	}
	lim, _ := cgroupLimit(&s.CgroupMemory)
	if a.current != 0 && math.Abs(float64(target-prev)) <= a.cfg.HysteresisShare*float64(lim) {
		return classify
	}
	if target == inForce {
		return classify
	}
	a.set(target)
	a.current = target
	a.log.Info(LogMessageMemoryLimit, zap.String(fieldMemLimitChange, "set"), zap.Int64(fieldMemLimitBytes, target),
		zap.Int64(fieldMemLimitPrevious, prev), zap.Uint64(fieldMemLimitContainer, lim), zap.Uint64(fieldMemLimitNonGo, nonGo),
		zap.String(fieldMemLimitNonGoFrom, from), zap.Int64(fieldMemLimitCeiling, a.ceiling))
	return classify
}

// target is the limit for snapshot s: the container limit minus the non-Go resident memory minus
// the headroom, at least the floor, at most the ceiling. from says where the non-Go figure came
// from. The error wraps errNotClassified before the first classification.
func (a *adaptiveLimit) target(s *Snapshot) (limit int64, nonGo uint64, from string, err error) {
	if !s.Has(SourceCgroupMemory) || !s.Has(SourceStatm) || !s.Has(SourceRuntimeMetrics) {
		return 0, 0, "", fmt.Errorf("%w: the cgroup, statm or runtime/metrics was not read", errNoMemoryLimit)
	}
	lim, ok := cgroupLimit(&s.CgroupMemory)
	if !ok || lim > math.MaxInt64 {
		return 0, 0, "", errNoMemoryLimit
	}
	c := a.classified.Load()
	if c == nil {
		return 0, 0, "", errNotClassified
	}
	nonGo, from = nonGoLowerBound(s), nonGoFromLowerBoundOnly
	if c.err == nil {
		if c.bytes >= nonGo {
			nonGo, from = c.bytes, nonGoFromClassification
		} else {
			from = nonGoFromLowerBound
		}
	}
	floor := int64(a.cfg.FloorShare * float64(lim))
	t, ok := gcmodel.AdaptiveLimit(lim, nonGo, a.cfg.HeadroomShare)
	if !ok || t < floor {
		t = floor
	}
	return min(t, a.ceiling), nonGo, from, nil
}

// nonGoLowerBound is the non-Go resident memory the tick can prove: the resident set minus all the
// Go runtime has mapped and not released (governedBytes), which bounds what of Go's is resident.
// It undercounts by the Go memory mapped but not resident — heap allocated and never written, free
// spans never touched — which can be hundreds of MiB: it only ever raises the classification.
func nonGoLowerBound(s *Snapshot) uint64 {
	return sat(s.Statm.ResidentBytes, governedBytes(&s.Runtime))
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
