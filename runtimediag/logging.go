package runtimediag

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// The messages and field names of the Monitor's log lines. They are a contract with whoever
// queries the logs: docs/logging.md lists them and a test fails when the two drift.
const (
	// LogMessageSummary is the periodic line, one per log interval.
	LogMessageSummary = "memdiag memory"
	// LogMessageFinding is a finding that appeared (Warn), got worse (Warn) or cleared (Info).
	LogMessageFinding = "memdiag finding"
	// LogMessageCapture is a capture that was taken (Info).
	LogMessageCapture = "memdiag capture"
	// LogMessageReportFailed is a background full report that could not be taken (Warn).
	LogMessageReportFailed = "memdiag report failed"
)

// Summary line fields.
const (
	fieldInterval        = "interval_seconds"
	fieldResident        = "resident_bytes"
	fieldLimit           = "limit_bytes"
	fieldTopCategories   = "top_categories"
	fieldRSSTier         = "rss_tier"
	fieldHeapLive        = "heap_live_bytes"
	fieldHeapGoal        = "heap_goal_bytes"
	fieldGoTotal         = "go_total_bytes"
	fieldAllocRate       = "alloc_bytes_per_second"
	fieldGCCycles        = "gc_cycles"
	fieldGCCPU           = "gc_cpu_percent"
	fieldPauseP99        = "gc_pause_p99_seconds"
	fieldPauseMax        = "gc_pause_max_seconds"
	fieldGoroutines      = "goroutines"
	fieldThreads         = "threads"
	fieldFindings        = "findings"
	fieldReportAge       = "report_age_seconds"
	fieldLogLinesDropped = "log_lines_dropped"
)

// Finding and capture line fields.
const (
	fieldTransition       = "transition" // appeared, worse, cleared
	fieldFindingCode      = "code"
	fieldFindingSeverity  = "severity"
	fieldFindingPrevious  = "previous_severity"
	fieldFindingHeadline  = "headline"
	fieldFindingAdvice    = "advice"
	fieldFindingDoc       = "doc"
	fieldCaptureID        = "capture_id"
	fieldCaptureTrigger   = "trigger"
	fieldCaptureReason    = "reason"
	fieldCaptureBytes     = "capture_bytes"
	fieldCaptureParts     = "parts"
	fieldCaptureSeconds   = "capture_seconds"
	fieldReportFailureErr = "error"
)

// Finding transitions.
const (
	TransitionAppeared = "appeared"
	TransitionWorse    = "worse"
	TransitionCleared  = "cleared"
)

// logFields lists every field name per message, for the documentation test.
var logFields = map[string][]string{
	LogMessageSummary: {fieldInterval, fieldResident, fieldLimit, fieldTopCategories, fieldRSSTier, fieldHeapLive,
		fieldHeapGoal, fieldGoTotal, fieldAllocRate, fieldGCCycles, fieldGCCPU, fieldPauseP99, fieldPauseMax,
		fieldGoroutines, fieldThreads, fieldFindings, fieldReportAge, fieldLogLinesDropped},
	LogMessageFinding: {fieldTransition, fieldFindingCode, fieldFindingSeverity, fieldFindingPrevious,
		fieldFindingHeadline, fieldFindingAdvice, fieldFindingDoc, fieldWindowStart, fieldWindowEnd, fieldWindowSource},
	LogMessageCapture:      {fieldCaptureID, fieldCaptureTrigger, fieldCaptureReason, fieldCaptureBytes, fieldCaptureParts, fieldCaptureSeconds},
	LogMessageReportFailed: {fieldReportFailureErr},
	LogMessageLeakSuspect:  leakLogFields, // leaks_log.go
	LogMessageMemoryLimit:  memLimitLogFields,
	// sourcelog.go
	LogMessageSourceFailed:    {fieldSource, fieldSourceReason, fieldSourceError},
	LogMessageSourceRecovered: {fieldSource, fieldSourceReason},
}

// logQueueSize is how many lines may wait for a slow sink before new ones are dropped: a
// summary a minute plus a burst of finding transitions fit many times over.
const logQueueSize = 64

