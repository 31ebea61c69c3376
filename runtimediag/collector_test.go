package runtimediag

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/procself"
)

// otherSTWPauses is the number of stop-the-world pauses for reasons other than the GC so far.
func otherSTWPauses(t *testing.T) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		t.Skip("this Go version has no /sched/pauses/total/other:seconds")
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return n
}

// TestCheapSnapshotDoesNotStopTheWorld is the proof behind "no stop-the-world on periodic paths":
// 1,000 cheap snapshots add (almost) no non-GC stop-the-world pauses, while 1,000 ReadMemStats
// calls, the control, add about 1,000 — so the measurement can see what it claims is absent.
func TestCheapSnapshotDoesNotStopTheWorld(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var snap Snapshot
	c.ReadCheap(&snap)

	before := otherSTWPauses(t)
	for range 1000 {
		c.ReadCheap(&snap)
	}
	ours := otherSTWPauses(t) - before

	before = otherSTWPauses(t)
	var ms runtime.MemStats
	for range 1000 {
		runtime.ReadMemStats(&ms)
	}
	control := otherSTWPauses(t) - before

	t.Logf("non-GC stop-the-world pauses: 1,000 cheap snapshots +%d; 1,000 ReadMemStats +%d", ours, control)
	if ours >= 5 {
		t.Errorf("1,000 cheap snapshots added %d stop-the-world pauses, want < 5", ours)
	}
	if control < 900 {
		t.Errorf("control: 1,000 ReadMemStats added only %d pauses; the measurement cannot see stop-the-world", control)
	}
}

func TestCheapSnapshotAllocatesNothingOnceWarm(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var snap Snapshot
	c.ReadCheap(&snap)
	c.ReadCheap(&snap)
	if allocs := testing.AllocsPerRun(200, func() { c.ReadCheap(&snap) }); allocs != 0 {
		t.Errorf("ReadCheap allocates %.1f times per call once warm, want 0", allocs)
	}
}

func TestCheapSnapshotReadsRuntimeAndProc(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Earlier tests leave garbage in the heap, and heap objects count allocations never written
	// (fresh spans need no zeroing), which are not resident: collect and sweep it so that the
	// resident-versus-heap check below compares live memory.
	runtime.GC()
	s := c.Cheap()
	if s.Requested != CheapSources {
		t.Errorf("Requested = %v, want %v", s.Requested, CheapSources)
	}
	for _, src := range []Source{SourceRuntimeMetrics, SourceGCPauses} {
		if err := s.Err(src); err != nil {
			t.Errorf("%v: %v", src, err)
		}
	}
	r := s.Runtime
	if r.TotalBytes == 0 || r.HeapObjectsBytes == 0 || r.GOMAXPROCS == 0 || r.Goroutines == 0 {
		t.Errorf("runtime metrics look unread: %+v", r)
	}
	classes := r.HeapObjectsBytes + r.HeapUnusedBytes + r.HeapFreeBytes + r.HeapReleasedBytes +
		r.HeapStacksBytes + r.GoRuntimeBytes()
	if classes != r.TotalBytes {
		t.Errorf("memory classes sum to %d, /memory/classes/total says %d", classes, r.TotalBytes)
	}
	if r.PausesTotalGC.Buckets == nil || r.PausesStoppingGC.Buckets == nil {
		t.Error("pause histograms missing")
	}
	for _, src := range []Source{SourceStatus, SourceSmaps, SourceThreads} {
		if s.Requested.Has(src) || s.Cost(src) != 0 {
			t.Errorf("cheap snapshot read %v", src)
		}
	}
	if runtime.GOOS != "linux" {
		if !errors.Is(s.Err(SourceStatm), errors.ErrUnsupported) {
			t.Errorf("statm off Linux: got %v, want ErrUnsupported", s.Err(SourceStatm))
		}
		return
	}
	if err := s.Err(SourceStatm); err != nil {
		t.Fatalf("statm: %v", err)
	}
	if s.Statm.ResidentBytes < r.HeapObjectsBytes/2 {
		t.Errorf("resident %d bytes is implausibly small next to %d bytes of heap objects", s.Statm.ResidentBytes, r.HeapObjectsBytes)
	}
}

