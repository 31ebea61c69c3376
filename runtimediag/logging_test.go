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
	want := slices.DeleteFunc(slices.Clone(logFields[LogMessageSummary]), func(f string) bool { return f == fieldLogLinesDropped })
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
