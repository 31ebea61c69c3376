package procself

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/procfs"
)

func cgroupMount(root, mountPoint, fstype, superOpts string) *procfs.MountInfo {
	opts := map[string]string{}
	for _, o := range strings.Split(superOpts, ",") {
		opts[o] = ""
	}
	return &procfs.MountInfo{Root: root, MountPoint: mountPoint, FSType: fstype, SuperOptions: opts}
}

// TestResolveMemoryCgroup proves that the cgroup path maps onto the right directory for each
// layout the kernel produces: v1, v2, hybrid, containers with and without a cgroup namespace, and
// cgroups outside the namespace.
func TestResolveMemoryCgroup(t *testing.T) {
	hybridMounts := []*procfs.MountInfo{
		cgroupMount("/", "/sys/fs/cgroup/cpu", "cgroup", "rw,cpu"),
		cgroupMount("/", "/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
		cgroupMount("/", "/sys/fs/cgroup/unified", "cgroup2", "rw"),
	}
	v2Mounts := []*procfs.MountInfo{
		{Root: "/", MountPoint: "/", FSType: "ext4"},
		cgroupMount("/", "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"),
	}
	tests := []struct {
		name    string
		cgroups []procfs.Cgroup
		mounts  []*procfs.MountInfo
		want    CgroupLocation
		wantErr error
	}{{
		name: "hybrid host, memory on v1 (this machine)",
		cgroups: []procfs.Cgroup{
			{HierarchyID: 4, Controllers: []string{"memory"}, Path: "/process_api/44a8"},
			{HierarchyID: 1, Controllers: []string{"cpu"}, Path: "/"},
			{HierarchyID: 0, Path: "/"},
		},
		mounts: hybridMounts,
		want: CgroupLocation{Version: 1, Path: "/process_api/44a8", MountPoint: "/sys/fs/cgroup/memory",
			MountRoot: "/", Dir: "/sys/fs/cgroup/memory/process_api/44a8"},
	}, {
		name:    "pure v2 host",
		cgroups: []procfs.Cgroup{{HierarchyID: 0, Path: "/system.slice/app.service"}},
		mounts:  v2Mounts,
		want: CgroupLocation{Version: 2, Path: "/system.slice/app.service", MountPoint: "/sys/fs/cgroup",
			MountRoot: "/", Dir: "/sys/fs/cgroup/system.slice/app.service"},
	}, {
		name:    "v2 container with a cgroup namespace",
		cgroups: []procfs.Cgroup{{HierarchyID: 0, Path: "/"}},
		mounts:  v2Mounts,
		want:    CgroupLocation{Version: 2, Path: "/", MountPoint: "/sys/fs/cgroup", MountRoot: "/", Dir: "/sys/fs/cgroup"},
	}, {
		name:    "v1 container, mount root is the container's cgroup",
		cgroups: []procfs.Cgroup{{HierarchyID: 11, Controllers: []string{"memory"}, Path: "/kubepods/pod1/ctr"}},
		mounts:  []*procfs.MountInfo{cgroupMount("/kubepods/pod1/ctr", "/sys/fs/cgroup/memory", "cgroup", "rw,memory")},
		want: CgroupLocation{Version: 1, Path: "/kubepods/pod1/ctr", MountPoint: "/sys/fs/cgroup/memory",
			MountRoot: "/kubepods/pod1/ctr", Dir: "/sys/fs/cgroup/memory"},
	}, {
		name:    "v1, mount root a parent of the cgroup",
		cgroups: []procfs.Cgroup{{HierarchyID: 11, Controllers: []string{"memory"}, Path: "/kubepods/pod1/ctr"}},
		mounts:  []*procfs.MountInfo{cgroupMount("/kubepods", "/sys/fs/cgroup/memory", "cgroup", "rw,memory")},
		want: CgroupLocation{Version: 1, Path: "/kubepods/pod1/ctr", MountPoint: "/sys/fs/cgroup/memory",
			MountRoot: "/kubepods", Dir: "/sys/fs/cgroup/memory/pod1/ctr"},
	}, {
		name:    "mount root must match whole path elements",
		cgroups: []procfs.Cgroup{{HierarchyID: 0, Path: "/kubepods2/ctr"}},
		mounts: []*procfs.MountInfo{
			cgroupMount("/kubepods", "/a", "cgroup2", "rw"),
			cgroupMount("/kubepods2", "/b", "cgroup2", "rw"),
		},
		want: CgroupLocation{Version: 2, Path: "/kubepods2/ctr", MountPoint: "/b", MountRoot: "/kubepods2", Dir: "/b/ctr"},
	}, {
		name:    "cgroup outside the namespace, reachable through a mount made outside it",
		cgroups: []procfs.Cgroup{{HierarchyID: 0, Path: "/../../init"}},
		mounts: []*procfs.MountInfo{
			cgroupMount("/", "/sys/fs/cgroup", "cgroup2", "rw"),
			cgroupMount("/../..", "/host-cgroup", "cgroup2", "rw"),
		},
		want: CgroupLocation{Version: 2, Path: "/../../init", MountPoint: "/host-cgroup", MountRoot: "/../..", Dir: "/host-cgroup/init"},
	}, {
		name:    "cgroup outside the namespace, unreachable",
		cgroups: []procfs.Cgroup{{HierarchyID: 0, Path: "/../.."}},
		mounts:  v2Mounts,
		wantErr: ErrAbsent,
	}, {
		name:    "escaped mount point",
		cgroups: []procfs.Cgroup{{HierarchyID: 0, Path: "/a b"}},
		mounts:  []*procfs.MountInfo{cgroupMount("/", `/mnt/my\040cgroups`, "cgroup2", "rw")},
		want:    CgroupLocation{Version: 2, Path: "/a b", MountPoint: "/mnt/my cgroups", MountRoot: "/", Dir: "/mnt/my cgroups/a b"},
	}, {
		name: "no memory controller, no cgroup2 mount",
		cgroups: []procfs.Cgroup{
			{HierarchyID: 1, Controllers: []string{"cpu"}, Path: "/"},
			{HierarchyID: 0, Path: "/"},
		},
		mounts:  []*procfs.MountInfo{cgroupMount("/", "/sys/fs/cgroup/cpu", "cgroup", "rw,cpu")},
		wantErr: ErrAbsent,
	}, {
		name:    "v1 memory line without a mount",
		cgroups: []procfs.Cgroup{{HierarchyID: 4, Controllers: []string{"memory"}, Path: "/x"}},
		mounts:  v2Mounts,
		wantErr: ErrAbsent,
	}, {
		name:    "empty cgroup file",
		wantErr: ErrAbsent,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveMemoryCgroup(tt.cgroups, tt.mounts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("location (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCgroupLocationThisMachine checks the resolution against the kernel's own view: the directory
// found must list this process in cgroup.procs.
func TestCgroupLocationThisMachine(t *testing.T) {
	loc := realCgroupLocation(t)
	b, err := os.ReadFile(filepath.Join(loc.Dir, "cgroup.procs"))
	if err != nil {
		t.Skipf("cannot read cgroup.procs: %v", err)
	}
	pid := strings.TrimSpace(string(mustReadlink(t, "/proc/self")))
	if !strings.Contains("\n"+string(b), "\n"+pid+"\n") {
		t.Errorf("%s does not list pid %s", loc.Dir, pid)
	}
}

func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// realCgroupLocation skips the test where there is no memory cgroup to read.
func realCgroupLocation(t testing.TB) CgroupLocation {
	t.Helper()
	if !supported {
		t.Skip("no /proc on this system")
	}
	loc, err := New("/").CgroupLocation()
	if err != nil {
		t.Skipf("no memory cgroup: %v", err)
	}
	return loc
}

func TestUnescapeMountPath(t *testing.T) {
	tests := map[string]string{
		`/sys/fs/cgroup`:    "/sys/fs/cgroup",
		`/a\040b`:           "/a b",
		`/tab\011nl\012`:    "/tab\tnl\n",
		`/back\134slash`:    `/back\slash`,
		`/bad\9`:            `/bad\9`,
		`/short\04`:         `/short\04`,
		`/toolarge\777here`: `/toolarge\777here`,
	}
	for in, want := range tests {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzFindMount: any cgroup path and mount root either fails or lands inside the mount point.
func FuzzFindMount(f *testing.F) {
	f.Add("/process_api/44a8", "/")
	f.Add("/", "/")
	f.Add("/../../init", "/../..")
	f.Add("/kubepods/pod1/ctr", "/kubepods")
	f.Add("/a/../../..", "/")
	f.Add(`/x\040y`, `/x\040`)
	f.Fuzz(func(t *testing.T, cgroup, root string) {
		mounts := []*procfs.MountInfo{cgroupMount(root, "/sys/fs/cgroup", "cgroup2", "rw")}
		loc, err := findMount(mounts, cgroup, func(*procfs.MountInfo) bool { return true })
		if err != nil {
			return
		}
		if !hasPathPrefix(loc.Dir, "/sys/fs/cgroup") {
			t.Errorf("cgroup %q under root %q resolved to %q, outside the mount", cgroup, root, loc.Dir)
		}
	})
}

// needProc skips fixture tests off Linux, where every reader returns errUnsupported (which
// TestCgroupUnsupported checks).
func needProc(t testing.TB) {
	t.Helper()
	if !supported {
		t.Skip("no /proc on this system")
	}
}

func TestCgroupUnsupported(t *testing.T) {
	if supported {
		t.Skip("this system has /proc")
	}
	fs := New("testdata/cgroupv2")
	if _, err := fs.CgroupMemory(); !errors.Is(err, errUnsupported) {
		t.Errorf("CgroupMemory: %v, want errUnsupported", err)
	}
	if _, err := fs.NewCgroupMemoryReader(); !errors.Is(err, errUnsupported) {
		t.Errorf("NewCgroupMemoryReader: %v, want errUnsupported", err)
	}
	if _, err := New("testdata/environ").Environ(nil); !errors.Is(err, errUnsupported) {
		t.Errorf("Environ: %v, want errUnsupported", err)
	}
}
