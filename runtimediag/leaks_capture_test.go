package runtimediag

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/alonetest"
)

// TestLeakCaptureDiff: a capture fired by a heap leak suspect holds a base heap profile from
// before the leak and the current one, and go tool pprof -diff_base names the leaking function.
func TestLeakCaptureDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real workload and go tool pprof")
	}
	if alonetest.Run(t) {
		return
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run go tool pprof")
	}
	full := 500 * time.Millisecond
	m := newTestMonitor(t, WithTickInterval(20*time.Millisecond), WithFullInterval(full), WithLogInterval(0),
		WithTriggers(OnLeakSuspect()), WithCaptureCooldown(0))
	h := m.leaks.sources[0].(*heapSource)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "a base heap profile", func() bool { b, _ := h.baseProfile(); return b != nil })
	stop := runPlanted(leakMapCache, 2*time.Millisecond)
	defer stop()
	var info CaptureInfo
	waitFor(t, 2*time.Minute, "a capture on heap_growing_at_site", func() bool {
		for _, c := range m.Captures() {
			if c.Trigger == TriggerFinding && strings.Contains(c.Reason, FindingHeapGrowingAtSite) {
				info = c
				return true
			}
		}
		return false
	})
	if !slices.ContainsFunc(info.Parts, func(p CapturePart) bool { return p.Name == CapturePartHeapBase }) {
		t.Fatalf("capture without %s: %+v", CapturePartHeapBase, info)
	}
	dir := t.TempDir()
	for part, file := range map[string]string{CapturePartHeapBase: "base.pb.gz", CapturePartHeap: "current.pb.gz"} {
		var buf bytes.Buffer
		if err := m.WriteCapture(&buf, info.ID, part); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gotool, "tool", "pprof", "-top", "-sample_index=inuse_space", "-diff_base", "base.pb.gz", "current.pb.gz")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	// The leak is the largest growth: the first line of the table names it.
	var rows []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.HasSuffix(f[1], "%") {
			rows = append(rows, l)
		}
	}
	if len(rows) == 0 || !strings.Contains(rows[0], "leakMapCache") {
		t.Errorf("the diff's top row does not name leakMapCache:\n%s", out)
	}
}
