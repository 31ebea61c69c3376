package runtimediag

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// A figure that was not read is null in JSON, never a 0 that looks measured. The Go values keep
// the documented zero (a resident set, a cgroup's usage, a descriptor count are never 0 when
// read), and the methods below write null for it; decoding a null leaves the zero, so a report
// read back says the same.

// nullIfZero is v as a JSON value: null when v is 0.
func nullIfZero[T uint64 | int64 | float64](v T) *T {
	if v == 0 {
		return nil
	}
	return &v
}

// appendJSONFloat appends f as encoding/json writes a float64 (finite values only).
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// MarshalJSON writes as null the figures whose source was not read: resident_bytes,
// cgroup_usage_bytes, open_fds, and open_fds_limit (also null when there is no limit).
func (e Efficiency) MarshalJSON() ([]byte, error) {
	type plain Efficiency
	return json.Marshal(struct {
		plain
		ResidentBytes    *uint64 `json:"resident_bytes"`
		CgroupUsageBytes *uint64 `json:"cgroup_usage_bytes"`
		OpenFDs          *uint64 `json:"open_fds"`
		OpenFDsLimit     *uint64 `json:"open_fds_limit"`
	}{
		plain:            plain(e),
		ResidentBytes:    nullIfZero(e.ResidentBytes),
		CgroupUsageBytes: nullIfZero(e.CgroupUsageBytes),
		OpenFDs:          nullIfZero(e.OpenFDs),
		OpenFDsLimit:     nullIfZero(e.OpenFDsLimit),
	})
}

