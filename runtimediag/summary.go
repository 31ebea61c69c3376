package runtimediag

import (
	"go.uber.org/zap/zapcore"
)

// MarshalLogObject writes the snapshot's headline numbers as one structured zap field, e.g.
// logger.Info("memory", zap.Object("memdiag", snap)). It logs no paths, arguments or environment,
// and names the sources that could not be read with their reason.
func (s *Snapshot) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if s.Has(SourceStatm) {
		enc.AddUint64("resident_bytes", s.Statm.ResidentBytes)
	}
	if s.Has(SourceRuntimeMetrics) || s.Requested.Has(SourceRuntimeMetrics) {
		r := &s.Runtime
		enc.AddUint64("go_total_bytes", r.TotalBytes)
		enc.AddUint64("heap_objects_bytes", r.HeapObjectsBytes)
		enc.AddUint64("heap_live_bytes", r.HeapLiveBytes)
		enc.AddUint64("heap_goal_bytes", r.HeapGoalBytes)
		enc.AddUint64("heap_released_bytes", r.HeapReleasedBytes)
		enc.AddUint64("goroutines", r.Goroutines)
		enc.AddUint64("threads", r.Threads)
		enc.AddUint64("gc_cycles", r.GCCyclesTotal)
	}
	if s.Has(SourceGCPauses) && len(s.GCPauses.Recent) > 0 {
		enc.AddDuration("last_gc_pause", s.GCPauses.Recent[0].Duration)
	}
	if s.Has(SourceCgroupMemory) {
		cg := &s.CgroupMemory
		enc.AddUint64("cgroup_usage_bytes", cg.UsageBytes)
		if !cg.EffectiveLimit.Unlimited {
			enc.AddUint64("cgroup_limit_bytes", cg.EffectiveLimit.Bytes)
		}
	}
	enc.AddDuration("read_duration", s.Duration)
	for src := Source(0); src < numSources; src++ {
		if s.Requested.Has(src) && s.sources[src].err != nil {
			enc.AddString("unavailable."+src.String(), reason(s.sources[src].err))
		}
	}
	return nil
}