// logItem is one line waiting for the log writer: either an entry logged through the async core,
// or a summary the writer composes itself (composing needs the Attributor, which a full
// classification can hold for milliseconds; the writer may wait, the tick may not).
type logItem struct {
	core    zapcore.Core
	ent     zapcore.Entry
	fields  []zapcore.Field
	summary *summaryInput
}

// logQueue hands lines from the Monitor to its log writer goroutine without ever waiting: when
// the queue is full, or closed because the writer has stopped, the line is dropped and counted,
// and the count goes out with the next line written.
type logQueue struct {
	ch      chan logItem
	mu      sync.Mutex // orders put against close, so that no line is queued after the writer left
	closed  bool
	dropped atomic.Uint64
	written atomic.Uint64
	lost    atomic.Uint64 // every line ever dropped, for Stats
}

func newLogQueue() *logQueue { return &logQueue{ch: make(chan logItem, logQueueSize)} }

func (q *logQueue) put(it logItem) {
	q.mu.Lock()
	queued := false
	if !q.closed {
		select {
		case q.ch <- it:
			queued = true
		default:
		}
	}
	q.mu.Unlock()
	if !queued {
		q.drop()
	}
}

func (q *logQueue) drop() {
	q.dropped.Add(1)
	q.lost.Add(1)
}

