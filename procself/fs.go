package procself

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/prometheus/procfs"
)

// FS reads one process's /proc files and its cgroup below a root directory. The zero value is not
// usable; call [New]. An FS is safe for concurrent use: it holds no open files itself.
type FS struct {
	root string // filesystem root, "/" in production
	pid  string // "self" or a decimal process ID
}

// New returns an FS for the calling process ("self") below root; an empty root means "/".
func New(root string) FS { return ForPID(root, 0) }

// ForPID returns an FS for process pid below root; pid 0 means the calling process ("self").
// Reading another process's files needs the same permissions as reading them with cat.
func ForPID(root string, pid int) FS {
	if root == "" {
		root = "/"
	}
	p := "self"
	if pid > 0 {
		p = strconv.Itoa(pid)
	}
	return FS{root: root, pid: p}
}

// Root is the filesystem root this FS reads below.
func (fs FS) Root() string { return fs.root }

// ProcPath is the path of a file of the process, e.g. ProcPath("smaps") = /proc/self/smaps.
func (fs FS) ProcPath(elem ...string) string {
	return filepath.Join(append([]string{fs.root, "proc", fs.pid}, elem...)...)
}

// HostPath is a path below the root, e.g. HostPath("/sys/fs/cgroup/memory.max").
func (fs FS) HostPath(p string) string { return filepath.Join(fs.root, p) }

// procfs returns the procfs view of the process; errors name the path that failed.
func (fs FS) procfs() (procfs.Proc, error) {
	if !supported {
		return procfs.Proc{}, ErrUnsupported
	}
	pfs, err := procfs.NewFS(filepath.Join(fs.root, "proc"))
	if err != nil {
		return procfs.Proc{}, fmt.Errorf("procfs: %w", err)
	}
	if fs.pid == "self" {
		p, err := pfs.Self()
		if err != nil {
			return procfs.Proc{}, fmt.Errorf("%s: %w", fs.ProcPath(), err)
		}
		return p, nil
	}
	pid, _ := strconv.Atoi(fs.pid)
	return pfs.Proc(pid)
}

// maxFileBytes bounds any single /proc file read into memory (smaps of a process with a million
// mappings is ~300 MiB; anything past this is not a /proc file we understand).
const maxFileBytes = 1 << 30

// readFile reads a whole /proc file. /proc files report size 0, so it reads until EOF, bounded by
// maxFileBytes. Errors wrap the os error (fs.ErrNotExist, fs.ErrPermission) and name the path.
func (fs FS) readFile(path string) ([]byte, error) {
	if !supported {
		return nil, fmt.Errorf("%s: %w", path, ErrUnsupported)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError already names the path
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, maxFileBytes)
	}
	return b, nil
}
