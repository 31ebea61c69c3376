package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
	if found.PPID == nil || *found.PPID != os.Getpid() || found.GoParentPID == nil || *found.GoParentPID != os.Getpid() {
		t.Errorf("child's ppid %v and Go parent %v, want this test process %d", found.PPID, found.GoParentPID, os.Getpid())
	}

	stdout.Reset()
	if code := run([]string{"ps", "--no-classes"}, &stdout, &stderr); code != 0 || !bytes.Contains(stdout.Bytes(), []byte("Go processes")) {
		t.Errorf("text: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"ps", "--tree", "--no-classes"}, &stdout, &stderr); code != 0 || !bytes.Contains(stdout.Bytes(), []byte(fmt.Sprintf("─ %d ", goPID))) {
		t.Errorf("--tree: exit %d, child %d not drawn under a parent\n%s%s", code, goPID, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"ps", strconv.Itoa(goPID)}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), runtime.Version()) ||
		!strings.Contains(stdout.String(), fmt.Sprintf("parent        %d\n", os.Getpid())) || !strings.Contains(stdout.String(), "-test.run=^TestHelperChild$") {
		t.Errorf("ps %d: exit %d\n%s%s", goPID, code, stdout.String(), stderr.String())
	}
	// This test process, with a listening socket of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stdout.Reset()
	if code := run([]string{"ps", strconv.Itoa(os.Getpid())}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "tcp "+ln.Addr().String()+" -> 0.0.0.0:0 LISTEN") {
		t.Errorf("ps %d (this process): exit %d, its listener %s not listed\n%s%s", os.Getpid(), code, ln.Addr(), stdout.String(), stderr.String())
	}
	if code := run([]string{"ps", "extra"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("ps with an argument: exit %d", code)
	}
}

// TestPsTree links each Go process to its nearest Go ancestor through a fixture /proc where a
// shell (not Go) sits between a Go parent and its Go grandchild, and draws the tree.
func TestPsTree(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	proc := filepath.Join(root, "proc")
	// pid → ppid: 1 init, 10 a Go server, 11 a shell it started, 12 a Go program the shell runs,
	// 13 another Go child of 10, 20 a Go program whose parent is init.
	for pid, ppid := range map[int]int{1: 0, 10: 1, 11: 10, 12: 11, 13: 10, 20: 1} {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (p%d) S %d %d 7128 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 5539897 3133440 411 18446744073709551615 1 2 3 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 4 5 6 7 8 9 10 0\n", pid, pid, ppid, pid)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(proc)
	if err != nil {
		t.Fatal(err)
	}
	ps := []goProcess{{PID: 10, Exe: "/srv/api", GoVersion: "go1.26.0"}, {PID: 12, Exe: "/srv/job", GoVersion: "go1.26.0"},
		{PID: 13, Exe: "/srv/worker", GoVersion: "go1.26.0", Memdiag: true}, {PID: 20, Exe: "/usr/bin/tool", GoVersion: "go1.25.1"}}
	linkGoParents(proc, ents, ps)
	want := map[int][2]int{10: {1, -1}, 12: {11, 10}, 13: {10, 10}, 20: {1, -1}}
	for _, p := range ps {
		gp := -1
		if p.GoParentPID != nil {
			gp = *p.GoParentPID
		}
		if p.PPID == nil || *p.PPID != want[p.PID][0] || gp != want[p.PID][1] {
			t.Errorf("pid %d: ppid %v go parent %d, want %v", p.PID, p.PPID, gp, want[p.PID])
		}
	}
	var out bytes.Buffer
	writePsTree(&out, &psResult{Processes: ps})
	for _, line := range []string{"10 /srv/api (go1.26.0)\n", "├─ 12 /srv/job (go1.26.0)\n", "└─ 13 /srv/worker (go1.26.0, memdiag)\n", "20 /usr/bin/tool (go1.25.1)\n"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("tree lacks %q:\n%s", line, out.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"ps", "--tree", "--json"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("ps --tree --json: exit %d", code)
	}
}
