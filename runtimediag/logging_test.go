package runtimediag

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func observedMonitor(t *testing.T, opts ...Option) (*Monitor, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	m := newTestMonitor(t, append([]Option{WithLogger(zap.New(core))}, opts...)...)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m, logs
}

func linesWith(logs *observer.ObservedLogs, msg string) []observer.LoggedEntry {
	return logs.FilterMessage(msg).All()
}

// TestSummaryLineFields: one summary line per interval, with every documented field but the
// drop counter, each of the documented type, and numbers that were read.
func TestSummaryLineFields(t *testing.T) {
	_, logs := observedMonitor(t, WithTickInterval(10*time.Millisecond), WithLogInterval(50*time.Millisecond))
	waitFor(t, 10*time.Second, "fewer than 2 summary lines", func() bool { return len(linesWith(logs, LogMessageSummary)) >= 2 })
	line := linesWith(logs, LogMessageSummary)[1]
	if line.Level != zapcore.InfoLevel {
		t.Errorf("summary at %v, want info", line.Level)
	}
	got := line.ContextMap()
	// Absent when there is nothing to say: no drops, no limit found, no full report yet.
	optional := map[string]bool{fieldLogLinesDropped: true, fieldLimit: true, fieldReportAge: true}
	want := slices.DeleteFunc(slices.Clone(logFields[LogMessageSummary]), func(f string) bool {
		_, logged := got[f]
		return optional[f] && !logged
	})
	if v, ok := got[fieldLimit]; ok && v.(uint64) == 0 {
		t.Errorf("limit_bytes 0: no limit is an absent field")
	}
	if v, ok := got[fieldReportAge]; ok && v.(float64) < 0 {
		t.Errorf("report_age_seconds %v", v)
	}
	var have []string
	for k := range got {
		have = append(have, k)
	}
	sort.Strings(have)
	sort.Strings(want)
	if d := cmp.Diff(want, have); d != "" {
		t.Errorf("summary fields (-documented +logged):\n%s", d)
	}
	if s := got[fieldInterval].(float64); s < 0.03 || s > 1 {
		t.Errorf("interval_seconds = %v for a 50ms interval", s)
	}
	if got[fieldGoTotal].(uint64) == 0 || got[fieldGoroutines].(uint32) == 0 || got[fieldHeapGoal].(uint64) == 0 {
		t.Errorf("unread numbers: %v", got)
	}
	if cats, ok := got[fieldTopCategories].([]any); !ok || len(cats) == 0 {
		t.Errorf("top_categories = %#v", got[fieldTopCategories])
	} else if c := cats[0].(map[string]any); c["name"] == "" || c["bytes"].(uint64) == 0 {
		t.Errorf("top category = %v", c)
	}
	if _, ok := got[fieldFindings].([]any); !ok {
		t.Errorf("findings = %#v, want an array", got[fieldFindings])
	}
}

// TestFindingTransitionsLogged: a finding is logged when it appears (Warn), gets worse (Warn) and
// clears (Info), and not again while it stays as it was.
func TestFindingTransitionsLogged(t *testing.T) {
	m, logs := observedMonitor(t, WithTickInterval(time.Second), WithLogInterval(0), WithFullInterval(0))
	f := func(code string, sev Severity) Finding {
		return Finding{Code: code, Severity: sev, Headline: code + " headline", Advice: "do less", Doc: "docs/findings.md#" + code}
	}
	for _, fs := range [][]Finding{
		{f("gc_cpu_high", SeverityWarning)},
		{f("gc_cpu_high", SeverityWarning)}, // unchanged: nothing
		{f("gc_cpu_high", SeverityWarning)}, // unchanged: nothing
		{f("gc_cpu_high", SeverityCritical), f("threads_high", SeverityInfo)},
		{f("threads_high", SeverityInfo)},
		{},
	} {
		m.afterFull(&Report{Time: time.Now(), Findings: fs})
	}
	type tr struct {
		level             zapcore.Level
		transition, code  string
		severity, prevSev string
	}
	want := []tr{
		{zapcore.WarnLevel, TransitionAppeared, "gc_cpu_high", "warning", ""},
		{zapcore.WarnLevel, TransitionWorse, "gc_cpu_high", "critical", "warning"},
		{zapcore.WarnLevel, TransitionAppeared, "threads_high", "info", ""},
		{zapcore.InfoLevel, TransitionCleared, "gc_cpu_high", "critical", ""},
		{zapcore.InfoLevel, TransitionCleared, "threads_high", "info", ""},
	}
	waitFor(t, 5*time.Second, "missing transition lines", func() bool { return len(linesWith(logs, LogMessageFinding)) >= len(want) })
	time.Sleep(20 * time.Millisecond)
	var got []tr
	for _, e := range linesWith(logs, LogMessageFinding) {
		c := e.ContextMap()
		prev, _ := c[fieldFindingPrevious].(string)
		got = append(got, tr{e.Level, c[fieldTransition].(string), c[fieldFindingCode].(string), c[fieldFindingSeverity].(string), prev})
		for _, k := range []string{fieldFindingHeadline} {
			if c[k] == "" || c[k] == nil {
				t.Errorf("%s line without %s: %v", c[fieldTransition], k, c)
			}
		}
		if c[fieldTransition] != TransitionCleared && (c[fieldFindingAdvice] == nil || c[fieldFindingDoc] == nil) {
			t.Errorf("warning without advice or doc: %v", c)
		}
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(tr{})); d != "" {
		t.Errorf("transitions (-want +got):\n%s", d)
	}
}