// close makes every later put drop its line: the writer is leaving.
func (q *logQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// discard drops what the writer left in a closed queue.
func (q *logQueue) discard() {
	for {
		select {
		case <-q.ch:
			q.drop()
		default:
			return
		}
	}
}

// asyncCore is a zapcore.Core that writes nothing itself: it queues entries for the log writer,
// so a sink that blocks (a full pipe, a stalled network writer) delays only the writer goroutine,
// never the tick, a full report or an application goroutine calling Monitor.Report.
type asyncCore struct {
	inner zapcore.Core
	q     *logQueue
}

func (c *asyncCore) Enabled(l zapcore.Level) bool { return c.inner.Enabled(l) }

func (c *asyncCore) With(fs []zapcore.Field) zapcore.Core {
	return &asyncCore{inner: c.inner.With(fs), q: c.q}
}

func (c *asyncCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.inner.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

func (c *asyncCore) Write(ent zapcore.Entry, fs []zapcore.Field) error {
	// The caller may reuse its field slice once Write returns.
	c.q.put(logItem{core: c.inner, ent: ent, fields: slices.Clone(fs)})
	return nil
}

// Sync does not wait for the writer: waiting is what the queue exists to avoid.
func (c *asyncCore) Sync() error { return nil }

// write writes one queued line, adding the count of lines dropped since the last one that got
// through. It runs on the log writer goroutine only.
func (q *logQueue) write(it *logItem, summary func(*summaryInput) []zapcore.Field, user *zap.Logger) {
	if it.summary != nil {
		fields := summary(it.summary)
		if n := q.dropped.Swap(0); n > 0 {
			fields = append(fields, zap.Uint64(fieldLogLinesDropped, n))
		}
		user.Info(LogMessageSummary, fields...)
		q.written.Add(1)
		return
	}
	fields := it.fields
	if n := q.dropped.Swap(0); n > 0 {
		fields = append(fields, zap.Uint64(fieldLogLinesDropped, n))
	}
	// Check again on the inner core: it may sample or filter.
	if ce := it.core.Check(it.ent, nil); ce != nil {
		ce.Write(fields...)
		q.written.Add(1)
	}
}

// schedule is a periodic deadline kept by the tick: the summary line's, the background full
// report's. The next deadline is one interval after the time the last one was met — the tick's own
// reading time, never the ticker's send time, which after a stall is stale and would make the
// next deadline come due at once, two lines back to back over a window of milliseconds.
type schedule struct {
	every, slack time.Duration
	next         time.Time
}

// newSchedule starts a schedule whose first deadline is one interval after start; every ≤ 0
// never comes due.
func newSchedule(start time.Time, every, slack time.Duration) schedule {
	return schedule{every: every, slack: slack, next: start.Add(every)}
}

// due reports whether the deadline is met at now (up to slack early, for ticker jitter) and, when
// it is, sets the next one an interval after now.
func (s *schedule) due(now time.Time) bool {
	if s.every <= 0 || now.Add(s.slack).Before(s.next) {
		return false
	}
	s.next = now.Add(s.every)
	return true
}

// summaryInput is what the tick hands over at a log interval: copies, so that the tick can go on
// refilling its snapshots while the writer composes the line.
type summaryInput struct {
	from, to Point
	pauseP99 float64
	pauseMax float64
	estimate rssattr.Reading // what Attributor.Estimate reads of the tick's snapshot
	// minRateSeconds is the shortest interval the line's rates are computed over: below it the
	// rate fields are left out, never computed over milliseconds.
	minRateSeconds float64
}

// minSummaryRateSeconds is the line's rate window for a log interval: half of it, and never under
// the reports' minimum window.
func minSummaryRateSeconds(interval time.Duration) float64 {
	return max(minWindowSeconds, interval.Seconds()/2)
}

// newSummaryInput copies what a summary line needs from the tick's state.
func newSummaryInput(from, to *Point, pauseP99, pauseMax float64, cur *Snapshot, minRateSeconds float64) *summaryInput {
	return &summaryInput{from: *from, to: *to, pauseP99: pauseP99, pauseMax: pauseMax, estimate: rssCheapReading(cur), minRateSeconds: minRateSeconds}
}

// summaryFields composes the periodic line.
func (m *Monitor) summaryFields(in *summaryInput) []zapcore.Field {
	from, to := &in.from, &in.to
	secs := to.Time.Sub(from.Time).Seconds()
	rss := m.attr.Estimate(&in.estimate)
	rep := m.lastReport.Load()

	fs := make([]zapcore.Field, 0, 20)
	fs = append(fs, zap.Float64(fieldInterval, round3(secs)))
	// An unread resident set and "no limit" are absent, never a 0 that reads as measured.
	if to.ResidentBytes > 0 {
		fs = append(fs, zap.Uint64(fieldResident, to.ResidentBytes))
	}
	if to.LimitBytes > 0 {
		fs = append(fs, zap.Uint64(fieldLimit, to.LimitBytes))
	}
	fs = append(fs,
		zap.Array(fieldTopCategories, topCategories(rss.Categories, 3)),
		zap.String(fieldRSSTier, rss.Tier),
		zap.Uint64(fieldHeapLive, to.HeapLiveBytes),
		zap.Uint64(fieldHeapGoal, to.HeapGoalBytes),
		zap.Uint64(fieldGoTotal, to.GoTotalBytes),
	)
	if secs >= in.minRateSeconds {
		fs = append(fs, zap.Float64(fieldAllocRate, round3(rate(to.AllocBytesTotal, from.AllocBytesTotal, secs))))
	}
	fs = append(fs, zap.Uint64(fieldGCCycles, to.GCCyclesTotal-min(to.GCCyclesTotal, from.GCCyclesTotal)))
	if secs >= in.minRateSeconds {
		fs = append(fs, zap.Float64(fieldGCCPU, round3(gcCPUPercent(from, to))))
	}
	fs = append(fs,
		zap.Float64(fieldPauseP99, in.pauseP99),
		zap.Float64(fieldPauseMax, in.pauseMax),
		zap.Uint32(fieldGoroutines, to.Goroutines),
		zap.Uint32(fieldThreads, to.Threads),
	)
	codes := []string{}
	if rep != nil {
		for _, f := range rep.Findings {
			codes = append(codes, f.Code)
		}
	}
	fs = append(fs, zap.Strings(fieldFindings, codes))
	if rep != nil {
		fs = append(fs, zap.Float64(fieldReportAge, round3(to.Time.Sub(rep.Time).Seconds())))
	}
	return fs
}

func rate(now, then uint64, secs float64) float64 {
	if secs <= 0 || now < then {
		return 0
	}
	return float64(now-then) / secs
}

func gcCPUPercent(from, to *Point) float64 {
	total := to.CPUSecondsTotal - from.CPUSecondsTotal
	if total <= 0 {
		return 0
	}
	return max(0, 100*(to.GCCPUSecondsTotal-from.GCCPUSecondsTotal)/total)
}

func round3(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

// categoryList is the top categories as a zap array of {name, bytes}.
type categoryList []RSSCategory

func (l categoryList) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, c := range l {
		if err := enc.AppendObject(categoryEntry(c)); err != nil {
			return err
		}
	}
	return nil
}

type categoryEntry RSSCategory

func (c categoryEntry) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("name", c.Name)
	enc.AddUint64("bytes", c.Bytes)
	return nil
}

// topCategories returns the n largest non-empty categories, largest first.
func topCategories(cats []RSSCategory, n int) categoryList {
	top := slices.Clone(cats)
	top = slices.DeleteFunc(top, func(c RSSCategory) bool { return c.Bytes == 0 })
	slices.SortStableFunc(top, func(a, b RSSCategory) int {
		switch {
		case a.Bytes > b.Bytes:
			return -1
		case a.Bytes < b.Bytes:
			return 1
		}
		return 0
	})
	return categoryList(top[:min(n, len(top))])
}

// findingTracker remembers the active findings between full reports, so that a finding is
// logged when it appears, gets worse or clears, and not again every interval while it lasts.
type findingTracker struct {
	active map[string]Finding
}

type findingTransition struct {
	kind     string
	finding  Finding
	previous Severity
}

// update compares a report's findings with the active ones and returns the transitions, in the
// report's order (most severe first), clearances last.
func (t *findingTracker) update(fs []Finding) []findingTransition {
	if t.active == nil {
		t.active = make(map[string]Finding)
	}
	var out []findingTransition
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		if seen[f.Code] {
			continue
		}
		seen[f.Code] = true
		prev, ok := t.active[f.Code]
		switch {
		case !ok:
			out = append(out, findingTransition{kind: TransitionAppeared, finding: f})
		case severityRank(f.Severity) > severityRank(prev.Severity):
			out = append(out, findingTransition{kind: TransitionWorse, finding: f, previous: prev.Severity})
		}
		t.active[f.Code] = f
	}
	var cleared []string
	for code := range t.active {
		if !seen[code] {
			cleared = append(cleared, code)
		}
	}
	slices.Sort(cleared)
	for _, code := range cleared {
		out = append(out, findingTransition{kind: TransitionCleared, finding: t.active[code]})
		delete(t.active, code)
	}
	return out
}

