package procself

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var unlimited = CgroupLimit{Unlimited: true}

func limitOf(b uint64) CgroupLimit { return CgroupLimit{Bytes: b} }

// v1StatPresent is what a v1 memory.stat of Linux 6.x fills (plus KernelBytes, from kmem).
const v1StatPresent = CgroupStatAnon | CgroupStatFile | CgroupStatAnonTHP | CgroupStatShmem | CgroupStatFileMapped |
	CgroupStatFileDirty | CgroupStatFileWriteback | CgroupStatSwap | CgroupStatSwapCached | CgroupStatInactiveAnon |
	CgroupStatActiveAnon | CgroupStatInactiveFile | CgroupStatActiveFile | CgroupStatUnevictable |
	CgroupStatHierarchicalMemoryLimit

// v2StatPresent is what a Linux 6.1 memory.stat fills.
const v2StatPresent = CgroupStatAnon | CgroupStatFile | CgroupStatKernel | CgroupStatKernelStack | CgroupStatPageTables |
	CgroupStatPercpu | CgroupStatSock | CgroupStatVmalloc | CgroupStatSlab | CgroupStatSlabReclaimable |
	CgroupStatSlabUnreclaimable | CgroupStatShmem | CgroupStatFileMapped | CgroupStatFileDirty | CgroupStatFileWriteback |
	CgroupStatSwapCached | CgroupStatAnonTHP | CgroupStatInactiveAnon | CgroupStatActiveAnon | CgroupStatInactiveFile |
	CgroupStatActiveFile | CgroupStatUnevictable

const v1Present = CgroupHasUsage | CgroupHasLimit | CgroupHasEffectiveLimit | CgroupHasPeak | CgroupHasSwap |
	CgroupHasMemSwapLimit | CgroupHasEvents | CgroupHasStat

const v2Present = CgroupHasUsage | CgroupHasLimit | CgroupHasEffectiveLimit | CgroupHasPeak | CgroupHasSwap |
	CgroupHasSwapLimit | CgroupHasHigh | CgroupHasLow | CgroupHasMin | CgroupHasEvents | CgroupHasStat

func loc(root string, version int, path, mountPoint, mountRoot, dir string) CgroupLocation {
	return CgroupLocation{Version: version, Path: path, MountPoint: filepath.Join(root, mountPoint),
		MountRoot: mountRoot, Dir: filepath.Join(root, dir)}
}

