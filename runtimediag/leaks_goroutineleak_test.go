package runtimediag

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestGoroutineLeakProfileProves builds testdata/goroutineleak with
// GOEXPERIMENT=goroutineleakprofile and runs it: the goroutines it leaks on channels nothing can
// reach are a proven suspect, named by function and file:line.
func TestGoroutineLeakProfileProves(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program with another GOEXPERIMENT (a rebuild of the standard library)")
	}
	t.Parallel() // its work runs in child processes
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	src, err := filepath.Abs("testdata/goroutineleak")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "goroutineleak")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOEXPERIMENT=goroutineleakprofile")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("this toolchain does not build with GOEXPERIMENT=goroutineleakprofile: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	var l Leaks
	if jerr := json.Unmarshal(out, &l); jerr != nil {
		t.Fatalf("run: %v, output %q (%v), stderr %s", err, out, jerr, stderr.String())
	}
	if err != nil {
		t.Fatalf("no proven suspect: %v; leaks %+v", err, l)
	}
	file := filepath.Join(src, "main.go")
	line := markedLine(t, file, "// leaks here")
	var found *LeakSuspect
	for i := range l.Suspects {
		if l.Suspects[i].Kind == LeakGoroutines {
			found = &l.Suspects[i]
			break
		}
	}
	if found == nil {
		t.Fatalf("no proven suspect in %+v", l)
	}
	cu := found.Culprit
	if cu.Function != "main.notify.func1" || cu.File != file || cu.Line != line || cu.CreatedBy != "main.notify" {
		t.Errorf("culprit %s at %s:%d created by %s, want main.notify.func1 at %s:%d created by main.notify", cu.Function, cu.File, cu.Line, cu.CreatedBy, file, line)
	}
	if found.Certainty != LeakProven || found.PValue != nil || found.Current != 25 || found.Finding != FindingGoroutinesLeaked ||
		!strings.Contains(found.Headline, "chan send") || !strings.Contains(found.Headline, "main.go:") {
		t.Errorf("proven suspect %+v", found)
	}
	if l.Suspects[0].Kind != LeakGoroutines {
		t.Errorf("the proven suspect is not ranked first: %+v", l.Suspects)
	}
	t.Logf("proven: %s", found.Headline)
}

func markedLine(t *testing.T, file, mark string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), mark) {
			return n
		}
	}
	t.Fatalf("no line of %s ends with %q", file, mark)
	return 0
}

// TestGoroutineLeakProfileAbsent: the default build has no goroutineleak profile; the source
// reads none, proves nothing, and says so in the notes.
func TestGoroutineLeakProfileAbsent(t *testing.T) {
	if pprof.Lookup("goroutineleak") != nil {
		t.Skip("this test binary was built with the goroutineleak profile")
	}
	s := newGoroutineSource()
	if s.readLeaks != nil {
		t.Fatal("a reader for a profile the runtime does not have")
	}
	at := time.Now()
	s.sampleWindow(fakeReading(at, 10))
	s.sampleFull(&fullReading{snap: fakeReading(at, 10).snap})
	l := &Leaks{}
	s.fill(at, l)
	for _, su := range l.Suspects {
		if su.Kind == LeakGoroutines {
			t.Errorf("proven suspect without the profile: %+v", su)
		}
	}
	if !strings.Contains(strings.Join(l.Notes, "\n"), "no goroutineleak profile") {
		t.Errorf("notes %q do not say the profile is missing", l.Notes)
	}
}
