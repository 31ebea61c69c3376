package procself

import (
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// smallFDTargets are the links of testdata/proc-small/proc/4242/fd, as ls -l showed them for the
// recording process.
var smallFDTargets = []FDTarget{
	{FD: 0, Target: "/dev/null", Kind: FDDevice},
	{FD: 1, Target: "/tmp/rec/pid", Kind: FDFile},
	{FD: 2, Target: "/dev/null", Kind: FDDevice},
	{FD: 3, Target: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", Kind: FDFile},
	{FD: 4, Target: "/sys/fs/cgroup/cpu/cpu.cfs_period_us", Kind: FDFile},
	{FD: 5, Target: "pipe:[12713]", Kind: FDPipe},
	{FD: 6, Target: "pipe:[12713]", Kind: FDPipe},
	{FD: 7, Target: "socket:[12714]", Kind: FDSocket},
	{FD: 8, Target: "anon_inode:[eventpoll]", Kind: FDAnonInode, AnonType: "[eventpoll]"},
	{FD: 9, Target: "anon_inode:[eventfd]", Kind: FDAnonInode, AnonType: "[eventfd]"},
	{FD: 10, Target: "/dev/null", Kind: FDDevice},
	{FD: 11, Target: "anon_inode:[timerfd]", Kind: FDAnonInode, AnonType: "[timerfd]"},
	{FD: 12, Target: "/memfd:rec-scratch (deleted)", Kind: FDMemfd, Deleted: true},
	{FD: 13, Target: "/dev/null", Kind: FDDevice},
	{FD: 14, Target: "anon_inode:[eventpoll]", Kind: FDAnonInode, AnonType: "[eventpoll]"},
	{FD: 15, Target: "anon_inode:[eventfd]", Kind: FDAnonInode, AnonType: "[eventfd]"},
}

func TestFDsFixture(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	for _, tc := range []struct {
		name string
		max  int
		want FDs
	}{
		{name: "all", max: 0, want: FDs{
			Count:      16,
			Targets:    smallFDTargets,
			ByKind:     map[FDKind]int{FDFile: 3, FDSocket: 1, FDPipe: 2, FDAnonInode: 5, FDDevice: 4, FDMemfd: 1, FDOther: 0},
			AnonInodes: map[string]int{"[eventpoll]": 2, "[eventfd]": 2, "[timerfd]": 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New("testdata/proc-small").FDs(tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FDs(%d) mismatch (-want +got):\n%s", tc.max, diff)
			}
		})
	}
}

// TestFDsTruncated: with a bound below the count, only that many targets are read. A fixture directory
// lists in the filesystem's order rather than /proc's ascending one, so which five is not fixed here.
func TestFDsTruncated(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	got, err := New("testdata/proc-small").FDs(5)
	if err != nil {
		t.Fatal(err)
	}
	if got.Count != 16 || len(got.Targets) != 5 || !got.Truncated {
		t.Fatalf("FDs(5) = count %d, %d targets, truncated %v; want 16, 5, true", got.Count, len(got.Targets), got.Truncated)
	}
	sum := 0
	for _, n := range got.ByKind {
		sum += n
	}
	if sum != 5 {
		t.Errorf("ByKind sums to %d, want 5", sum)
	}
	for _, target := range got.Targets {
		if diff := cmp.Diff(smallFDTargets[target.FD], target); diff != "" {
			t.Errorf("fd %d mismatch (-want +got):\n%s", target.FD, diff)
		}
	}
}

func TestClassifyFDTarget(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   FDTarget
	}{
		{"/var/log/app.log", FDTarget{Kind: FDFile}},
		{"/var/log/app.log (deleted)", FDTarget{Kind: FDFile, Deleted: true}},
		{"/dev/shm/arena (deleted)", FDTarget{Kind: FDFile, Deleted: true}},
		{"/dev/pts/0", FDTarget{Kind: FDDevice}},
		{"/memfd:x (deleted)", FDTarget{Kind: FDMemfd, Deleted: true}},
		{"socket:[456]", FDTarget{Kind: FDSocket}},
		{"pipe:[123]", FDTarget{Kind: FDPipe}},
		{"anon_inode:[io_uring]", FDTarget{Kind: FDAnonInode, AnonType: "[io_uring]"}},
		{"anon_inode:[pidfd]", FDTarget{Kind: FDAnonInode, AnonType: "[pidfd]"}},
		{"anon_inode:inotify", FDTarget{Kind: FDAnonInode, AnonType: "inotify"}},
		{"net:[4026531840]", FDTarget{Kind: FDOther}},
		{"", FDTarget{Kind: FDOther}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			tc.want.FD, tc.want.Target = 7, tc.target
			if diff := cmp.Diff(tc.want, classifyFDTarget(7, tc.target)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
