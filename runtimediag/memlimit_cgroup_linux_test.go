package runtimediag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cgroupV1Memory is where the cgroup v1 memory controller is mounted on the machines the tests run
// on (the project's CI class).
const cgroupV1Memory = "/sys/fs/cgroup/memory"

// skipOrRequire skips with why, unless MEMDIAG_REQUIRE_ALL=1 (CI, where root and cgroup v1 are
// given) makes the missing piece a failure.
func skipOrRequire(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MEMDIAG_REQUIRE_ALL") == "1" {
		t.Fatalf("%s, and MEMDIAG_REQUIRE_ALL=1 requires it", why)
	}
	t.Skip(why)
}

// memlimitRun is one run of testdata/memlimitload in a fresh memory cgroup.
type memlimitRun struct {
	mode     string
	killed   bool   // SIGKILLed: the cgroup's OOM killer
	oomKills int    // memory.oom_control's oom_kill
	failcnt  uint64 // memory.failcnt: times usage hit the limit
	maxUsage uint64 // memory.max_usage_in_bytes
	out      struct {
		GCCPUSeconds   float64 `json:"gc_cpu_seconds"`
		GCCPUFraction  float64 `json:"gc_cpu_fraction"`
		Cycles         uint64  `json:"cycles"`
		LiveBytes      int     `json:"live_bytes"`
		FinalLimit     int64   `json:"final_limit_bytes"`
		LimiterEngaged bool    `json:"limiter_engaged"`
		LimitSets      int     `json:"limit_sets"`
		MinNonGoBytes  uint64  `json:"min_non_go_bytes"`
		NonGoBytes     uint64  `json:"non_go_bytes"`
		NonGoSource    string  `json:"non_go_source"`
		CHeapBytes     uint64  `json:"c_heap_bytes"`
		ReportProblem  string  `json:"report_problem"`
	}
}

