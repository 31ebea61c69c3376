package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUAndTrace saves a CPU profile and a trace from a real tree, and checks that each says
// what to mount when nothing is mounted at the URL.
func TestCPUAndTrace(t *testing.T) {
	t.Parallel()
	srv := treeServer(t)
	dir := t.TempDir()
	cpuOut, traceOut := filepath.Join(dir, "cpu.pb.gz"), filepath.Join(dir, "trace.out")
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{"cpu", []string{"cpu", "--seconds=1", "-o", cpuOut, srv.URL}, 0, []string{"saved the CPU profile (1s) to " + cpuOut, "go tool pprof " + cpuOut}, ""},
		{"trace", []string{"trace", "-o", traceOut, "--seconds", "1", srv.URL}, 0, []string{"saved the execution trace to " + traceOut, "go tool trace " + traceOut}, ""},
		{"cpu-not-mounted", []string{"cpu", "--seconds=1", "-o", cpuOut + "x", srv.URL + "/elsewhere/"}, 1, nil, "not found: " + srv.URL + "/elsewhere/cpu?seconds=1: the memdiag tree is not mounted there; mount it"},
		{"trace-not-mounted", []string{"trace", "-o", traceOut + "x", srv.URL + "/elsewhere"}, 1, nil, "/elsewhere/pprof/trace: the memdiag tree is not mounted there; mount it"},
		{"cpu-over-the-tree's-bound", []string{"cpu", "--seconds=61", "-o", cpuOut + "x", srv.URL}, 1, nil, "seconds: must be an integer between 1 and 60"},
		{"cpu-zero", []string{"cpu", "--seconds=0", srv.URL}, 2, nil, "--seconds 0: must be between 1 and 3600"},
		{"trace-two-urls", []string{"trace", srv.URL, srv.URL}, 2, nil, "want one URL"},
		{"help-cpu", []string{"help", "cpu"}, 0, []string{"usage: memdiag cpu", "-seconds"}, ""},
		{"help-trace", []string{"help", "trace"}, 0, []string{"usage: memdiag trace", "flight recorder"}, ""},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(tc.args, &stdout, &stderr); got != tc.exit {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%.2000s\nstderr:\n%s", tc.name, got, tc.exit, stdout.String(), stderr.String())
		}
		for _, want := range tc.stdout {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s: stdout lacks %q:\n%.2000s", tc.name, want, stdout.String())
			}
		}
		if !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%s: stderr lacks %q:\n%s", tc.name, tc.stderr, stderr.String())
		}
	}
	for _, f := range []string{cpuOut, traceOut} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
