package runtimediag

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// firstReportBudgetBytes bounds the first report in a process, which also builds what later ones
// keep: the allocation profile's stack table, smaps' read buffer, the memory cgroup's location,
// runtime/metrics' own first-read state. Measured 308–314 KB on an unstarted Monitor
// (docs/performance.md); steady state is about 135–155 KB.
const firstReportBudgetBytes = 512 << 10

// TestFirstReportInProcess measures the first and second Monitor.Report of a fresh process (this
// test binary run again, with nothing else run before), unstarted and after a first tick:
// allocated bytes (process-wide: with the Monitor started, its own background work is counted
// too), and process CPU and wall time for the record (logged, never asserted). The first may allocate more, within firstReportBudgetBytes.
func TestFirstReportInProcess(t *testing.T) {
	if os.Getenv("MEMDIAG_FIRST_REPORT_CHILD") == "1" {
		firstReportChild()
		return
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	if testing.Short() {
		t.Skip("runs the test binary again; -short")
	}
	for _, started := range []string{"0", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFirstReportInProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MEMDIAG_FIRST_REPORT_CHILD=1", "MEMDIAG_FIRST_REPORT_STARTED="+started)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var first, second uint64
		var cpu1, cpu2, wall1, wall2 time.Duration
		if _, err := fmt.Sscanf(string(out), "first %d %d %d second %d %d %d", &first, &cpu1, &wall1, &second, &cpu2, &wall2); err != nil {
			t.Fatalf("child output %q: %v", out, err)
		}
		t.Logf("started %s: first report: %d B allocated, %v process CPU, %v wall; second: %d B, %v CPU, %v wall",
			started, first, cpu1, wall1, second, cpu2, wall2)
		// A started Monitor's ticks, window readings and leak sources run beside its first report
		// and allocate in the same process: only the unstarted first report is bounded.
		if started == "0" && first > firstReportBudgetBytes {
			t.Errorf("the first report in a process allocates %d bytes, budget %d", first, firstReportBudgetBytes)
		}
	}
}

func firstReportChild() {
	m, err := NewMonitor()
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer m.Close()
	if os.Getenv("MEMDIAG_FIRST_REPORT_STARTED") == "1" {
		// A running Monitor: its first tick has read the cheap sources before the first report.
		if err := m.Start(context.Background()); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		for p, _ := m.Latest(); p.Time.IsZero(); p, _ = m.Latest() {
			time.Sleep(time.Millisecond)
		}
	}
	var vals [2][3]int64
	var ms runtime.MemStats
	for i := range 2 {
		runtime.ReadMemStats(&ms)
		a0, c0, t0 := ms.TotalAlloc, processCPU(), time.Now()
		if _, err := m.Report(context.Background()); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		wall, c1 := time.Since(t0), processCPU()
		runtime.ReadMemStats(&ms)
		vals[i] = [3]int64{int64(ms.TotalAlloc - a0), int64(c1 - c0), int64(wall)}
	}
	fmt.Printf("first %d %d %d second %d %d %d\n", vals[0][0], vals[0][1], vals[0][2], vals[1][0], vals[1][1], vals[1][2])
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