func (tr *findingTransition) log(l *zap.Logger) {
	f := &tr.finding
	fields := []zapcore.Field{
		zap.String(fieldTransition, tr.kind),
		zap.String(fieldFindingCode, f.Code),
		zap.String(fieldFindingSeverity, string(f.Severity)),
	}
	if tr.kind == TransitionWorse {
		fields = append(fields, zap.String(fieldFindingPrevious, string(tr.previous)))
	}
	fields = append(fields, zap.String(fieldFindingHeadline, f.Headline))
	if tr.kind == TransitionCleared {
		l.Info(LogMessageFinding, fields...)
		return
	}
	fields = append(fields, zap.String(fieldFindingAdvice, f.Advice), zap.String(fieldFindingDoc, f.Doc))
	l.Warn(LogMessageFinding, fields...)
}

func logCapture(l *zap.Logger, info *CaptureInfo) {
	parts := make([]string, len(info.Parts))
	for i, p := range info.Parts {
		parts[i] = p.Name
	}
	l.Info(LogMessageCapture,
		zap.Uint64(fieldCaptureID, info.ID),
		zap.String(fieldCaptureTrigger, string(info.Trigger)),
		zap.String(fieldCaptureReason, info.Reason),
		zap.Int64(fieldCaptureBytes, info.Bytes),
		zap.Strings(fieldCaptureParts, parts),
		zap.Float64(fieldCaptureSeconds, round3(info.Duration.Seconds())),
	)
}
