package runtimediag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/trace"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestManualCapture: a capture holds a heap and a goroutine profile that pprof reads, and a full
// report; the goroutine profile, which stops the world, is counted.
func TestManualCapture(t *testing.T) {
	m := newTestMonitor(t)
	info, err := m.Capture(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if info.ID == 0 || info.Trigger != TriggerManual || info.Reason != "test" || info.Report == nil {
		t.Errorf("capture = %+v", info)
	}
	if len(info.Notes) > 0 {
		t.Errorf("notes: %v", info.Notes)
	}
	for _, part := range []string{CapturePartHeap, CapturePartGoroutine} {
		var buf bytes.Buffer
		if err := m.WriteCapture(&buf, info.ID, part); err != nil {
			t.Fatalf("%s: %v", part, err)
		}
		p, err := profile.Parse(&buf)
		if err != nil {
			t.Fatalf("%s is not a profile: %v", part, err)
		}
		if len(p.Sample) == 0 && part == CapturePartGoroutine {
			t.Errorf("%s profile has no samples", part)
		}
	}
	if err := m.WriteCapture(&bytes.Buffer{}, info.ID, CapturePartTrace); !errors.Is(err, ErrCaptureNotFound) {
		t.Errorf("trace part without a flight recorder: %v", err)
	}
	if got := m.Captures(); len(got) != 1 || got[0].ID != info.ID || got[0].Bytes != info.Bytes {
		t.Errorf("Captures() = %+v", got)
	}
	if n := m.Stats().GoroutineProfiles; n != 1 {
		t.Errorf("%d goroutine profiles counted, want 1", n)
	}
	m.Close()
	if _, err := m.Capture(context.Background(), ""); !errors.Is(err, ErrClosed) {
		t.Errorf("Capture after Close = %v", err)
	}
}

// TestCaptureStorageBounded: past the count or the byte bound the oldest captures go; a capture
// too large on its own loses its largest parts, the trace first.
func TestCaptureStorageBounded(t *testing.T) {
	s := newCaptureStore(3, 1000)
	add := func(sizes map[string]int) {
		c := &capture{data: map[string][]byte{}}
		for name, n := range sizes {
			c.data[name] = make([]byte, n)
			c.info.Parts = append(c.info.Parts, CapturePart{Name: name, Bytes: n})
			c.info.Bytes += int64(n)
		}
		s.add(c)
	}
	for range 5 {
		add(map[string]int{CapturePartHeap: 100})
	}
	if l := s.list(); len(l) != 3 || l[0].ID != 3 || l[2].ID != 5 {
		t.Fatalf("count bound: %+v", l)
	}
	if err := s.write(&bytes.Buffer{}, 1, CapturePartHeap); !errors.Is(err, ErrCaptureNotFound) {
		t.Errorf("evicted capture: %v", err)
	}
	add(map[string]int{CapturePartHeap: 700})
	if l := s.list(); len(l) != 3 || s.bytes != 900 {
		t.Fatalf("byte bound: %d captures, %d bytes", len(l), s.bytes)
	}
	add(map[string]int{CapturePartTrace: 900, CapturePartHeap: 200})
	l := s.list()
	last := l[len(l)-1]
	if last.Bytes != 200 || len(last.Parts) != 1 || last.Parts[0].Name != CapturePartHeap || len(last.Notes) != 1 {
		t.Errorf("oversized capture kept as %+v", last)
	}
	if s.bytes > s.maxBytes || len(l) > s.maxCount {
		t.Errorf("over the bounds: %d bytes, %d captures", s.bytes, len(l))
	}
	if s.evicted == 0 {
		t.Error("no eviction counted")
	}
}

// TestTickTriggersFireOncePerCooldown: crossing a fraction of the limit fires once, not on every
// tick above it; a long GC pause fires, and the cooldown keeps the next one quiet.
func TestTickTriggersFireOncePerCooldown(t *testing.T) {
	// GOMEMLIMIT gives the process a limit to be a fraction of, whatever the machine's cgroup.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(8 << 30))
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond), WithFullInterval(0), WithLogInterval(0),
		WithCaptureCooldown(time.Hour), WithTriggers(OnResidentFraction(1e-6), OnGCPause(time.Nanosecond)))
	if runtime.GOOS != "linux" {
		t.Skip("resident bytes come from /proc/self/statm")
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A GC each time round: the first tick has no previous point, so a pause that ends before it
	// is not this tick's; the ones after are.
	waitFor(t, 10*time.Second, "no resident and pause captures", func() bool {
		runtime.GC()
		return len(m.Captures()) >= 2
	})
	for range 5 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	kinds := map[TriggerKind]int{}
	for _, c := range m.Captures() {
		kinds[c.Trigger]++
		if c.Report == nil {
			t.Errorf("%s capture without a report: %v", c.Trigger, c.Notes)
		}
		t.Logf("%s: %s (%d bytes, %s)", c.Trigger, c.Reason, c.Bytes, c.Duration)
	}
	if kinds[TriggerResident] != 1 || kinds[TriggerGCPause] != 1 {
		t.Errorf("captures by trigger = %v, want one each", kinds)
	}
}

