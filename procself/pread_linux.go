package procself

import (
	"os"
	"syscall"
)

// preadFile is a file kept open for reading again and again from offset 0 with exactly one pread
// per read. os.File.ReadAt loops until the buffer is full, so on a file shorter than the buffer (the
// normal case: the buffer is sized to hold the whole file) it makes a second pread that returns 0
// bytes for io.EOF; on /proc and cgroup files that second call costs as much as a small first one,
// because the kernel regenerates the seq_file at every read from offset 0. One pread from offset 0
// into a buffer larger than the file returns the whole file: these files are generated in one show
// call and copied out up to the buffer's size.
type preadFile struct {
	f  *os.File
	fd int // f's descriptor, taken once: f.Fd() on every read would cost a call and a lock
}

func openPread(path string) (preadFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return preadFile{}, err // *fs.PathError names the path and wraps the errno
	}
	return preadFile{f: f, fd: int(f.Fd())}, nil
}

// readAt0 reads the file from offset 0 into buf with one pread (retried only on EINTR) and returns
// how many bytes it got. n == len(buf) means the file may be longer than buf. Errors are
// *fs.PathError naming the file.
func (p preadFile) readAt0(buf []byte) (int, error) {
	for {
		n, err := syscall.Pread(p.fd, buf, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "pread", Path: p.f.Name(), Err: err}
		}
		return n, nil
	}
}

func (p preadFile) name() string { return p.f.Name() }
func (p preadFile) close() error { return p.f.Close() }
func (p preadFile) isOpen() bool { return p.f != nil }