// TestMemoryLimitInCgroup runs a program with 200 MiB of C heap and a Go heap growing to 240 MiB
// live under a 512 MiB cgroup v1 limit three ways: no GOMEMLIMIT, GOMEMLIMIT at 90% of the limit
// (automemlimit's rule, blind to the C heap), and memdiag's adaptive limit. The first two must be
// OOM-killed and the adaptive one must not, and it must have counted the C heap: every limit it
// set subtracted at least the 200 MiB, and the report attributes 200 MiB (±5%) to c_heap.
func TestMemoryLimitInCgroup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three child processes under a memory cgroup for a few seconds each")
	}
	t.Parallel() // its work runs in child processes
	if raceEnabled {
		t.Skip("runs in the plain test run; the children are not race-built")
	}
	if os.Geteuid() != 0 {
		skipOrRequire(t, "creating a memory cgroup needs root")
	}
	if _, err := os.Stat(filepath.Join(cgroupV1Memory, "memory.limit_in_bytes")); err != nil {
		skipOrRequire(t, "no cgroup v1 memory controller at "+cgroupV1Memory)
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		skipOrRequire(t, "the child needs cgo and gcc is not installed")
	}
	bin := filepath.Join(t.TempDir(), "memlimitload")
	build := exec.Command("go", "build", "-o", bin, "./testdata/memlimitload")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/memlimitload: %v\n%s", err, out)
	}
	const limit = 512 << 20
	runs := []struct {
		mode string
		env  []string
		args []string
	}{
		{"no GOMEMLIMIT", nil, nil},
		{"GOMEMLIMIT=90% of the cgroup limit", []string{fmt.Sprintf("GOMEMLIMIT=%d", limit*9/10)}, nil},
		{"memdiag adaptive limit", nil, []string{"-adaptive"}},
	}
	var results []memlimitRun
	for i, r := range runs {
		res := runInCgroup(t, bin, fmt.Sprintf("memdiag-memlimit-%d-%d", os.Getpid(), i), limit, r.env, r.args)
		res.mode = r.mode
		results = append(results, res)
	}
	var table strings.Builder
	table.WriteString("| run | OOM-killed | oom_kill | failcnt | max usage | GC CPU | GC cycles | limiter engaged | final GOMEMLIMIT |\n|---|---|---:|---:|---:|---:|---:|---|---:|\n")
	for _, r := range results {
		gc, cycles, lim, limiter := "–", "–", "–", "–"
		if !r.killed {
			gc = fmt.Sprintf("%.1f%% (%.2f s)", 100*r.out.GCCPUFraction, r.out.GCCPUSeconds)
			cycles = strconv.FormatUint(r.out.Cycles, 10)
			lim = fmt.Sprintf("%d MiB", r.out.FinalLimit>>20)
			limiter = strconv.FormatBool(r.out.LimiterEngaged)
		}
		fmt.Fprintf(&table, "| %s | %v | %d | %d | %d MiB | %s | %s | %s | %s |\n", r.mode, r.killed, r.oomKills, r.failcnt, r.maxUsage>>20, gc, cycles, limiter, lim)
	}
	t.Logf("512 MiB cgroup, 200 MiB C heap, Go heap growing to 240 MiB live:\n%s", table.String())
	if !results[0].killed || !results[1].killed {
		t.Errorf("the scenario does not show the problem: no limit killed %v, 90%% limit killed %v", results[0].killed, results[1].killed)
	}
	ad := results[2]
	if ad.killed {
		t.Fatalf("the adaptive limit was OOM-killed")
	}
	const cHeap = 200 << 20
	t.Logf("adaptive limit: %d limits set, non-Go memory subtracted %d MiB at least, %d MiB last (%s); the report's c_heap %d MiB",
		ad.out.LimitSets, ad.out.MinNonGoBytes>>20, ad.out.NonGoBytes>>20, ad.out.NonGoSource, ad.out.CHeapBytes>>20)
	if ad.out.LimitSets == 0 {
		t.Errorf("the adaptive limit set no limit")
	}
	if ad.out.MinNonGoBytes < cHeap {
		t.Errorf("the adaptive limit subtracted %d MiB of non-Go memory at its lowest, under the %d MiB of C heap alone", ad.out.MinNonGoBytes>>20, cHeap>>20)
	}
	if c := float64(ad.out.CHeapBytes); c < 0.95*cHeap || c > 1.05*cHeap {
		t.Errorf("the report attributes %d MiB to c_heap, want %d MiB ±5%% (report: %q)", ad.out.CHeapBytes>>20, cHeap>>20, ad.out.ReportProblem)
	}
}

