package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPsDetail reads one process from a fixture /proc: figures from stat, status, statm, cmdline
// and uptime, and the executable it cannot read named as a problem rather than left empty.
func TestPsDetail(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "proc", "42")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"stat":    "42 (api server) S 7 42 7128 0 -1 4194304 100 0 0 0 300 100 0 0 20 0 7 0 10000 3133440 411 18446744073709551615 1 2 3 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 4 5 6 7 8 9 10 0\n",
		"status":  "Name:\tapi\nPid:\t42\nPPid:\t7\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nThreads:\t7\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t1\n",
		"statm":   "1000 250 10 1 0 20 0\n",
		"cmdline": "/srv/api\x00-addr\x00:8080\x00",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "uptime"), []byte("1100.50 2000.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	d, err := readPsDetail(root, 42, now)
	if err != nil {
		t.Fatal(err)
	}
	life := 1000*time.Second + 500*time.Millisecond // uptime 1100.5 s, started 100 s (10,000 ticks) after boot
	if d.PPID == nil || *d.PPID != 7 || d.Threads == nil || *d.Threads != 7 || d.UID == nil || *d.UID != 1000 ||
		d.ResidentBytes == nil || *d.ResidentBytes != 250*uint64(os.Getpagesize()) || strings.Join(d.CommandLine, " ") != "/srv/api -addr :8080" {
		t.Errorf("figures: %+v", d)
	}
	if d.StartTime == nil || !d.StartTime.Equal(now.Add(-life).Truncate(time.Second)) {
		t.Errorf("start time %v, want %v", d.StartTime, now.Add(-life))
	}
	if d.CPUCores == nil || *d.CPUCores != 4/life.Seconds() {
		t.Errorf("cpu cores %v, want %v (4 s of CPU over %s)", d.CPUCores, 4/life.Seconds(), life)
	}
	if len(d.Problems) == 0 || !strings.HasPrefix(d.Problems[0], "executable: ") {
		t.Errorf("the unreadable executable is not named: %v", d.Problems)
	}
	var out bytes.Buffer
	writePsDetail(&out, d, now)
	for _, want := range []string{"parent        7\n", "program       ? (not a Go program, or its executable is not readable)\n", "user          ", "command line  /srv/api -addr :8080\n", "started       2026-12-05T07:43:19Z (16m41s ago)\n", "cpu           0.4% of one CPU on average since the start (user 3.0 s, system 1.0 s)\n", "not read: executable: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := readPsDetail(root, 43, now); err == nil {
		t.Error("a missing process read without error")
	}
}

// FuzzParseUptime: the /proc/uptime parser never panics, never returns a negative duration, and
// reads back what it formats.
func FuzzParseUptime(f *testing.F) {
	for _, s := range []string{"1100.50 2000.00\n", "0.00 0.00", "12345", "", " ", "-1.0 2", "1.2.3 4", "1e3 1", "99999999999999.99 1", "1.0000000001 1", ".5 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseUptime(b)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("%q: negative %s", b, d)
		}
		again, err := parseUptime(fmt.Appendf(nil, "%d.%09d 0", d/time.Second, d%time.Second))
		if err != nil || again != d {
			t.Fatalf("%q: %s reads back as %s, %v", b, d, again, err)
		}
	})
}
