package runtimediag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	}
}

// TestMemoryLimitInCgroup runs a program with 200 MiB of C heap and a Go heap growing to 240 MiB
// live under a 512 MiB cgroup v1 limit three ways: no GOMEMLIMIT, GOMEMLIMIT at 90% of the limit
// (automemlimit's rule, blind to the C heap), and memdiag's adaptive limit. The first two must be
// OOM-killed and the adaptive one must not.
func TestMemoryLimitInCgroup(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three child processes under a memory cgroup for a few seconds each")
	}
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
	if results[2].killed {
		t.Errorf("the adaptive limit was OOM-killed")
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