// gcPauseJSON is a GCPause as JSON: snake_case keys, the duration in seconds.
type gcPauseJSON struct {
	End             time.Time `json:"end"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// MarshalJSON writes {"end": time, "duration_seconds": seconds}, appending: a report lists up to
// sixteen pauses.
func (p GCPause) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 80)
	b = append(b, `{"end":"`...)
	b = p.End.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_seconds":`...)
	b = appendJSONFloat(b, p.Duration.Seconds())
	return append(b, '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *GCPause) UnmarshalJSON(b []byte) error {
	var v gcPauseJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.End, p.Duration = v.End, time.Duration(math.Round(v.DurationSeconds*float64(time.Second)))
	return nil
}

// pointPlain is Point without its JSON methods: pointJSON writes and reads its plain fields.
type pointPlain Point

// pointJSON is a Point as JSON: its plain fields, and the figures that are null when unread or
// spelled apart from the Go field (MarshalJSON and UnmarshalJSON share it).
type pointJSON struct {
	*pointPlain
	ResidentBytes    *uint64 `json:"resident_bytes"`
	LimitBytes       *uint64 `json:"limit_bytes"`
	CgroupUsageBytes *uint64 `json:"cgroup_usage_bytes"`
	rssJSON
	CPUUser             float64          `json:"cpu_user_seconds_total"`
	CPUGCMarkAssist     float64          `json:"cpu_gc_mark_assist_seconds_total"`
	CPUGCMarkBackground float64          `json:"cpu_gc_mark_background_seconds_total"`
	CPUGCPause          float64          `json:"cpu_gc_pause_seconds_total"`
	CPUScavenge         float64          `json:"cpu_scavenge_seconds_total"`
	CPUIdle             float64          `json:"cpu_idle_seconds_total"`
	SchedP50            *float64         `json:"sched_latency_p50_seconds"`
	SchedP99            *float64         `json:"sched_latency_p99_seconds"`
	SchedMax            *float64         `json:"sched_latency_max_seconds"`
	LiveObjects         []uint64         `json:"live_objects_by_size_count"`
	GCPauses            []pointPauseJSON `json:"gc_pauses"`
	pointRuntimeJSON
}

// MarshalJSON writes resident_bytes and cgroup_usage_bytes as null when unread, limit_bytes as
// null when there is no limit, and each figure of the plots (RSS categories, scheduler latency,
// live objects by size) as null when it was not measured.
func (p Point) MarshalJSON() ([]byte, error) {
	v := pointJSON{
		pointPlain:       (*pointPlain)(&p),
		ResidentBytes:    nullIfZero(p.ResidentBytes),
		LimitBytes:       nullIfZero(p.LimitBytes),
		CgroupUsageBytes: nullIfZero(p.CgroupUsageBytes),
		CPUUser:          p.CPU.User, CPUGCMarkAssist: p.CPU.GCMarkAssist, CPUGCMarkBackground: p.CPU.GCMarkBackground,
		CPUGCPause: p.CPU.GCPause, CPUScavenge: p.CPU.Scavenge, CPUIdle: p.CPU.Idle,
		GCPauses: make([]pointPauseJSON, 0, maxPointPauses),
	}
	c := &p.RSSCategoryBytes
	v.rssJSON = rssJSON{&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7], &c[8], &c[9], &c[10], &c[11], &c[12]}
	if !p.RSSEstimated {
		v.rssJSON = rssJSON{}
	} else if !p.RSSClassified {
		r := &v.rssJSON
		r.ThreadStacks, r.CHeap, r.Binary, r.SharedLibraries, r.FileMappings, r.SharedMemory, r.OtherAnonymous, r.Kernel = nil, nil, nil, nil, nil, nil, nil, nil
	}
	if p.SchedLatencyRead {
		v.SchedP50, v.SchedP99, v.SchedMax = &p.SchedLatency.P50, &p.SchedLatency.P99, &p.SchedLatency.Max
	}
	if p.LiveObjectsRead {
		v.LiveObjects = p.LiveObjectsBySize[:]
	}
	v.pointRuntimeJSON = p.runtimeJSON()
	for _, pp := range p.Pauses() {
		v.GCPauses = append(v.GCPauses, pointPauseJSON{End: time.Unix(0, pp.EndUnixNano).UTC(), Seconds: time.Duration(pp.DurationNanos).Seconds()})
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes; a figure that is null or absent stays unmeasured.
func (p *Point) UnmarshalJSON(b []byte) error {
	var v pointJSON
	*p = Point{}
	v.pointPlain = (*pointPlain)(p)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	deref := func(u *uint64) uint64 {
		if u == nil {
			return 0
		}
		return *u
	}
	p.ResidentBytes, p.LimitBytes, p.CgroupUsageBytes = deref(v.ResidentBytes), deref(v.LimitBytes), deref(v.CgroupUsageBytes)
	cats := v.rssJSON.fields()
	p.RSSEstimated, p.RSSClassified = cats[0] != nil, cats[5] != nil
	for i, c := range cats {
		p.RSSCategoryBytes[i] = deref(c)
	}
	p.CPU = PointCPU{User: v.CPUUser, GCMarkAssist: v.CPUGCMarkAssist, GCMarkBackground: v.CPUGCMarkBackground,
		GCPause: v.CPUGCPause, Scavenge: v.CPUScavenge, Idle: v.CPUIdle}
	if v.SchedP50 != nil && v.SchedP99 != nil && v.SchedMax != nil {
		p.SchedLatency, p.SchedLatencyRead = PointQuantiles{P50: *v.SchedP50, P99: *v.SchedP99, Max: *v.SchedMax}, true
	}
	if len(v.LiveObjects) == len(p.LiveObjectsBySize) {
		copy(p.LiveObjectsBySize[:], v.LiveObjects)
		p.LiveObjectsRead = true
	}
	p.setRuntimeJSON(&v.pointRuntimeJSON)
	for _, pp := range v.GCPauses[:min(len(v.GCPauses), maxPointPauses)] {
		p.GCPauses[p.pausesKept] = PointPause{EndUnixNano: pp.End.UnixNano(), DurationNanos: int64(math.Round(pp.Seconds * 1e9))}
		p.pausesKept++
	}
	return nil
}

// pointRuntimeJSON is a Point's runtime figures that may be unread (null), and its custom
// series' values.
type pointRuntimeJSON struct {
	MutexWait    *float64   `json:"mutex_wait_seconds_total"`
	CgoCalls     *uint64    `json:"cgo_calls_total"`
	ScanHeap     *uint64    `json:"gc_scan_heap_bytes"`
	ScanStack    *uint64    `json:"gc_scan_stack_bytes"`
	ScanGlobals  *uint64    `json:"gc_scan_globals_bytes"`
	StackStart   *uint64    `json:"stack_starting_size_bytes"`
	CustomValues []*float64 `json:"custom_series_values"` // up to the last series read; null for one unread
}

func (p *Point) runtimeJSON() pointRuntimeJSON {
	var r pointRuntimeJSON
	if p.MutexWaitRead {
		r.MutexWait = &p.MutexWaitSecondsTotal
	}
	if p.CgoCallsRead {
		r.CgoCalls = &p.CgoCallsTotal
	}
	if p.GCScanRead {
		r.ScanHeap, r.ScanStack, r.ScanGlobals = &p.GCScanHeapBytes, &p.GCScanStackBytes, &p.GCScanGlobalsBytes
	}
	if p.StackStartingRead {
		r.StackStart = &p.StackStartingBytes
	}
	n := 0
	for i := range MaxCustomSeries {
		if p.CustomRead&(1<<i) != 0 {
			n = i + 1
		}
	}
	r.CustomValues = make([]*float64, n)
	for i := range n {
		if p.CustomRead&(1<<i) != 0 {
			r.CustomValues[i] = &p.Custom[i]
		}
	}
	return r
}

func (p *Point) setRuntimeJSON(r *pointRuntimeJSON) {
	if r.MutexWait != nil {
		p.MutexWaitSecondsTotal, p.MutexWaitRead = *r.MutexWait, true
	}
	if r.CgoCalls != nil {
		p.CgoCallsTotal, p.CgoCallsRead = *r.CgoCalls, true
	}
	if r.ScanHeap != nil && r.ScanStack != nil && r.ScanGlobals != nil {
		p.GCScanHeapBytes, p.GCScanStackBytes, p.GCScanGlobalsBytes, p.GCScanRead = *r.ScanHeap, *r.ScanStack, *r.ScanGlobals, true
	}
	if r.StackStart != nil {
		p.StackStartingBytes, p.StackStartingRead = *r.StackStart, true
	}
	for i, v := range r.CustomValues[:min(len(r.CustomValues), MaxCustomSeries)] {
		if v != nil {
			p.Custom[i] = *v
			p.CustomRead |= 1 << i
		}
	}
}

func (r *rssJSON) fields() [rssattr.NumCategories]*uint64 {
	return [...]*uint64{r.GoHeapObjects, r.GoHeapUnused, r.GoHeapFree, r.GoStacks, r.GoRuntime, r.ThreadStacks, r.CHeap,
		r.Binary, r.SharedLibraries, r.FileMappings, r.SharedMemory, r.OtherAnonymous, r.Kernel}
}

// rssJSON is a Point's RSS categories in JSON, in the order of rssattr.CategoryNames(); a category not
// estimated is null.
type rssJSON struct {
	GoHeapObjects   *uint64 `json:"rss_go_heap_objects_bytes"`
	GoHeapUnused    *uint64 `json:"rss_go_heap_unused_bytes"`
	GoHeapFree      *uint64 `json:"rss_go_heap_free_bytes"`
	GoStacks        *uint64 `json:"rss_go_stacks_bytes"`
	GoRuntime       *uint64 `json:"rss_go_runtime_bytes"`
	ThreadStacks    *uint64 `json:"rss_thread_stacks_bytes"`
	CHeap           *uint64 `json:"rss_c_heap_bytes"`
	Binary          *uint64 `json:"rss_binary_bytes"`
	SharedLibraries *uint64 `json:"rss_shared_libraries_bytes"`
	FileMappings    *uint64 `json:"rss_file_mappings_bytes"`
	SharedMemory    *uint64 `json:"rss_shared_memory_bytes"`
	OtherAnonymous  *uint64 `json:"rss_other_anonymous_bytes"`
	Kernel          *uint64 `json:"rss_kernel_bytes"`
}

// pointPauseJSON is a PointPause in JSON: {"end": time, "duration_seconds": seconds}.
type pointPauseJSON struct {
	End     time.Time `json:"end"`
	Seconds float64   `json:"duration_seconds"`
}

// MarshalJSON writes Duration in seconds.
func (c CaptureInfo) MarshalJSON() ([]byte, error) {
	type plain CaptureInfo
	return json.Marshal(struct {
		plain
		DurationSeconds float64 `json:"duration_seconds"`
	}{plain(c), c.Duration.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CaptureInfo) UnmarshalJSON(b []byte) error {
	type plain CaptureInfo
	v := struct {
		*plain
		DurationSeconds float64 `json:"duration_seconds"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c.Duration = time.Duration(math.Round(v.DurationSeconds * float64(time.Second)))
	return nil
}