func runInCgroup(t *testing.T, bin, name string, limit uint64, env, args []string) memlimitRun {
	t.Helper()
	dir := filepath.Join(cgroupV1Memory, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		skipOrRequire(t, fmt.Sprintf("cannot create a memory cgroup: %v", err))
	}
	t.Cleanup(func() {
		// The cgroup can be removed once its processes are gone; they are, after Wait.
		for range 50 {
			if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("could not remove %s", dir)
	})
	write := func(file, v string) error { return os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644) }
	if err := write("memory.limit_in_bytes", strconv.FormatUint(limit, 10)); err != nil {
		t.Fatal(err)
	}
	_ = write("memory.memsw.limit_in_bytes", strconv.FormatUint(limit, 10)) // absent without swap accounting
	// The shell joins the cgroup, then becomes the child: every byte the child maps is charged.
	args = append([]string{"-live-mib", "240"}, args...)
	cmd := exec.Command("/bin/sh", append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, dir, bin}, args...)...)
	cmd.Env = append(filteredTestEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var r memlimitRun
	var ee *exec.ExitError
	switch {
	case err == nil:
		if jerr := json.Unmarshal(stdout.Bytes(), &r.out); jerr != nil {
			t.Fatalf("%s: %v\n%s\n%s", name, jerr, stdout.String(), stderr.String())
		}
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		} else {
			t.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
	default:
		t.Fatalf("%s: %v", name, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "memory.oom_control")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				r.oomKills, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	readU := func(file string) uint64 {
		b, _ := os.ReadFile(filepath.Join(dir, file))
		v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return v
	}
	r.failcnt, r.maxUsage = readU("memory.failcnt"), readU("memory.max_usage_in_bytes")
	if r.killed && r.oomKills == 0 {
		t.Errorf("%s: SIGKILLed but the cgroup counted no OOM kill", name)
	}
	return r
}

// filteredTestEnv is the environment without the settings under test.
func filteredTestEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// TestAdaptiveLimitFollowsLoweredCgroupLimit moves the test process into a fresh cgroup v1 memory
// cgroup limited to 4 GiB, lets the adaptive limit settle, lowers the cgroup's limit to 2 GiB and
// checks that the very next tick sets the Go memory limit under it: the limit is read on every
// tick, not carried for ten.
func TestAdaptiveLimitFollowsLoweredCgroupLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrRequire(t, "creating a memory cgroup needs root")
	}
	if _, err := os.Stat(filepath.Join(cgroupV1Memory, "memory.limit_in_bytes")); err != nil {
		skipOrRequire(t, "no cgroup v1 memory controller at "+cgroupV1Memory)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var home string
	for _, line := range strings.Split(string(self), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "memory") {
			home = filepath.Join(cgroupV1Memory, parts[2])
		}
	}
	if home == "" {
		skipOrRequire(t, "this process is in no cgroup v1 memory cgroup")
	}
	dir := filepath.Join(cgroupV1Memory, fmt.Sprintf("memdiag-lowered-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		skipOrRequire(t, fmt.Sprintf("cannot create a memory cgroup: %v", err))
	}
	write := func(d, file string, v uint64) error {
		return os.WriteFile(filepath.Join(d, file), []byte(strconv.FormatUint(v, 10)), 0o644)
	}
	t.Cleanup(func() {
		if err := write(home, "cgroup.procs", uint64(os.Getpid())); err != nil {
			t.Errorf("moving back to %s: %v", home, err)
		}
		for range 50 {
			if err := os.Remove(dir); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("could not remove %s", dir)
	})
	const gib = 1 << 30
	if err := write(dir, "memory.limit_in_bytes", 4*gib); err != nil {
		t.Fatal(err)
	}
	if err := write(dir, "cgroup.procs", uint64(os.Getpid())); err != nil {
		t.Fatal(err)
	}

	m, err := NewMonitor(WithMemoryLimit(MemoryLimit{}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	user := debug.SetMemoryLimit(-1)
	if user != math.MaxInt64 {
		t.Skipf("a memory limit of %d is in force: the adaptive limit never goes above it", user)
	}
	m.tick() // reads the limit and memory.stat, asks for a classification
	m.classifyNonGo(context.Background())
	if m.memLimit.classified.Load() == nil {
		t.Fatal("no classification recorded")
	}
	m.tick()
	first := debug.SetMemoryLimit(-1)
	// The limit is the cgroup's less this process's non-Go memory and the headroom, at least a
	// quarter of the cgroup's: after the package's other tests (C heap, mappings, threads) the
	// non-Go memory can be large, so only the bounds are fixed.
	nonGo := m.memLimit.classified.Load().bytes
	if first >= 4*gib || first < gib {
		t.Fatalf("under a 4 GiB cgroup the adaptive limit is %d MiB (non-Go memory %d MiB), want between 1 and 4 GiB", first>>20, nonGo>>20)
	}
	if err := write(dir, "memory.limit_in_bytes", 2*gib); err != nil {
		t.Fatal(err)
	}
	m.tick()
	next := debug.SetMemoryLimit(-1)
	t.Logf("adaptive limit %d MiB under 4 GiB (non-Go memory %d MiB); %d MiB one tick after the cgroup was lowered to 2 GiB", first>>20, nonGo>>20, next>>20)
	if next >= 2*gib || next >= first {
		t.Errorf("one tick after the cgroup limit went from 4 to 2 GiB the Go memory limit is %d MiB, not under 2 GiB", next>>20)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != user {
		t.Errorf("Close left the limit at %d, want %d", got, user)
	}
}
