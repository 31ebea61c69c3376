package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestHelperChild is the child Go process TestPs looks for: the test binary itself, run again,
// parked until its parent kills it.
func TestHelperChild(t *testing.T) {
	if os.Getenv("MEMDIAG_TEST_CHILD") != "1" {
		t.Skip("the child process of TestPs")
	}
	time.Sleep(time.Minute)
}

func startChild(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// TestPs finds a child Go process, with its resident set and classes, and leaves out a child that
// is not a Go program.
func TestPs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	child := exec.Command(os.Args[0], "-test.run=^TestHelperChild$")
	child.Env = append(os.Environ(), "MEMDIAG_TEST_CHILD=1")
	goPID := startChild(t, child)
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	otherPID := startChild(t, exec.Command(sleepPath, "60"))

	var stdout, stderr bytes.Buffer
	if code := run([]string{"ps", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res psResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	var found *goProcess
	for i, p := range res.Processes {
		if p.PID == otherPID {
			t.Errorf("listed sleep (%d), not a Go program: %+v", otherPID, p)
		}
		if p.PID == goPID {
			found = &res.Processes[i]
		}
	}
	if found == nil {
		t.Fatalf("the child Go process %d is not listed among %d", goPID, len(res.Processes))
	}
	if found.GoVersion != runtime.Version() || found.ResidentBytes == nil || *found.ResidentBytes == 0 {
		t.Errorf("child: %+v, want Go %s and a resident set", found, runtime.Version())
	}
	if len(found.Classes) == 0 || found.ClassesError != "" {
		t.Errorf("child's classes not read: %+v", found)
	}
	if !found.Memdiag {
		t.Errorf("the test binary links memdiag, listed without it")
	}

	stdout.Reset()
	if code := run([]string{"ps", "--no-classes"}, &stdout, &stderr); code != 0 || !bytes.Contains(stdout.Bytes(), []byte("Go processes")) {
		t.Errorf("text: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if code := run([]string{"ps", "extra"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("ps with an argument: exit %d", code)
	}
}