func TestGCPauseHistory(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	runtime.GC()
	runtime.GC()
	s := c.Cheap()
	h := s.GCPauses
	if h.NumGC < 2 || len(h.Recent) == 0 || h.LastGC.IsZero() {
		t.Fatalf("pause history after two GCs: %+v", h)
	}
	if !h.Recent[0].End.Equal(h.LastGC) {
		t.Errorf("newest pause ends at %v, last GC at %v", h.Recent[0].End, h.LastGC)
	}
	for i := 1; i < len(h.Recent); i++ {
		if h.Recent[i].End.After(h.Recent[i-1].End) {
			t.Fatalf("pauses not newest first at %d", i)
		}
	}
	if uint64(h.NumGC) != s.Runtime.GCCyclesTotal {
		t.Errorf("ReadGCStats says %d GCs, runtime/metrics %d", h.NumGC, s.Runtime.GCCyclesTotal)
	}
}

// TestMissingProc points the root at an empty directory: every /proc and cgroup source says why it
// is missing, and the runtime sources are still read.
func TestMissingProc(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := NewCollector(WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Full(context.Background())
	if err := s.Err(SourceRuntimeMetrics); err != nil || s.Runtime.TotalBytes == 0 {
		t.Errorf("runtime/metrics must not depend on /proc: %v", err)
	}
	for _, src := range FullSources.Sources() {
		if src == SourceRuntimeMetrics || src == SourceGCPauses {
			continue
		}
		err := s.Err(src)
		if src == SourceMaps && err == nil {
			err = s.Err(SourceSmaps)
		}
		if err == nil {
			t.Errorf("%v: read from an empty root without error", src)
			continue
		}
		want := "no such file"
		if runtime.GOOS != "linux" {
			want = "unsupported on this system"
		}
		se := &SourceError{Source: src, Err: err}
		if se.Reason() != want && !(src == SourceCgroupMemory || src == SourceCgroups) {
			t.Errorf("%v: reason %q (%v), want %q", src, se.Reason(), err, want)
		}
		if !strings.Contains(se.Error(), src.String()) {
			t.Errorf("error %q does not name the source", se.Error())
		}
	}
	if got := len(s.Problems()); got < FullSources.Len()-3 {
		t.Errorf("Problems lists %d sources, want every /proc source", got)
	}
}

func TestFullSnapshotCancelled(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := c.Full(ctx)
	for _, src := range FullSources.Sources() {
		if err := s.Err(src); !errors.Is(err, context.Canceled) {
			t.Errorf("%v after cancel: %v, want context.Canceled", src, err)
		}
	}
}

func TestClosedCollector(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	c.ReadCheap(new(Snapshot))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s := c.Cheap()
	if !errors.Is(s.Err(SourceStatm), ErrClosed) {
		t.Errorf("read after Close: %v, want ErrClosed", s.Err(SourceStatm))
	}
}

func TestOptionsValidated(t *testing.T) {
	for name, opt := range map[string]Option{
		"empty root":          WithRoot(""),
		"nil logger":          WithLogger(nil),
		"bad env key":         WithEnvAllowlist("A=B"),
		"env wildcard only":   WithEnvAllowlist("*"),
		"zero threads":        WithMaxThreads(0),
		"negative fd targets": WithMaxFDTargets(-1),
		"unknown sources":     WithFullSources(1 << 31),
		"nil option":          nil,
	} {
		if _, err := NewCollector(opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestReasons(t *testing.T) {
	for err, want := range map[error]string{
		fs.ErrPermission:          "permission denied",
		fs.ErrNotExist:            "no such file",
		errors.ErrUnsupported:     "unsupported on this system",
		context.Canceled:          "canceled",
		errors.New("other thing"): "failed",
	} {
		if got := reason(err); got != want {
			t.Errorf("reason(%v) = %q, want %q", err, got, want)
		}
	}
}

// TestPartialSources reads procself's garbled fixture, whose statm, status, stat, limits and
// smaps_rollup each have one malformed value: each source keeps every other field, Unread names
// the bad one, Has stays false (a zero must not be taken for a reading) and HasAny true.
func TestPartialSources(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fixture roots are read through /proc readers")
	}
	c, err := NewCollector(WithRoot("../procself/testdata/proc-garbled"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := new(Snapshot)
	c.Read(context.Background(), s, Set(SourceStatm, SourceStatus, SourceStat, SourceLimits, SourceSmapsRollup))
	for _, tc := range []struct {
		src    Source
		field  string
		reader func() bool // a field beside the unread one holds its reading
	}{
		{SourceStatm, "shared", func() bool { return s.Statm.ResidentBytes == 8819*4096 && s.Statm.SharedBytes == 0 }},
		{SourceStatus, "VmRSS", func() bool { return s.Status.RssAnonBytes == 33732<<10 && s.Status.VmRSSBytes == 0 }},
		{SourceStat, "minflt", func() bool { return s.Stat.PID == 7974 && s.Stat.MinorFaults == 0 }},
		{SourceLimits, "Max open files", func() bool { return s.Limits.StackSize.Soft == 8388608 && s.Limits.OpenFiles == procself.Limit{} }},
		{SourceSmapsRollup, "Anonymous", func() bool { return s.SmapsRollup.RssBytes == 35276<<10 && s.SmapsRollup.AnonymousBytes == 0 }},
	} {
		t.Run(tc.src.String(), func(t *testing.T) {
			fe := s.Unread(tc.src)
			if fe == nil || !fe.Has(tc.field) || len(fe.Errs) != 1 {
				t.Fatalf("Unread = %v, want %q", fe, tc.field)
			}
			if s.Has(tc.src) || !s.HasAny(tc.src) {
				t.Errorf("Has = %v, HasAny = %v; want false, true", s.Has(tc.src), s.HasAny(tc.src))
			}
			if se := (&SourceError{Source: tc.src, Err: s.Err(tc.src)}); se.Reason() != "fields unread" {
				t.Errorf("reason %q, want fields unread", se.Reason())
			}
			if os.Getpagesize() == 4096 && !tc.reader() {
				t.Errorf("the rest of the source was not kept")
			}
		})
	}
}

// TestCheapCarriesCgroupStat: the cheap tier reads cgroup usage every time and memory.stat every
// cgroupStatEveryTicks-th time; the snapshots between say the figures are carried and how old.
func TestCheapCarriesCgroupStat(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := new(Snapshot)
	c.ReadCheap(s)
	if !s.Has(SourceCgroupMemory) || !s.CgroupMemory.Present.Has(procself.CgroupHasStat) {
		t.Skipf("no readable memory cgroup here: %v", s.Err(SourceCgroupMemory))
	}
	if s.CgroupMemory.Carried {
		t.Fatal("the first cheap read carried memory.stat")
	}
	for i := 1; i < cgroupStatEveryTicks; i++ {
		c.ReadCheap(s)
		cg := &s.CgroupMemory
		if !cg.Carried || cg.CarriedAgeReads != i || cg.CarriedAge <= 0 {
			t.Fatalf("read %d: carried %v, %d reads, %v old; want carried, %d reads old", i+1, cg.Carried, cg.CarriedAgeReads, cg.CarriedAge, i)
		}
		if !cg.Present.Has(procself.CgroupHasUsage) || !cg.Present.Has(procself.CgroupHasStat) {
			t.Fatalf("read %d: Present %b", i+1, cg.Present)
		}
		if _, ok := cg.WorkingSetBytes(); ok {
			t.Fatalf("read %d: a working set from a carried inactive_file", i+1)
		}
	}
	c.ReadCheap(s)
	if s.CgroupMemory.Carried {
		t.Errorf("read %d carried memory.stat; want it read every %d", cgroupStatEveryTicks+1, cgroupStatEveryTicks)
	}
	if full := c.Full(context.Background()); full.CgroupMemory.Carried {
		t.Error("the full tier carried memory.stat")
	}
}

// TestHeapRecheckRead: a full snapshot reads the heap's free and released bytes again after
// smaps; one without smaps does not.
func TestHeapRecheckRead(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Full(context.Background())
	if s.MappingsHaveSizes && !s.HeapAfterMappings.Read {
		t.Error("smaps read, heap not read again after it")
	}
	if s := c.Cheap(); s.HeapAfterMappings.Read {
		t.Error("a cheap snapshot has a heap recheck")
	}
}
