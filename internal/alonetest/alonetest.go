// Package alonetest runs a test by itself in a child process of its own test binary, for tests
// that plant leaks, goroutines or profiles in the process and read them back: such tests cannot
// share a process with one another, but each can run beside the others in a process of its own.
//
// It is imported only by _test.go files.
package alonetest

import (
	"flag"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Env names the test a child process runs by itself.
const Env = "MEMDIAG_TEST_ALONE"

// slots bounds how many child processes run at once: two a core. Their workloads are timed but
// mostly wait on tickers and timers; more than two a core and they starve one another.
var slots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// Run runs the calling test in a child process of the test binary, in parallel with the other
// tests that do the same, and reports whether it did: the caller returns when it did. In the
// child it returns false and the test runs its body.
func Run(t *testing.T) (ran bool) {
	t.Helper()
	return run(t, 1)
}

// RunExclusive is Run for a test that loads every core, such as a load test: no other child
// runs beside it.
func RunExclusive(t *testing.T) (ran bool) {
	t.Helper()
	return run(t, cap(slots))
}

// exclusive keeps two tests that each take several slots from holding part of them each.
var exclusive sync.Mutex

func run(t *testing.T, weight int) (ran bool) {
	t.Helper()
	if os.Getenv(Env) == t.Name() {
		return false
	}
	t.Parallel()
	exclusive.Lock()
	for range weight {
		slots <- struct{}{}
	}
	exclusive.Unlock()
	defer func() {
		for range weight {
			<-slots
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := "^" + regexp.QuoteMeta(t.Name()) + "$"
	if f := flag.Lookup("test.run"); f != nil {
		// -run Test/sub selects subtests: the child keeps the levels below the test's own.
		if _, sub, ok := strings.Cut(f.Value.String(), "/"); ok {
			run += "/" + sub
		}
	}
	args := []string{"-test.run=" + run, "-test.count=1", "-test.v"}
	for _, name := range []string{"test.short", "test.timeout", "test.failfast"} {
		if f := flag.Lookup(name); f != nil {
			args = append(args, "-"+name+"="+f.Value.String())
		}
	}
	cmd := exec.CommandContext(t.Context(), exe, args...)
	cmd.Env = append(os.Environ(), Env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a child process: %v\n%s", t.Name(), err, out)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()+" ") {
		t.Skipf("skipped in the child process:\n%s", out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("%s did not run in the child process:\n%s", t.Name(), out)
	}
	if testing.Verbose() {
		t.Logf("child process:\n%s", out)
	}
	return true
}

// RaiseParallel, called from TestMain before m.Run, lets every test that runs in a child be
// under way at once unless -test.parallel was given: their parents only wait, and the children
// are bounded on their own. It does nothing in a child.
func RaiseParallel() {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if set || os.Getenv(Env) != "" {
		return
	}
	if f := flag.Lookup("test.parallel"); f != nil {
		n, _ := strconv.Atoi(f.Value.String())
		flag.Set("test.parallel", strconv.Itoa(max(n, cap(slots)+2)))
	}
}