// TestLoggingDocMatchesFields: docs/logging.md documents exactly the messages and fields the
// Monitor logs.
func TestLoggingDocMatchesFields(t *testing.T) {
	doc, err := os.ReadFile("../docs/logging.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("^## .*`([^`]+)`$")
	row := regexp.MustCompile("^\\| `([a-z_0-9]+)` \\|")
	documented := map[string][]string{}
	msg := ""
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if m := heading.FindStringSubmatch(line); m != nil {
			msg = m[1]
			documented[msg] = []string{}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && msg != "" {
			documented[msg] = append(documented[msg], m[1])
		}
	}
	if d := cmp.Diff(logFields, documented); d != "" {
		t.Errorf("docs/logging.md and the code differ (-code +doc):\n%s", d)
	}
}

// blockingSink is a log sink that blocks every write until released: a stalled pipe or network.
type blockingSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func (s *blockingSink) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *blockingSink) Sync() error { return nil }

func (s *blockingSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestBlockingSinkNeverBlocksMonitor: with a sink that blocks every write, the tick goes on, lines
// are dropped and counted, Close returns promptly, and the count reaches the sink once it moves.
func TestBlockingSinkNeverBlocksMonitor(t *testing.T) {
	sink := &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), sink, zap.InfoLevel))
	m := newTestMonitor(t, WithLogger(logger), WithTickInterval(10*time.Millisecond), WithLogInterval(10*time.Millisecond))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sink.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never wrote")
	}
	n0 := m.Stats().Ticks
	waitFor(t, 10*time.Second, "no line dropped with the sink blocked", func() bool { return m.Stats().LogLinesDropped > 0 })
	if n := m.Stats().Ticks; n < n0+logQueueSize {
		t.Errorf("only %d ticks while the sink was blocked", n-n0)
	}
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > closeLogWait+500*time.Millisecond {
		t.Errorf("Close took %s with a blocked sink", d)
	}
	t.Logf("Close returned in %s; %d lines dropped", time.Since(start), m.Stats().LogLinesDropped)
	close(sink.release)
	select {
	case <-m.logDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the log writer did not exit once the sink moved")
	}
	if !strings.Contains(sink.String(), `"`+fieldLogLinesDropped+`":`) {
		t.Errorf("no line reported the drops:\n%.2000s", sink.String())
	}
}

