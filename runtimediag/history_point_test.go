package runtimediag

import (
	"encoding/json"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
	"math"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// TestPointSizeBudget keeps a Point, which the ring holds an hour of, within its budget.
func TestPointSizeBudget(t *testing.T) {
	t.Logf("a Point is %d bytes; an hour of 1 s ticks is %d bytes", pointSize, 3600*pointSize)
	if pointSize > maxPointBytes {
		t.Errorf("a Point is %d bytes, budget %d", pointSize, maxPointBytes)
	}
}

func TestDeltaQuantiles(t *testing.T) {
	buckets := []float64{0, 1, 2, 3, math.Inf(1)}
	prev := Histogram{Counts: []uint64{5, 5, 5, 5}, Buckets: buckets}
	for _, tc := range []struct {
		name string
		cur  []uint64
		want PointQuantiles
		ok   bool
	}{
		{"nothing new", []uint64{5, 5, 5, 5}, PointQuantiles{}, false},
		{"all in one bucket", []uint64{5, 15, 5, 5}, PointQuantiles{P50: 2, P99: 2, Max: 2}, true},
		{"spread", []uint64{104, 5, 5, 6}, PointQuantiles{P50: 1, P99: 1, Max: 3}, true},
		{"tail", []uint64{55, 5, 5, 55}, PointQuantiles{P50: 1, P99: 3, Max: 3}, true}, // unbounded: its lower bound
		{"counts went back", []uint64{4, 5, 5, 5}, PointQuantiles{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := deltaQuantiles(Histogram{Counts: tc.cur, Buckets: buckets}, prev)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := deltaQuantiles(Histogram{}, prev); ok {
		t.Error("an unread histogram gave quantiles")
	}
}

func TestLiveBySize(t *testing.T) {
	// Buckets as the runtime gives them: [lo, hi), the largest size of a bucket hi-1.
	buckets := []float64{math.Inf(-1), 9, 17, 65, 257, 32769, math.Inf(1)}
	allocs := Histogram{Counts: []uint64{10, 20, 30, 40, 50, 60}, Buckets: buckets}
	frees := Histogram{Counts: []uint64{1, 2, 3, 4, 5, 6}, Buckets: buckets}
	var got [len(sizeBands)]uint64
	if !liveBySize(&got, allocs, frees) {
		t.Fatal("not read")
	}
	want := [len(sizeBands)]uint64{9 + 18, 27, 36, 0, 0, 45, 54}
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if liveBySize(&got, Histogram{}, frees) || got != [len(sizeBands)]uint64{} {
		t.Errorf("unread histograms gave %v", got)
	}
}

func TestPointKeepsLongestPauses(t *testing.T) {
	var p Point
	base := time.Unix(1000, 0)
	durs := []time.Duration{5, 1, 9, 3, 7, 2, 8}
	for i, d := range durs {
		p.addPause(GCPause{End: base.Add(time.Duration(i) * time.Second), Duration: d * time.Millisecond})
	}
	var kept []time.Duration
	for _, pp := range p.Pauses() {
		kept = append(kept, time.Duration(pp.DurationNanos)/time.Millisecond)
	}
	if len(kept) != maxPointPauses {
		t.Fatalf("kept %v", kept)
	}
	sum := time.Duration(0)
	for _, d := range kept {
		sum += d
	}
	if sum != 9+8+7+5 {
		t.Errorf("kept %v, want the four longest (9, 8, 7, 5)", kept)
	}
}

// TestPointJSONNulls: a figure the tick did not measure is null, never a 0 that looks measured.
func TestPointJSONNulls(t *testing.T) {
	b, err := json.Marshal(Point{Time: time.Unix(1, 0), RSSEstimated: true, RSSCategoryBytes: [rssattr.NumCategories]uint64{1, 2, 3, 4, 5}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"sched_latency_p99_seconds":null`, `"live_objects_by_size_count":null`, `"gc_pauses":[]`,
		`"mutex_wait_seconds_total":null`, `"cgo_calls_total":null`, `"gc_scan_heap_bytes":null`, `"gc_scan_globals_bytes":null`,
		`"custom_series_values":[]`, `"stack_starting_size_bytes":null`,
		`"rss_go_heap_objects_bytes":1`, `"rss_go_runtime_bytes":5`, `"rss_c_heap_bytes":null`, `"rss_thread_stacks_bytes":null`} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
	p := Point{RSSEstimated: true, RSSClassified: true, SchedLatencyRead: true, LiveObjectsRead: true,
		GCPauseCount: 3, MutexWaitRead: true, CgoCallsRead: true, GCScanRead: true, CustomRead: 0b10, Custom: [MaxCustomSeries]float64{1, 2}}
	p.addPause(GCPause{End: time.Unix(2, 0), Duration: time.Millisecond})
	b, _ = json.Marshal(p)
	s = string(b)
	for _, want := range []string{`"rss_c_heap_bytes":0`, `"sched_latency_p50_seconds":0`, `"live_objects_by_size_count":[0,`,
		`"gc_pauses":[{"end":"1970-01-01T00:00:02Z","duration_seconds":0.001}]`, `"gc_pauses_since_previous_count":3`,
		`"mutex_wait_seconds_total":0`, `"cgo_calls_total":0`, `"gc_scan_stack_bytes":0`, `"custom_series_values":[null,2]`} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
}

// TestPointJSONRoundTrip: UnmarshalJSON reads back what MarshalJSON wrote, nulls included.
func TestPointJSONRoundTrip(t *testing.T) {
	full := Point{Time: time.Unix(5, 0).UTC(), ResidentBytes: 7, RSSEstimated: true, RSSClassified: true, SchedLatencyRead: true,
		LiveObjectsRead: true, GCPauseCount: 9, CPU: PointCPU{User: 1.5, Idle: 2}, SchedLatency: PointQuantiles{P50: 1e-6, P99: 2e-6, Max: 3e-6}}
	for i := range full.RSSCategoryBytes {
		full.RSSCategoryBytes[i] = uint64(i + 1)
	}
	full.LiveObjectsBySize[3] = 11
	full.MutexWaitSecondsTotal, full.MutexWaitRead = 0.25, true
	full.CgoCallsTotal, full.CgoCallsRead = 12, true
	full.StackStartingBytes, full.StackStartingRead = 8192, true
	full.GCScanHeapBytes, full.GCScanStackBytes, full.GCScanGlobalsBytes, full.GCScanRead = 1<<20, 8192, 4096, true
	full.Custom[0], full.Custom[2], full.CustomRead = 1.5, -3, 0b101
	full.addPause(GCPause{End: time.Unix(4, 5).UTC(), Duration: 300 * time.Microsecond})
	for _, p := range []Point{full, {Time: time.Unix(6, 0).UTC()}, {Time: time.Unix(7, 0).UTC(), RSSEstimated: true, RSSCategoryBytes: [rssattr.NumCategories]uint64{1}}} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var got Point
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got != p {
			t.Errorf("round trip of %s gave %+v, want %+v", b, got, p)
		}
	}
}

// TestPointFromRuntimeFigures: the mutex wait, cgo calls and GC scan figures come from the tick's
// runtime/metrics read, and a metric the read did not provide leaves its figure unread.
func TestPointFromRuntimeFigures(t *testing.T) {
	cur := &Snapshot{Time: time.Unix(10, 0)}
	rt := &cur.Runtime
	rt.MutexWaitSeconds, rt.CgoCalls, rt.ScanHeapBytes, rt.ScanStackBytes, rt.ScanGlobalsBytes = 1.5, 7, 100, 20, 3
	rt.StackStartingSize = 4096
	var p Point
	pointFrom(&p, nil, cur)
	if !p.MutexWaitRead || p.MutexWaitSecondsTotal != 1.5 || !p.CgoCallsRead || p.CgoCallsTotal != 7 ||
		!p.GCScanRead || p.GCScanHeapBytes != 100 || p.GCScanStackBytes != 20 || p.GCScanGlobalsBytes != 3 ||
		!p.StackStartingRead || p.StackStartingBytes != 4096 {
		t.Errorf("read figures: %+v", p)
	}
	for _, m := range []int{mMutexWait, mCgoCalls, mScanStack, mStackStart} {
		rt.unread = [len(rt.unread)]uint64{}
		rt.unread[m/64] |= 1 << (m % 64)
		pointFrom(&p, nil, cur)
		got := map[int]bool{mMutexWait: p.MutexWaitRead, mCgoCalls: p.CgoCallsRead, mScanStack: p.GCScanRead, mStackStart: p.StackStartingRead}
		for k, read := range got {
			if read == (k == m) {
				t.Errorf("metric %s unread: %s read is %v", runtimeMetricTable[m].name, runtimeMetricTable[k].name, read)
			}
		}
	}
}

// TestDecodeMarksUnreadMetrics: a sample the runtime did not fill (KindBad) is marked unread.
func TestDecodeMarksUnreadMetrics(t *testing.T) {
	s := newRuntimeSamples()
	metrics.Read(s)
	var m RuntimeMetrics
	decodeRuntimeMetrics(s, &m)
	if !m.metricRead(mMutexWait) || !m.metricRead(mCgoCalls) || !m.metricRead(mSchedLatencies) {
		t.Fatal("a metric this Go version provides reads as unread")
	}
	s[mCgoCalls].Name = "/no/such/metric:calls"
	metrics.Read(s)
	decodeRuntimeMetrics(s, &m)
	if m.metricRead(mCgoCalls) || !m.metricRead(mMutexWait) {
		t.Errorf("unread bits %b", m.unread)
	}
}
