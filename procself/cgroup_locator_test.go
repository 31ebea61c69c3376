package procself

import (
	"os"
	"path/filepath"
	"testing"
)

func copyCgroupFixture(t *testing.T, dir string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	// os.CopyFS does not copy symlinks; recreate proc/self.
	os.Remove(filepath.Join(root, "proc/self"))
	if err := os.Symlink("4242", filepath.Join(root, "proc/self")); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestCgroupLocatorKeepsTheLocation: the locator resolves once, answers from what it kept while
// the process's cgroup file is unchanged (even with mountinfo gone, so it cannot have re-read
// it), and resolves again when the process moved.
func TestCgroupLocatorKeepsTheLocation(t *testing.T) {
	needProc(t)
	root := copyCgroupFixture(t, "testdata/cgroup-v2-nested")
	fs := New(root)
	want, err := fs.CgroupLocation()
	if err != nil {
		t.Fatal(err)
	}
	l := fs.NewCgroupLocator()
	for i := range 3 {
		got, err := l.Locate()
		if err != nil || got != want {
			t.Fatalf("Locate #%d = %+v, %v; want %+v", i, got, err, want)
		}
	}
	mountinfo := filepath.Join(root, "proc/4242/mountinfo")
	saved, err := os.ReadFile(mountinfo)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(mountinfo)
	if got, err := l.Locate(); err != nil || got != want {
		t.Fatalf("unchanged cgroup, mountinfo gone: Locate = %+v, %v; want the kept %+v", got, err, want)
	}
	m, err := fs.CgroupMemoryAt(want)
	if err != nil && !IsPartial(err) || m.Dir != want.Dir {
		t.Errorf("CgroupMemoryAt = %+v, %v", m.CgroupLocation, err)
	}

	// The process moves: the cgroup file changes, so the locator resolves again (and says why
	// it cannot while mountinfo is gone).
	const moved = "/kubepods.slice/kubepods-burstable.slice/other"
	if err := os.MkdirAll(filepath.Join(root, "sys/fs/cgroup", moved), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sys/fs/cgroup", moved, "memory.current"), []byte("4096\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc/4242/cgroup"), []byte("0::"+moved+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Locate(); err == nil {
		t.Fatal("moved cgroup with mountinfo gone: Locate kept the old location")
	}
	if err := os.WriteFile(mountinfo, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := l.Locate()
	if err != nil || got.Path != moved || got.Dir != filepath.Join(root, "sys/fs/cgroup", moved) {
		t.Fatalf("after the move: Locate = %+v, %v; want path %s", got, err, moved)
	}
	l.Forget()
	if again, err := l.Locate(); err != nil || again != got {
		t.Errorf("after Forget: Locate = %+v, %v; want %+v", again, err, got)
	}
}

// TestCgroupLocatorIsCheap: a kept location costs a few allocations (one small file read), a
// resolution dozens (mountinfo parsed by procfs).
func TestCgroupLocatorIsCheap(t *testing.T) {
	needProc(t)
	root := copyCgroupFixture(t, "testdata/cgroup-v2-nested")
	fs := New(root)
	l := fs.NewCgroupLocator()
	if _, err := l.Locate(); err != nil {
		t.Fatal(err)
	}
	kept := testing.AllocsPerRun(20, func() { l.Locate() })
	resolve := testing.AllocsPerRun(20, func() { fs.CgroupLocation() })
	t.Logf("allocations: kept %.0f, resolving %.0f", kept, resolve)
	if kept > 8 || kept*5 > resolve {
		t.Errorf("a kept location costs %.0f allocations, resolving %.0f: want ≤ 8 and under a fifth", kept, resolve)
	}
}

// TestCgroupLocatorSharedWithReader: a reader opened through the locator takes its location, so
// the tick's reader and a full read resolve the cgroup once between them.
func TestCgroupLocatorSharedWithReader(t *testing.T) {
	needProc(t)
	root := copyCgroupFixture(t, "testdata/cgroup-v2-nested")
	l := New(root).NewCgroupLocator()
	want, err := l.Locate()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "proc/4242/mountinfo")) // a resolution would fail now
	r, err := l.NewCgroupMemoryReader()
	if err != nil {
		t.Fatalf("NewCgroupMemoryReader through a locator that holds the location: %v", err)
	}
	defer r.Close()
	if r.loc != want {
		t.Errorf("reader location %+v, want %+v", r.loc, want)
	}
	var m CgroupMemory
	if err := r.Read(&m); err != nil && !IsPartial(err) {
		t.Errorf("Read: %v", err)
	}
	if _, err := New(root).NewCgroupMemoryReader(); err == nil {
		t.Error("a reader without the locator resolved without mountinfo")
	}
}