// TestSummaryScheduleAfterStall drives the Monitor's deadlines with the tick times of a stalled
// process — 10 ms ticks, a 50 ms log interval, then nothing for 250 ms and ticks again — and
// checks that no two summary lines go out closer than the interval less the tick's slack.
// Deadlines used to be computed from the ticker's send time, which after a stall is the stale
// time of the tick the ticker kept: the next deadline then came due on the very next tick, and
// two lines went out 0–14 ms apart with rates over that.
func TestSummaryScheduleAfterStall(t *testing.T) {
	const tick, every = 10 * time.Millisecond, 50 * time.Millisecond
	m := newTestMonitor(t, WithTickInterval(tick), WithLogInterval(every), WithFullInterval(0))
	m.tick()
	m.logFrom = m.point
	m.resetLogPauses()
	start := m.point.Time
	full := newSchedule(start, 0, tick/2)
	logs := newSchedule(start, every, tick/2)
	windows := newSchedule(start, 0, tick/2)
	var ticks []time.Duration
	for i := 1; i <= 12; i++ {
		ticks = append(ticks, time.Duration(i)*tick)
	}
	for i := range 12 {
		ticks = append(ticks, 370*time.Millisecond+time.Duration(i)*tick) // after a 250 ms stall
	}
	for _, at := range ticks {
		m.point.Time = start.Add(at)
		m.afterTick(m.point.Time, &full, &logs, &windows)
	}
	var intervals []time.Duration
	for len(m.q.ch) > 0 {
		it := <-m.q.ch
		if it.summary == nil {
			continue
		}
		d := it.summary.to.Time.Sub(it.summary.from.Time)
		intervals = append(intervals, d)
		if d < every-tick/2 {
			t.Errorf("a summary line over %v for a %v interval", d, every)
		}
		if fs := m.summaryFields(it.summary); !slices.ContainsFunc(fs, func(f zapcore.Field) bool { return f.Key == fieldAllocRate }) {
			t.Errorf("a line over %v has no %s", d, fieldAllocRate)
		}
	}
	if len(intervals) < 4 {
		t.Errorf("%d summary lines over %v of ticks: want one per interval", len(intervals), ticks[len(ticks)-1])
	}
	t.Logf("line intervals: %v", intervals)
}

// TestSummaryNoRatesOverShortWindow: a summary over less than its minimum window leaves its rates
// out rather than computing them over milliseconds.
func TestSummaryNoRatesOverShortWindow(t *testing.T) {
	m := newTestMonitor(t)
	from := Point{Time: time.Unix(1000, 0), AllocBytesTotal: 1 << 20, CPUSecondsTotal: 1}
	to := from
	to.Time = from.Time.Add(5 * time.Millisecond)
	to.AllocBytesTotal += 1 << 20
	to.CPUSecondsTotal += 0.01
	in := &summaryInput{from: from, to: to, minRateSeconds: minSummaryRateSeconds(50 * time.Millisecond)}
	for _, f := range m.summaryFields(in) {
		if f.Key == fieldAllocRate || f.Key == fieldGCCPU {
			t.Errorf("%s logged over a 5 ms window", f.Key)
		}
	}
	in.to.Time = from.Time.Add(50 * time.Millisecond)
	if fs := m.summaryFields(in); !slices.ContainsFunc(fs, func(f zapcore.Field) bool { return f.Key == fieldAllocRate }) {
		t.Errorf("no %s over a 50 ms window", fieldAllocRate)
	}
}

// TestScheduleFromReadingTime: a deadline met late sets the next one an interval after the time
// it was met, never in the past.
func TestScheduleFromReadingTime(t *testing.T) {
	t0 := time.Unix(0, 0)
	s := newSchedule(t0, time.Second, 100*time.Millisecond)
	if s.due(t0.Add(500 * time.Millisecond)) {
		t.Error("due half an interval in")
	}
	if !s.due(t0.Add(950 * time.Millisecond)) {
		t.Error("not due within the slack")
	}
	if !s.due(t0.Add(5 * time.Second)) { // a stall
		t.Error("not due after a stall")
	}
	if s.due(t0.Add(5*time.Second + 10*time.Millisecond)) {
		t.Error("due again right after the stall")
	}
	if off := newSchedule(t0, 0, 0); off.due(t0.Add(time.Hour)) {
		t.Error("an interval of 0 came due")
	}
}

// TestSummaryLineUnreadAbsent: a resident set that was not read and a limit that does not exist
// are absent from the line, never a 0 that reads as measured; so is the age of a report that has
// not been made.
func TestSummaryLineUnreadAbsent(t *testing.T) {
	m := newTestMonitor(t)
	in := &summaryInput{minRateSeconds: 1}
	in.from.Time = time.Unix(1000, 0)
	in.to.Time = in.from.Time.Add(10 * time.Second)
	fields := map[string]bool{}
	for _, f := range m.summaryFields(in) {
		fields[f.Key] = true
	}
	for _, k := range []string{fieldResident, fieldLimit, fieldReportAge} {
		if fields[k] {
			t.Errorf("%s logged for an unread figure", k)
		}
	}
	in.to.ResidentBytes, in.to.LimitBytes = 1<<20, 1<<30
	fields = map[string]bool{}
	for _, f := range m.summaryFields(in) {
		fields[f.Key] = true
	}
	if !fields[fieldResident] || !fields[fieldLimit] {
		t.Errorf("read figures missing: %v", fields)
	}
}
