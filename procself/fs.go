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

// ProcPath is the path of a file of the process, e.g. ProcPath("smaps") = /proc/self/smaps.
func (fs FS) ProcPath(elem ...string) string {
	return filepath.Join(append([]string{fs.root, "proc", fs.pid}, elem...)...)
}

// hostPath is a path below the root, e.g. hostPath("/sys/fs/cgroup/memory.max").
func (fs FS) hostPath(p string) string { return filepath.Join(fs.root, p) }

// procfs returns the procfs view of the process; errors name the path that failed.
func (fs FS) procfs() (procfs.Proc, error) {
	if !supported {
		return procfs.Proc{}, errUnsupported
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
	b, _, err := readFileInto(path, nil, 0)
	return b, err
}

// readFileInto is readFile reading into buf[:0], grown (doubled) as needed, and also returns how
// many read calls it made. A caller that passes back the buffer it got reads a file of the same
// size again without allocating. chunk > 0 caps each read call at chunk bytes (see
// smapsReadChunk for why).
func readFileInto(path string, buf []byte, chunk int) (b []byte, reads int, err error) {
	if !supported {
		return nil, 0, fmt.Errorf("%s: %w", path, errUnsupported)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err // *fs.PathError already names the path
	}
	defer f.Close()
	b = buf[:0]
	if cap(b) == 0 {
		b = make([]byte, 0, 512) // io.ReadAll's start: most /proc files are small
	}
	for {
		if len(b) > maxFileBytes {
			return nil, reads, fmt.Errorf("read %s: larger than %d bytes", path, maxFileBytes)
		}
		if len(b) == cap(b) {
			b = append(make([]byte, 0, 2*cap(b)), b...)
		}
		end := min(cap(b), maxFileBytes+1)
		if chunk > 0 {
			end = min(end, len(b)+chunk)
		}
		n, err := f.Read(b[len(b):end])
		reads++
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, reads, nil
		}
		if err != nil {
			return nil, reads, fmt.Errorf("read %s: %w", path, err)
		}
	}
}
