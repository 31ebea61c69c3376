package procself

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIdentityFixture(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	got, err := New("testdata/proc-small").Identity()
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{
		Cmdline: []string{"./rec", "-mode=record"},
		Comm:    "rec",
		Cwd:     "/tmp/rec",
		Exe:     "/tmp/rec/rec",
		Root:    "/",
		Wchan:   "futex_do_wait",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Identity() mismatch (-want +got):\n%s", diff)
	}
}

// identityRoot makes a root whose process 1 has the given exe link and wchan, and nothing else.
func identityRoot(t *testing.T, exe, wchan string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "proc", "1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("1", filepath.Join(root, "proc", "self")); err != nil {
		t.Fatal(err)
	}
	if exe != "" {
		if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "wchan"), []byte(wchan), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestExeDeleted(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	path, deleted, err := New(identityRoot(t, "/usr/bin/app (deleted)", "0")).Exe()
	if err != nil || path != "/usr/bin/app" || !deleted {
		t.Errorf(`Exe() = %q, %v, %v; want "/usr/bin/app", true, nil`, path, deleted, err)
	}
}

func TestWchanRunning(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	for _, w := range []string{"0", ""} {
		if got, err := New(identityRoot(t, "/x", w)).Wchan(); err != nil || got != "" {
			t.Errorf("Wchan() with file %q = %q, %v; want \"\", nil", w, got, err)
		}
	}
}

// TestIdentityPartial: a missing link is an error naming it (procfs would return ""), and the rest of
// the identity still comes back.
func TestIdentityPartial(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	root := identityRoot(t, "", "do_epoll_wait")
	id, err := New(root).Identity()
	if !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("error = %v, want fs.ErrNotExist", err)
	}
	for _, name := range []string{"cmdline", "comm", "cwd", "exe", "root"} {
		if !strings.Contains(err.Error(), filepath.Join("proc", "self", name)) && !strings.Contains(err.Error(), filepath.Join("proc", "1", name)) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if id.Wchan != "do_epoll_wait" {
		t.Errorf("Wchan = %q, want the one readable field", id.Wchan)
	}
}
