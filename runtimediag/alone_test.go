package runtimediag

import (
	"flag"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// aloneEnv names the test a child process of this test binary runs by itself.
const aloneEnv = "MEMDIAG_TEST_ALONE"

// aloneSlots bounds how many child processes runAlone runs at once: two a core. Their workloads
// are timed but mostly wait on tickers; more than two a core and they starve one another.
var aloneSlots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// runAlone runs the calling test by itself in a child process of this test binary, in parallel
// with the other tests that do the same. It is for tests that plant heap leaks, goroutines or
// mappings and read them back from the process: they cannot share a process with each other, but
// each can run beside the others in its own. runAlone reports whether the test ran in a child;
// the caller returns when it did. In the child it returns false and the test runs its body.
func runAlone(t *testing.T) (ran bool) {
	t.Helper()
	if os.Getenv(aloneEnv) == t.Name() {
		return false
	}
	t.Parallel()
	aloneSlots <- struct{}{}
	defer func() { <-aloneSlots }()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.count=1", "-test.v"}
	for _, name := range []string{"test.short", "test.timeout", "test.failfast"} {
		if f := flag.Lookup(name); f != nil {
			args = append(args, "-"+name+"="+f.Value.String())
		}
	}
	cmd := exec.CommandContext(t.Context(), exe, args...)
	cmd.Env = append(os.Environ(), aloneEnv+"="+t.Name())
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
