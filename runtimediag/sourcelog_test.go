package runtimediag

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestSourceFailureLoggedOnce: a source that fails on every read is one Warn line with its reason,
// another only when the reason changes, and one Info line when it reads again — not a line per
// tick, and not at Debug where nobody looks.
func TestSourceFailureLoggedOnce(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(root, "proc", "self")
	if err := os.MkdirAll(self, 0o755); err != nil {
		t.Fatal(err)
	}
	statm := filepath.Join(self, "statm")
	core, logs := observer.New(zapcore.InfoLevel)
	c, err := NewCollector(WithRoot(root), WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var s Snapshot
	read := func(n int) {
		for range n {
			c.ReadCheap(&s)
		}
	}
	statmLines := func(msg string) []observer.LoggedEntry {
		return logs.FilterMessage(msg).FilterField(zap.String("source", "statm")).AllUntimed()
	}

	read(5) // missing
	if got := statmLines(LogMessageSourceFailed); len(got) != 1 || got[0].Level != zapcore.WarnLevel || got[0].ContextMap()["reason"] != "no such file" {
		t.Fatalf("missing statm, 5 reads: %+v", got)
	}
	if err := os.WriteFile(statm, []byte("x y z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read(5) // malformed: a new reason
	if got := statmLines(LogMessageSourceFailed); len(got) != 2 || got[1].ContextMap()["reason"] != "malformed" {
		t.Fatalf("malformed statm: %+v", got)
	}
	if err := os.WriteFile(statm, []byte("100 50 10 5 0 20 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read(5) // readable again
	if got := statmLines(LogMessageSourceRecovered); len(got) != 1 || got[0].Level != zapcore.InfoLevel {
		t.Fatalf("statm readable again: %+v", got)
	}
	if !s.Has(SourceStatm) {
		t.Fatalf("statm not read from a valid file: %v", s.Err(SourceStatm))
	}
	if n := len(statmLines(LogMessageSourceFailed)); n != 2 {
		t.Errorf("%d Warn lines for statm over 15 reads, want 2", n)
	}
}

// TestMonitorLogsSourceFailureOnce: the Monitor's tick and its full reports read statm through two
// collectors; a failing statm is still one line.
func TestMonitorLogsSourceFailureOnce(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc", "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	m := newTestMonitor(t, WithRoot(root), WithLogger(zap.New(core)), WithTickInterval(time.Hour), WithFullInterval(0), WithLogInterval(0))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	for range 3 {
		m.col.ReadCheap(&s)
		m.fullCol.ReadCheap(&s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(logs.FilterMessage(LogMessageSourceFailed).FilterField(zap.String("source", "statm")).AllUntimed()); n != 1 {
		t.Errorf("%d lines for one failing statm, want 1", n)
	}
}
