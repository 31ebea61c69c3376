package procself

import (
	"errors"
	iofs "io/fs"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestThreadsSelf forces the runtime onto extra OS threads (a goroutine locked to its thread and
// parked keeps that thread out of the scheduler's pool) and checks that every one is found.
func TestThreadsSelf(t *testing.T) {
	const locked = 4
	tids := make(chan int)
	release := make(chan struct{})
	defer close(release)
	for range locked {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- syscall.Gettid()
			<-release
		}()
	}
	parked := map[int]bool{}
	for range locked {
		parked[<-tids] = true
	}

	// Read from a locked goroutine too, so the reading thread is known and must be listed.
	type result struct {
		self    int
		threads []Thread
		err     error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		th, err := New("").Threads(0)
		done <- result{syscall.Gettid(), th.Threads, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.threads) < locked+2 {
		t.Errorf("%d threads, want at least %d locked ones, the reader and the main thread", len(r.threads), locked)
	}
	t.Logf("%d threads (task/ now lists %d)", len(r.threads), len(entries))
	found := map[int]Thread{}
	for _, th := range r.threads {
		found[th.TID] = th
		if th.Name == "" || th.StateName == "unknown" || th.StartTicks == 0 {
			t.Errorf("thread %+v: empty name, unknown state or no start time", th)
		}
		// As root the stack is readable; otherwise the reason must be a permission error.
		if th.StackErr != nil && !errors.Is(th.StackErr, iofs.ErrPermission) {
			t.Errorf("thread %d: StackErr %v", th.TID, th.StackErr)
		}
		if th.SyscallErr != nil {
			t.Errorf("thread %d: SyscallErr %v: a process may trace its own threads", th.TID, th.SyscallErr)
		}
	}
	for tid := range parked {
		if _, ok := found[tid]; !ok {
			t.Errorf("locked thread %d not found", tid)
		}
	}
	self, ok := found[r.self]
	if !ok {
		t.Fatalf("reading thread %d not found", r.self)
	}
	// A thread reading its own syscall file sees the read(2) it is making, not "running".
	if self.State != "R" || self.Syscall.State != SyscallBlocked {
		t.Errorf("reading thread: state %q, syscall %+v", self.State, self.Syscall)
	}
	if os.Geteuid() == 0 && self.StackErr == nil && !strings.Contains(strings.Join(self.Stack, " "), "proc_pid_stack") {
		t.Logf("reading thread's stack %q does not show it reading its stack", self.Stack)
	}
}