// wantFixtures is every fixture that reads without error and the reading it must give.
func wantFixtures() map[string]CgroupMemory {
	const v1cg = "/process_api/44a8377f9e12b65e4263985dad86e507"
	const nestedPod = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7c1f.slice"
	return map[string]CgroupMemory{
		// Recorded on this machine: hybrid host, memory on v1, no limit anywhere.
		"testdata/cgroupv1": {
			CgroupLocation: loc("testdata/cgroupv1", 1, v1cg, "/sys/fs/cgroup/memory", "/", "/sys/fs/cgroup/memory"+v1cg),
			Present:        v1Present,
			UsageBytes:     9875456, Limit: unlimited, EffectiveLimit: unlimited,
			PeakBytes: 98205696, MemSwapLimit: unlimited,
			Stat: CgroupMemoryStat{
				Present:   v1StatPresent | CgroupStatKernel,
				AnonBytes: 1941504, FileBytes: 6352896, KernelBytes: 1077248, FileMappedBytes: 475136,
				FileDirtyBytes: 2990080, InactiveAnonBytes: 1802240, ActiveAnonBytes: 12288,
				InactiveFileBytes: 3264512, ActiveFileBytes: 3088384, HierarchicalMemoryLimit: unlimited,
			},
		},
		"testdata/cgroupv2": {
			CgroupLocation: loc("testdata/cgroupv2", 2, "/system.slice/memdiag-demo.service", "/sys/fs/cgroup", "/",
				"/sys/fs/cgroup/system.slice/memdiag-demo.service"),
			Present:    v2Present,
			UsageBytes: 52174848, Limit: limitOf(256 << 20), EffectiveLimit: limitOf(256 << 20),
			EffectiveLimitPath: "/system.slice/memdiag-demo.service",
			PeakBytes:          60817408, SwapLimit: unlimited, High: unlimited, Low: limitOf(0), Min: limitOf(0),
			Stat: CgroupMemoryStat{
				Present:   v2StatPresent,
				AnonBytes: 31457280, FileBytes: 16777216, KernelBytes: 3932160, KernelStackBytes: 327680,
				PageTablesBytes: 946176, PercpuBytes: 72960, SockBytes: 8192, VmallocBytes: 16384, SlabBytes: 2504704,
				SlabReclaimableBytes: 1804288, SlabUnreclaimableBytes: 700416, FileMappedBytes: 8388608,
				FileDirtyBytes: 4096, InactiveAnonBytes: 29360128, ActiveAnonBytes: 2097152,
				InactiveFileBytes: 10485760, ActiveFileBytes: 6291456,
			},
		},
		"testdata/cgroup-container": {
			CgroupLocation: loc("testdata/cgroup-container", 2, "/", "/sys/fs/cgroup", "/", "/sys/fs/cgroup"),
			Present:        v2Present,
			UsageBytes:     115867648, Limit: limitOf(1 << 30), EffectiveLimit: limitOf(1 << 30), EffectiveLimitPath: "/",
			PeakBytes: 134217728, SwapLimit: limitOf(0), High: unlimited, Low: limitOf(0), Min: limitOf(0),
			Events: CgroupMemoryEvents{Max: 3},
			Stat: CgroupMemoryStat{
				Present:   v2StatPresent,
				AnonBytes: 104857600, FileBytes: 8388608, KernelBytes: 2621440, KernelStackBytes: 196608,
				PageTablesBytes: 475136, PercpuBytes: 36480, VmallocBytes: 8192, SlabBytes: 1835008,
				SlabReclaimableBytes: 1048576, SlabUnreclaimableBytes: 786432, ShmemBytes: 65536,
				FileMappedBytes: 4194304, AnonTHPBytes: 20971520, InactiveAnonBytes: 100728832, ActiveAnonBytes: 4194304,
				InactiveFileBytes: 6225920, ActiveFileBytes: 2097152,
			},
		},
		// Linux 5.15: no memory.peak, no "kernel" in memory.stat; the pod's limit is the effective one.
		"testdata/cgroup-v2-nested": {
			CgroupLocation: loc("testdata/cgroup-v2-nested", 2, nestedPod+"/cri-containerd-9f2b.scope", "/sys/fs/cgroup", "/",
				"/sys/fs/cgroup"+nestedPod+"/cri-containerd-9f2b.scope"),
			Present:    v2Present &^ CgroupHasPeak,
			UsageBytes: 231122368, Limit: limitOf(512 << 20), EffectiveLimit: limitOf(256 << 20),
			EffectiveLimitPath: nestedPod,
			SwapLimit:          limitOf(0), High: unlimited, Low: limitOf(0), Min: limitOf(0),
			Events: CgroupMemoryEvents{Max: 12, OOM: 1, OOMKill: 1},
			Stat: CgroupMemoryStat{
				Present:   v2StatPresent&^CgroupStatVmalloc | CgroupStatKernelSummed,
				AnonBytes: 201326592, FileBytes: 25165824, KernelBytes: 262144 + 1163264 + 54720 + 3145728,
				KernelStackBytes: 262144, PageTablesBytes: 1163264, PercpuBytes: 54720, SockBytes: 4096,
				SlabBytes: 3145728, SlabReclaimableBytes: 2097152, SlabUnreclaimableBytes: 1048576,
				FileMappedBytes: 12582912, InactiveAnonBytes: 197132288, ActiveAnonBytes: 4194304,
				InactiveFileBytes: 16777216, ActiveFileBytes: 8388608,
			},
		},
		// v1 without a cgroup namespace; the pod's 256 MiB limit is above the mount, so only the
		// kernel's hierarchical_memory_limit knows it and no visible level is named.
		"testdata/cgroup-v1-kubepods": {
			CgroupLocation: loc("testdata/cgroup-v1-kubepods", 1, "/kubepods/burstable/pod5678/0123abcd",
				"/sys/fs/cgroup/memory", "/kubepods/burstable/pod5678/0123abcd", "/sys/fs/cgroup/memory"),
			Present:    v1Present,
			UsageBytes: 157286400, Limit: limitOf(512 << 20), EffectiveLimit: limitOf(256 << 20),
			PeakBytes: 201326592, MemSwapLimit: limitOf(512 << 20),
			Events: CgroupMemoryEvents{Max: 7, OOMKill: 2},
			Stat: CgroupMemoryStat{
				Present:   v1StatPresent | CgroupStatKernel,
				AnonBytes: 130023424, FileBytes: 20971520, KernelBytes: 4194304, FileMappedBytes: 8388608,
				FileDirtyBytes: 4096, InactiveAnonBytes: 125829120, ActiveAnonBytes: 4194304,
				InactiveFileBytes: 12582912, ActiveFileBytes: 8388608, HierarchicalMemoryLimit: limitOf(256 << 20),
			},
		},
	}
}

var ignoreAll = cmpopts.IgnoreFields(CgroupMemoryStat{}, "All")

func TestCgroupMemoryFixtures(t *testing.T) {
	needProc(t)
	for root, want := range wantFixtures() {
		t.Run(filepath.Base(root), func(t *testing.T) {
			got, err := New(root).CgroupMemory()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, ignoreAll); diff != "" {
				t.Errorf("CgroupMemory (-want +got):\n%s", diff)
			}
			// All holds every line of memory.stat, unchanged.
			raw, err := os.ReadFile(filepath.Join(want.Dir, "memory.stat"))
			if err != nil {
				t.Fatal(err)
			}
			wantAll := map[string]uint64{}
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				k, v, _ := strings.Cut(line, " ")
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				wantAll[k] = n
			}
			if diff := cmp.Diff(wantAll, got.Stat.All); diff != "" {
				t.Errorf("Stat.All (-want +got):\n%s", diff)
			}
		})
	}
}

// cheapView is what CgroupMemoryReader.Read promises of a full reading.
func cheapView(m CgroupMemory) CgroupMemory {
	c := CgroupMemory{
		CgroupLocation: m.CgroupLocation,
		Present:        m.Present & (CgroupHasUsage | CgroupHasLimit | CgroupHasEffectiveLimit | CgroupHasStat),
		UsageBytes:     m.UsageBytes, Limit: m.Limit, EffectiveLimit: m.EffectiveLimit,
		EffectiveLimitPath: m.EffectiveLimitPath, Stat: m.Stat,
	}
	c.Stat.All = nil
	if m.Version == 1 { // kmem.usage_in_bytes is not read every tick
		c.Stat.KernelBytes = 0
		c.Stat.Present &^= CgroupStatKernel
	}
	return c
}