// TestFindingTriggerKeepsItsReport: a finding that appears fires the capture, which keeps the
// report the finding is in.
func TestFindingTriggerKeepsItsReport(t *testing.T) {
	m := newTestMonitor(t, WithTickInterval(time.Second), WithFullInterval(0), WithLogInterval(0),
		WithTriggers(OnFinding("threads_high")))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := &Report{Time: time.Now(), Findings: []Finding{{Code: "gc_cpu_high", Severity: SeverityCritical}}}
	m.afterFull(other)
	rep := &Report{Time: time.Now(), Findings: []Finding{{Code: "threads_high", Severity: SeverityWarning, Headline: "many threads"}}}
	m.afterFull(rep)
	waitFor(t, 10*time.Second, "no capture", func() bool { return len(m.Captures()) == 1 })
	c := m.Captures()[0]
	if c.Trigger != TriggerFinding || c.Report != rep {
		t.Errorf("capture %+v, want the report with threads_high", c)
	}
	if want := "finding threads_high (warning): many threads"; c.Reason != want {
		t.Errorf("reason %q, want %q", c.Reason, want)
	}
}

// TestFlightRecorderCapture: with the flight recorder on, a capture holds a trace window; only
// one recorder runs per process, and Close frees it for the next Monitor.
func TestFlightRecorderCapture(t *testing.T) {
	if trace.IsEnabled() {
		t.Skip("a trace is already running")
	}
	m := newTestMonitor(t, WithFlightRecorder(time.Second, 1<<20))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := newTestMonitor(t, WithFlightRecorder(time.Second, 1<<20))
	if err := second.Start(t.Context()); err == nil {
		t.Error("a second flight recorder started")
	}
	// Something to record.
	for i := range 100 {
		go func() { _ = fmt.Sprint(i) }()
	}
	time.Sleep(50 * time.Millisecond)
	info, err := m.Capture(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.WriteCapture(&buf, info.ID, CapturePartTrace); err != nil || buf.Len() < 1000 {
		t.Fatalf("trace part: %d bytes, %v (notes %v)", buf.Len(), err, info.Notes)
	}
	if !m.Stats().FlightRecorderOn {
		t.Error("Stats says the recorder is off")
	}
	buf.Reset()
	if n, err := m.WriteFlightRecorder(&buf); err != nil || n < 1000 || int(n) != buf.Len() {
		t.Errorf("WriteFlightRecorder: %d bytes (%d in the buffer), %v", n, buf.Len(), err)
	}
	if _, err := second.WriteFlightRecorder(&buf); !errors.Is(err, ErrNoFlightRecorder) {
		t.Errorf("WriteFlightRecorder without a recorder: %v, want ErrNoFlightRecorder", err)
	}
	m.Close()
	if _, err := m.WriteFlightRecorder(&buf); !errors.Is(err, ErrNoFlightRecorder) {
		t.Errorf("WriteFlightRecorder after Close: %v, want ErrNoFlightRecorder", err)
	}
	third := newTestMonitor(t, WithFlightRecorder(time.Second, 1<<20))
	if err := third.Start(t.Context()); err != nil {
		t.Errorf("recorder not freed by Close: %v", err)
	}
	third.Close()
}