func TestCgroupMemoryReaderFixtures(t *testing.T) {
	needProc(t)
	for root, full := range wantFixtures() {
		t.Run(filepath.Base(root), func(t *testing.T) {
			r, err := New(root).NewCgroupMemoryReader()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got CgroupMemory
			got.Stat.All = map[string]uint64{"stale": 1}
			if err := r.Read(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cheapView(full), got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
			if err := r.ReadUsage(&got); err != nil {
				t.Fatal(err)
			}
			want := cheapView(full)
			want.Present &^= CgroupHasStat
			want.Stat = CgroupMemoryStat{}
			if full.Version == 2 {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ReadUsage (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCgroupMemoryErrors(t *testing.T) {
	needProc(t)
	t.Run("no memory controller", func(t *testing.T) {
		_, err := New("testdata/cgroup-nomemory").CgroupMemory()
		if !errors.Is(err, ErrAbsent) || !strings.Contains(err.Error(), "no memory controller") {
			t.Errorf("error = %v, want one wrapping ErrAbsent saying there is no memory controller", err)
		}
		if _, err := New("testdata/cgroup-nomemory").NewCgroupMemoryReader(); !errors.Is(err, ErrAbsent) {
			t.Errorf("NewCgroupMemoryReader error = %v, want ErrAbsent", err)
		}
	})
	t.Run("no proc files", func(t *testing.T) {
		_, err := New(t.TempDir()).CgroupMemory()
		if err == nil {
			t.Fatal("no error for an empty root")
		}
	})
	t.Run("garbled", func(t *testing.T) {
		root := "testdata/cgroup-garbled"
		dir := filepath.Join(root, "sys/fs/cgroup/app")
		m, err := New(root).CgroupMemory()
		// A malformed line is its key's error: memory.stat's other keys and memory.events' other
		// counters are readings.
		checkFieldErrors(t, err, `memory.stat: kernel (line 3): value "3.9M" is not an unsigned integer below 2^64; memory.events: max (line 3): no value`, "kernel", "max")
		var fe *FieldErrors
		if errors.As(err, &fe) {
			if fe.File != dir || fe.Errs[0].File != filepath.Join(dir, "memory.stat") || fe.Errs[1].File != filepath.Join(dir, "memory.events") {
				t.Errorf("error files: %q, %q, %q", fe.File, fe.Errs[0].File, fe.Errs[1].File)
			}
		}
		// What could be read is kept; what could not is not pretended.
		wantStat := CgroupMemoryStat{
			Present:   CgroupStatAnon | CgroupStatFile | CgroupStatKernelStack | CgroupStatKernel | CgroupStatKernelSummed,
			AnonBytes: 31457280, FileBytes: 16777216, KernelStackBytes: 327680, KernelBytes: 327680,
		}
		want := CgroupMemory{
			CgroupLocation: loc(root, 2, "/app", "/sys/fs/cgroup", "/", "/sys/fs/cgroup/app"),
			Present:        CgroupHasUsage | CgroupHasLimit | CgroupHasEffectiveLimit | CgroupHasStat | CgroupHasEvents,
			UsageBytes:     52174848, Limit: unlimited, EffectiveLimit: unlimited,
			Stat: wantStat,
		}
		if diff := cmp.Diff(want, m, ignoreAll); diff != "" {
			t.Errorf("partial reading (-want +got):\n%s", diff)
		}
		if _, ok := m.Stat.All["kernel"]; ok || m.Stat.All["anon"] != 31457280 {
			t.Errorf("All = %v, want anon and no kernel", m.Stat.All)
		}

		r, err := New(root).NewCgroupMemoryReader()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got CgroupMemory
		err = r.Read(&got)
		checkFieldErrors(t, err, "memory.stat: kernel (line 3)", "kernel")
		want.Present &^= CgroupHasEvents // the cheap reader does not read events
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Read: partial reading (-want +got):\n%s", diff)
		}
	})
	t.Run("empty files", func(t *testing.T) {
		root := "testdata/cgroup-empty"
		m, err := New(root).CgroupMemory()
		files := []string{"memory.current", "memory.max", "memory.stat", "memory.peak", "memory.events"}
		checkFieldErrors(t, err, "", files...)
		var fe *FieldErrors
		if errors.As(err, &fe) {
			for i, f := range files {
				if pe := fe.Errs[i]; pe.File != filepath.Join(root, "sys/fs/cgroup/app", f) || pe.Msg != "empty file" {
					t.Errorf("error %d = %+v, want %s: empty file", i, pe, f)
				}
			}
		}
		if m.Present != 0 {
			t.Errorf("Present = %b, want nothing from empty files", m.Present)
		}
	})
}

func TestCgroupMemoryReaderLifecycle(t *testing.T) {
	needProc(t)
	r, err := New("testdata/cgroupv2").NewCgroupMemoryReader()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	var m CgroupMemory
	if err := r.Read(&m); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close = %v, want os.ErrClosed", err)
	}
	if err := r.Refresh(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Refresh after Close = %v, want os.ErrClosed", err)
	}
}

// TestCgroupMemoryReaderRefresh moves the process to another cgroup and checks that Refresh follows.
func TestCgroupMemoryReaderRefresh(t *testing.T) {
	needProc(t)
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/cgroup-v2-nested")); err != nil {
		t.Fatal(err)
	}
	// os.CopyFS does not copy symlinks; recreate proc/self.
	os.Remove(filepath.Join(root, "proc/self"))
	if err := os.Symlink("4242", filepath.Join(root, "proc/self")); err != nil {
		t.Fatal(err)
	}
	r, err := New(root).NewCgroupMemoryReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	const moved = "/kubepods.slice/kubepods-burstable.slice/other"
	dir := filepath.Join(root, "sys/fs/cgroup", moved)
	for name, content := range map[string]string{"memory.current": "4096\n", "memory.max": "max\n", "memory.stat": "anon 4096\n"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "proc/4242/cgroup"), []byte("0::"+moved+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(); err != nil {
		t.Fatal(err)
	}
	var got CgroupMemory
	if err := r.Read(&got); err != nil {
		t.Fatal(err)
	}
	want := CgroupMemory{
		CgroupLocation:     loc(root, 2, moved, "/sys/fs/cgroup", "/", "/sys/fs/cgroup"+moved),
		Present:            CgroupHasUsage | CgroupHasLimit | CgroupHasEffectiveLimit | CgroupHasStat,
		UsageBytes:         4096,
		Limit:              unlimited,
		EffectiveLimit:     limitOf(8053063680), // kubepods.slice
		EffectiveLimitPath: "/kubepods.slice",
		Stat:               CgroupMemoryStat{Present: CgroupStatAnon, AnonBytes: 4096},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read after Refresh (-want +got):\n%s", diff)
	}
}

// TestCgroupMemoryReadSlowEvery: usage is read on every call, the limit and memory.stat on the
// first and every Nth, and the calls between carry them marked as carried with their age — never
// as a fresh reading.
// On v1 the effective limit comes from the (carried) hierarchical_memory_limit, so it does not
// flip to the walk's answer (this fixture's own limit, 512 MiB) on carried calls.
func TestCgroupMemoryReadSlowEvery(t *testing.T) {
	needProc(t)
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/cgroup-v1-kubepods")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "proc/self")) // os.CopyFS does not copy symlinks
	if err := os.Symlink("4242", filepath.Join(root, "proc/self")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sys/fs/cgroup/memory")
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	statFile, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(root).NewCgroupMemoryReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var fresh, m CgroupMemory
	r2, err := New(root).NewCgroupMemoryReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.Read(&fresh); err != nil {
		t.Fatal(err)
	}
	read := func(every int, maxAge time.Duration) {
		t.Helper()
		if err := r.ReadSlowEvery(&m, every, maxAge); err != nil {
			t.Fatal(err)
		}
	}
	read(3, 0) // the first call reads memory.stat
	if diff := cmp.Diff(fresh, m); diff != "" {
		t.Fatalf("first ReadSlowEvery differs from Read (-Read +ReadSlowEvery):\n%s", diff)
	}
	// The kernel's counters move and an operator lowers the limit: usage is seen at once, the
	// limit and memory.stat on the fourth (every = 3: one fresh call, two carried).
	write("memory.usage_in_bytes", "157290496\n")
	write("memory.limit_in_bytes", "402653184\n")
	write("memory.stat", strings.Replace(string(statFile), "total_rss 130023424", "total_rss 130027520", 1))
	for i := 1; i <= 2; i++ {
		read(3, 0)
		if m.UsageBytes != 157290496 {
			t.Errorf("call %d: usage %d, want the new 157290496", i+1, m.UsageBytes)
		}
		if !m.Carried || m.CarriedAgeReads != i || m.CarriedAge <= 0 || !m.Present.Has(CgroupHasStat) {
			t.Errorf("call %d: carried %v, %d reads and %v old; want carried, %d reads old", i+1, m.Carried, m.CarriedAgeReads, m.CarriedAge, i)
		}
		if diff := cmp.Diff(fresh.Stat, m.Stat); diff != "" {
			t.Errorf("call %d: carried Stat is not the last reading (-want +got):\n%s", i+1, diff)
		}
		if m.Limit != fresh.Limit || !m.Present.Has(CgroupHasLimit) {
			t.Errorf("call %d: carried limit %+v, want the last reading %+v", i+1, m.Limit, fresh.Limit)
		}
		if m.EffectiveLimit != fresh.EffectiveLimit || m.EffectiveLimit != limitOf(268435456) {
			t.Errorf("call %d: effective limit %+v, want %+v as on the fresh call", i+1, m.EffectiveLimit, fresh.EffectiveLimit)
		}
	}
	read(3, 0)
	if m.Limit != limitOf(402653184) {
		t.Errorf("fourth call: limit %+v, want the new 402653184", m.Limit)
	}
	if m.Carried || m.CarriedAge != 0 || m.CarriedAgeReads != 0 || m.Stat.AnonBytes != 130027520 {
		t.Errorf("fourth call: carried %v (%v, %d reads), anon %d; want a fresh read of 130027520", m.Carried, m.CarriedAge, m.CarriedAgeReads, m.Stat.AnonBytes)
	}
	// An age bound makes every call read it once the reading is that old.
	read(100, time.Nanosecond)
	if m.Carried {
		t.Error("carried a reading older than maxAge")
	}
	// every <= 1 never carries.
	read(1, 0)
	if m.Carried {
		t.Error("carried with every = 1")
	}
	// Refresh forgets the reading: the cgroup may have changed.
	read(100, 0)
	if err := r.Refresh(); err != nil {
		t.Fatal(err)
	}
	read(100, 0)
	if m.Carried {
		t.Error("carried a reading across Refresh")
	}
	// A memory.stat that cannot be read is not carried over: the next call tries it again, and
	// meanwhile Stat is absent, not the older reading.
	write("memory.stat", "")
	if err := r.ReadSlowEvery(&m, 100, 0); err != nil {
		t.Fatal(err) // still carried: it was read fine one call ago
	}
	for i := 0; i < 99; i++ {
		_ = r.ReadSlowEvery(&m, 100, 0)
	}
	err = r.ReadSlowEvery(&m, 100, 0)
	checkFieldErrors(t, err, "memory.stat: empty file", "memory.stat")
	if m.Present.Has(CgroupHasStat) || m.Carried || !cmp.Equal(m.Stat, CgroupMemoryStat{}) {
		t.Errorf("after a failed memory.stat: %+v", m)
	}
	err = r.ReadSlowEvery(&m, 100, 0)
	checkFieldErrors(t, err, "memory.stat: empty file", "memory.stat")
	if m.Carried {
		t.Error("carried after a failed read")
	}
}

func TestCgroupMemoryReaderAllocs(t *testing.T) {
	needProc(t)
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	roots := []string{"testdata/cgroupv1", "testdata/cgroupv2"}
	if supported {
		if _, err := New("/").CgroupLocation(); err == nil {
			roots = append(roots, "/")
		}
	}
	for _, root := range roots {
		t.Run(root, func(t *testing.T) {
			r, err := New(root).NewCgroupMemoryReader()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var m CgroupMemory
			if err := r.Read(&m); err != nil { // warm: the buffer has grown
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() { _ = r.Read(&m) }); n != 0 {
				t.Errorf("Read allocates %v times per call, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() { _ = r.ReadUsage(&m) }); n != 0 {
				t.Errorf("ReadUsage allocates %v times per call, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() { _ = r.ReadSlowEvery(&m, 10, time.Minute) }); n != 0 {
				t.Errorf("ReadSlowEvery allocates %v times per call, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() { _ = r.ReadStatEvery(&m, 10, time.Minute) }); n != 0 {
				t.Errorf("ReadStatEvery allocates %v times per call, want 0", n)
			}
		})
	}
}

// TestCgroupMemoryThisMachine checks the cheap reading against the process itself: the anonymous
// memory this process faulted in is charged to its cgroup, so usage cannot be much below it, and
// the limit, if any, is not below usage.
func TestCgroupMemoryThisMachine(t *testing.T) {
	realCgroupLocation(t)
	ballast := make([]byte, 32<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	r, err := New("/").NewCgroupMemoryReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var m CgroupMemory
	if err := r.Read(&m); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(ballast)
	rssAnon := statusBytes(t, "RssAnon:")
	// v1 usage_in_bytes is batched per CPU (up to 64 pages each on current kernels).
	slack := uint64(runtime.NumCPU()) * 64 * uint64(os.Getpagesize())
	if !m.Present.Has(CgroupHasUsage) {
		t.Fatalf("no usage read: %+v", m)
	}
	if m.UsageBytes+slack < rssAnon {
		t.Errorf("cgroup usage %d B is below this process's anonymous RSS %d B", m.UsageBytes, rssAnon)
	}
	if total := meminfoBytes(t, "MemTotal:"); m.UsageBytes > total {
		t.Errorf("cgroup usage %d B is above MemTotal %d B", m.UsageBytes, total)
	}
	if !m.Limit.Unlimited && m.Limit.Bytes+slack < m.UsageBytes {
		t.Errorf("limit %d B is below usage %d B", m.Limit.Bytes, m.UsageBytes)
	}
	if !m.EffectiveLimit.Unlimited && m.EffectiveLimit.Bytes+slack < m.UsageBytes {
		t.Errorf("effective limit %d B is below usage %d B", m.EffectiveLimit.Bytes, m.UsageBytes)
	}
	if ws, ok := m.WorkingSetBytes(); !ok || ws > m.UsageBytes {
		t.Errorf("working set %d B (ok %v) with usage %d B", ws, ok, m.UsageBytes)
	}
	t.Logf("v%d %s: usage %d B, limit %+v, effective %+v at %q, anon RSS %d B",
		m.Version, m.Path, m.UsageBytes, m.Limit, m.EffectiveLimit, m.EffectiveLimitPath, rssAnon)

	full, err := New("/").CgroupMemory()
	if err != nil {
		t.Fatalf("full read: %v", err)
	}
	if full.Stat.All == nil || !full.Present.Has(CgroupHasStat) {
		t.Errorf("full read has no memory.stat: %+v", full)
	}
}

func statusBytes(t *testing.T, key string) uint64  { return kBLine(t, "/proc/self/status", key) }
func meminfoBytes(t *testing.T, key string) uint64 { return kBLine(t, "/proc/meminfo", key) }

func kBLine(t *testing.T, file, key string) uint64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Skip(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == key {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n << 10
		}
	}
	t.Skipf("%s has no %s", file, key)
	return 0
}

func TestParseCgroupLimit(t *testing.T) {
	tests := []struct {
		in      string
		version int
		want    CgroupLimit
		wantErr bool
	}{
		{"max\n", 2, unlimited, false},
		{"268435456\n", 2, limitOf(268435456), false},
		{"0\n", 2, limitOf(0), false},
		{"9223372036854771712\n", 1, unlimited, false}, // 4 KiB pages
		{"9223372036854710272\n", 1, unlimited, false}, // 64 KiB pages
		{"9223372036854771712\n", 2, limitOf(9223372036854771712), false},
		{"536870912\n", 1, limitOf(536870912), false},
		{"", 2, CgroupLimit{}, true},
		{"\n", 1, CgroupLimit{}, true},
		{"-1\n", 1, CgroupLimit{}, true},
		{"18446744073709551616\n", 2, CgroupLimit{}, true}, // 2^64
		{"12 34\n", 2, CgroupLimit{}, true},
		{"MAX\n", 2, CgroupLimit{}, true},
	}
	for _, tt := range tests {
		got, err := parseCgroupLimit([]byte(tt.in), tt.version)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseCgroupLimit(%q, v%d) error = %v, want error %v", tt.in, tt.version, err, tt.wantErr)
			continue
		}
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("parseCgroupLimit(%q) error %v is not a *ParseError", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("parseCgroupLimit(%q, v%d) = %+v, want %+v", tt.in, tt.version, got, tt.want)
		}
	}
}

func TestParseMemoryStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		version int
		want    CgroupMemoryStat
		wantErr string
		fields  []string // a *FieldErrors naming these keys, with want kept
	}{{
		name:    "v1 total_ wins over local, in either order",
		in:      "total_rss 300\nrss 100\ncache 50\ntotal_cache 70\nmapped_file 9\n",
		version: 1,
		want: CgroupMemoryStat{Present: CgroupStatAnon | CgroupStatFile | CgroupStatFileMapped,
			AnonBytes: 300, FileBytes: 70, FileMappedBytes: 9},
	}, {
		name:    "v1 limited hierarchy",
		in:      "hierarchical_memory_limit 268435456\n",
		version: 1,
		want:    CgroupMemoryStat{Present: CgroupStatHierarchicalMemoryLimit, HierarchicalMemoryLimit: limitOf(268435456)},
	}, {
		name:    "v2 total_ is just an unknown key",
		in:      "anon 1\ntotal_anon 2\n",
		version: 2,
		want:    CgroupMemoryStat{Present: CgroupStatAnon, AnonBytes: 1},
	}, {
		name:    "v2 kernel summed from parts on old kernels",
		in:      "kernel_stack 10\npagetables 20\npercpu 3\nsock 1000\nslab 40\n",
		version: 2,
		want: CgroupMemoryStat{
			Present:          CgroupStatKernelStack | CgroupStatPageTables | CgroupStatPercpu | CgroupStatSock | CgroupStatSlab | CgroupStatKernel | CgroupStatKernelSummed,
			KernelStackBytes: 10, PageTablesBytes: 20, PercpuBytes: 3, SockBytes: 1000, SlabBytes: 40, KernelBytes: 73,
		},
	}, {
		name:    "trailing blank lines and CRs are tolerated",
		in:      "anon 5\r\n\n\n",
		version: 2,
		want:    CgroupMemoryStat{Present: CgroupStatAnon, AnonBytes: 5},
	}, {
		name: "no value", in: "anon 1\nfile\n", version: 2,
		want: CgroupMemoryStat{Present: CgroupStatAnon, AnonBytes: 1}, wantErr: "file (line 2): no value", fields: []string{"file"},
	}, {
		name: "negative", in: "anon -1\nfile 4\n", version: 2,
		want: CgroupMemoryStat{Present: CgroupStatFile, FileBytes: 4}, wantErr: `anon (line 1): value "-1" is not an unsigned integer`, fields: []string{"anon"},
	}, {
		// A failed total_ must not leave the cgroup-only value in its place, in either order.
		name: "v1 total_ malformed", in: "rss 100\ncache 5\ntotal_rss 1e9\ntotal_cache x\ncache 6\n", version: 1,
		want: CgroupMemoryStat{}, wantErr: "2 unread fields", fields: []string{"total_rss", "total_cache"},
	}, {
		name: "garbage", in: "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", version: 2, wantErr: "more than 8 malformed lines: not a flat-keyed file",
	}, {
		name: "empty", in: "", version: 2, wantErr: `: empty file`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got CgroupMemoryStat
			err := parseMemoryStat([]byte(tt.in), tt.version, &got, nil)
			if len(tt.fields) > 0 {
				checkParsed(t, got, err, tt.want, tt.wantErr, tt.fields...)
				return
			}
			if tt.wantErr != "" {
				if err == nil || !strings.HasSuffix(withFile(err, "memory.stat").Error(), tt.wantErr) {
					t.Errorf("error = %v, want suffix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMemoryEventsAndOOMControl(t *testing.T) {
	var ev CgroupMemoryEvents
	if err := parseMemoryEvents([]byte("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\nsock_throttled 7\n"), &ev); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(CgroupMemoryEvents{Low: 1, High: 2, Max: 3, OOM: 4, OOMKill: 5, OOMGroupKill: 6}, ev); diff != "" {
		t.Errorf("memory.events (-want +got):\n%s", diff)
	}
	ev = CgroupMemoryEvents{}
	if err := parseOOMControl([]byte("oom_kill_disable 1\nunder_oom 1\noom_kill 9\n"), &ev); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(CgroupMemoryEvents{OOMKillDisable: true, UnderOOM: true, OOMKill: 9}, ev); diff != "" {
		t.Errorf("memory.oom_control (-want +got):\n%s", diff)
	}
}

func TestSetEffectiveLimit(t *testing.T) {
	tests := []struct {
		name     string
		m        CgroupMemory
		anc      CgroupLimit
		ancPath  string
		want     CgroupLimit
		wantPath string
	}{
		{"own limit only", CgroupMemory{CgroupLocation: CgroupLocation{Path: "/a/b"}, Present: CgroupHasLimit, Limit: limitOf(100)},
			unlimited, "", limitOf(100), "/a/b"},
		{"ancestor stricter", CgroupMemory{CgroupLocation: CgroupLocation{Path: "/a/b"}, Present: CgroupHasLimit, Limit: limitOf(100)},
			limitOf(50), "/a", limitOf(50), "/a"},
		{"equal: the deepest level names it", CgroupMemory{CgroupLocation: CgroupLocation{Path: "/a/b"}, Present: CgroupHasLimit, Limit: limitOf(50)},
			limitOf(50), "/a", limitOf(50), "/a/b"},
		{"nothing anywhere", CgroupMemory{CgroupLocation: CgroupLocation{Path: "/a/b"}, Present: CgroupHasLimit, Limit: unlimited},
			unlimited, "", unlimited, ""},
		{"no limit file (v2 root)", CgroupMemory{CgroupLocation: CgroupLocation{Path: "/"}}, unlimited, "", unlimited, ""},
		{"v1 kernel's hierarchical limit matches a visible ancestor",
			CgroupMemory{CgroupLocation: CgroupLocation{Path: "/a/b"}, Present: CgroupHasLimit, Limit: unlimited,
				Stat: CgroupMemoryStat{Present: CgroupStatHierarchicalMemoryLimit, HierarchicalMemoryLimit: limitOf(70)}},
			limitOf(70), "/a", limitOf(70), "/a"},
		{"v1 kernel's hierarchical limit set above the mount",
			CgroupMemory{CgroupLocation: CgroupLocation{Path: "/"}, Present: CgroupHasLimit, Limit: limitOf(100),
				Stat: CgroupMemoryStat{Present: CgroupStatHierarchicalMemoryLimit, HierarchicalMemoryLimit: limitOf(70)}},
			unlimited, "", limitOf(70), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			m.setEffectiveLimit(tt.anc, tt.ancPath)
			if m.EffectiveLimit != tt.want || m.EffectiveLimitPath != tt.wantPath || !m.Present.Has(CgroupHasEffectiveLimit) {
				t.Errorf("effective = %+v at %q, want %+v at %q", m.EffectiveLimit, m.EffectiveLimitPath, tt.want, tt.wantPath)
			}
		})
	}
}

func TestWorkingSetBytes(t *testing.T) {
	tests := []struct {
		name   string
		m      CgroupMemory
		want   uint64
		wantOK bool
	}{
		{"usage minus inactive file", CgroupMemory{Present: CgroupHasUsage, UsageBytes: 100,
			Stat: CgroupMemoryStat{Present: CgroupStatInactiveFile, InactiveFileBytes: 30}}, 70, true},
		{"clamped at zero", CgroupMemory{Present: CgroupHasUsage, UsageBytes: 10,
			Stat: CgroupMemoryStat{Present: CgroupStatInactiveFile, InactiveFileBytes: 30}}, 0, true},
		{"no stat", CgroupMemory{Present: CgroupHasUsage, UsageBytes: 10}, 0, false},
		{"carried stat", CgroupMemory{Present: CgroupHasUsage | CgroupHasStat, UsageBytes: 100, Carried: true, CarriedAge: time.Second, CarriedAgeReads: 1,
			Stat: CgroupMemoryStat{Present: CgroupStatInactiveFile, InactiveFileBytes: 30}}, 0, false},
	}
	for _, tt := range tests {
		got, ok := tt.m.WorkingSetBytes()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: WorkingSetBytes = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

// fixtureFiles seeds the fuzzers with every file of one name under testdata.
func fixtureFiles(f *testing.F, name string) [][]byte {
	var out [][]byte
	err := filepath.WalkDir("testdata", func(p string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != name {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	return out
}

func FuzzParseMemoryStat(f *testing.F) {
	for _, b := range fixtureFiles(f, "memory.stat") {
		f.Add(b, uint8(1))
		f.Add(b, uint8(2))
	}
	f.Add([]byte("total_ 1\n"), uint8(1))
	f.Add([]byte("anon 18446744073709551615\n"), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, version uint8) {
		v := int(version%2) + 1
		var st CgroupMemoryStat
		all := map[string]uint64{}
		err := parseMemoryStat(b, v, &st, all)
		if err != nil {
			checkFuzzErr(t, err)
			if !IsPartial(err) {
				return
			}
		}
		// Every named field agrees with the raw map.
		var plain CgroupMemoryStat
		if perr := parseMemoryStat(b, v, &plain, nil); (perr == nil) != (err == nil) {
			t.Fatalf("parse without map: %v; with: %v", perr, err)
		}
		if diff := cmp.Diff(plain, st, ignoreAll); diff != "" {
			t.Fatalf("filling All changed the fields:\n%s", diff)
		}
		if st.Present.Has(CgroupStatAnon) && !st.Present.Has(CgroupStatKernelSummed) {
			// On v1 any key may come with a total_ prefix, total_anon included.
			if !slices.ContainsFunc([]string{"anon", "rss", "total_rss", "total_anon"}, func(k string) bool { _, ok := all[k]; return ok }) {
				t.Fatalf("anon set without an anon, rss, total_rss or total_anon key")
			}
		}
	})
}

func FuzzParseCgroupLimit(f *testing.F) {
	for _, name := range []string{"memory.max", "memory.limit_in_bytes", "memory.current", "memory.usage_in_bytes", "memory.high", "memory.peak"} {
		for _, b := range fixtureFiles(f, name) {
			f.Add(b, uint8(1))
			f.Add(b, uint8(2))
		}
	}
	f.Add([]byte("max"), uint8(2))
	f.Add([]byte("18446744073709551615\n"), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, version uint8) {
		v := int(version%2) + 1
		l, err := parseCgroupLimit(b, v)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if l.Unlimited && l.Bytes != 0 {
			t.Fatalf("unlimited with bytes: %+v", l)
		}
		if !l.Unlimited {
			if got := strconv.FormatUint(l.Bytes, 10); strings.TrimLeft(string(bytes.TrimSpace(b)), "0") != strings.TrimLeft(got, "0") {
				t.Fatalf("parsed %q as %d", b, l.Bytes)
			}
		}
	})
}

func FuzzParseMemoryEvents(f *testing.F) {
	for _, name := range []string{"memory.events", "memory.oom_control"} {
		for _, b := range fixtureFiles(f, name) {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func([]byte, *CgroupMemoryEvents) error{parseMemoryEvents, parseOOMControl} {
			var ev CgroupMemoryEvents
			if err := parse(b, &ev); err != nil {
				checkFuzzErr(t, err)
				var pe *ParseError
				if !errors.As(err, &pe) || (pe.Line == 0 && pe.Msg != "empty file") {
					t.Fatalf("error %v is not a *ParseError with a line", err)
				}
			}
		}
	})
}

// BenchmarkCgroupMemory measures each tier on this machine's real cgroup, and each file alone, so
// that the tick can be chosen by cost: memory.stat is generated by the kernel on every read.
func BenchmarkCgroupMemory(b *testing.B) {
	realCgroupLocation(b)
	r, err := New("/").NewCgroupMemoryReader()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var m CgroupMemory
	if err := r.Read(&m); err != nil {
		b.Fatal(err)
	}
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Read(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadUsage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.ReadUsage(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadSlowEvery10", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.ReadSlowEvery(&m, 10, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadStatEvery10", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.ReadStatEvery(&m, 10, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, f := range map[string]preadFile{"usage": r.usage, "limit": r.limit, "stat": r.stat} {
		// One pread (what the reader does) against os.File.ReadAt, which makes a second pread
		// for io.EOF when the file is shorter than the buffer.
		b.Run("pread/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.readAt0(r.statBuf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("ReadAt/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.f.ReadAt(r.statBuf, 0); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
		})
	}
	stat, err := r.preadStat()
	if err != nil {
		b.Fatal(err)
	}
	stat = bytes.Clone(stat)
	b.Run("parse/stat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var st CgroupMemoryStat
			if err := parseMemoryStat(stat, r.loc.Version, &st, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open-read-close/stat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := os.ReadFile(r.stat.name()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CgroupMemory", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := New("/").CgroupMemory(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Refresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := r.Refresh(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCgroupMemoryReadStatEvery: the limit is read on every call, memory.stat on the first and
// every Nth. On v1 the effective limit follows a lowered own limit at once even while the
// hierarchical limit in memory.stat is carried, and an ancestor's stricter limit (here 256 MiB,
// set above the mount point and seen only in hierarchical_memory_limit) still applies.
func TestCgroupMemoryReadStatEvery(t *testing.T) {
	needProc(t)
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/cgroup-v1-kubepods")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "proc/self")) // os.CopyFS does not copy symlinks
	if err := os.Symlink("4242", filepath.Join(root, "proc/self")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sys/fs/cgroup/memory")
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	statFile, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(root).NewCgroupMemoryReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var m CgroupMemory
	read := func() {
		t.Helper()
		if err := r.ReadStatEvery(&m, 10, 0); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if m.Carried || m.Limit != limitOf(512<<20) || m.EffectiveLimit != limitOf(256<<20) {
		t.Fatalf("first call: carried %v, limit %+v, effective %+v; want fresh 512 MiB, effective 256 MiB", m.Carried, m.Limit, m.EffectiveLimit)
	}
	// Lowered, but still above the ancestor's 256 MiB: the effective limit stays 256 MiB.
	write("memory.limit_in_bytes", "402653184\n")
	read()
	if !m.Carried || !m.CarriedStatOnly || m.Limit != limitOf(384<<20) || m.EffectiveLimit != limitOf(256<<20) {
		t.Errorf("own limit lowered to 384 MiB: carried %v (stat only %v), limit %+v, effective %+v; want the stat carried, limit 384 MiB, effective 256 MiB",
			m.Carried, m.CarriedStatOnly, m.Limit, m.EffectiveLimit)
	}
	// Lowered below the ancestor's: followed at once, though memory.stat (which still says 256 MiB) is carried.
	write("memory.limit_in_bytes", "134217728\n")
	read()
	if !m.Carried || m.Limit != limitOf(128<<20) || m.EffectiveLimit != limitOf(128<<20) {
		t.Errorf("own limit lowered to 128 MiB: carried %v, limit %+v, effective %+v; want 128 MiB both", m.Carried, m.Limit, m.EffectiveLimit)
	}
	if m.Stat.HierarchicalMemoryLimit != limitOf(256<<20) || !m.Stat.Present.Has(CgroupStatHierarchicalMemoryLimit) {
		t.Errorf("the carried memory.stat was changed: hierarchical limit %+v", m.Stat.HierarchicalMemoryLimit)
	}
	// Where the hierarchical limit was the cgroup's own, a lowered own limit replaces it.
	write("memory.stat", strings.Replace(string(statFile), "hierarchical_memory_limit 268435456", "hierarchical_memory_limit 134217728", 1))
	for range 10 {
		if read(); !m.Carried {
			break // the tenth call since the last fresh one reads memory.stat again
		}
	}
	if m.Carried || m.EffectiveLimit != limitOf(128<<20) {
		t.Fatalf("after ten calls: carried %v, effective %+v; want a fresh read, 128 MiB", m.Carried, m.EffectiveLimit)
	}
	write("memory.limit_in_bytes", "67108864\n")
	read()
	if m.EffectiveLimit != limitOf(64<<20) {
		t.Errorf("own limit lowered to 64 MiB with its old value carried as the hierarchical limit: effective %+v, want 64 MiB", m.EffectiveLimit)
	}
	// ReadSlowEvery, by contrast, carries the limit too.
	write("memory.limit_in_bytes", "33554432\n")
	var s CgroupMemory
	if err := r.ReadSlowEvery(&s, 10, 0); err != nil {
		t.Fatal(err)
	}
	if !s.Carried || s.CarriedStatOnly || s.Limit != limitOf(128<<20) {
		t.Errorf("ReadSlowEvery: carried %v (stat only %v), limit %+v; want the limit carried from the last stat read, 128 MiB", s.Carried, s.CarriedStatOnly, s.Limit)
	}
}
