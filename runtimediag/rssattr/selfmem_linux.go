package rssattr

import (
	"io"
	"syscall"
)

// openSelfMemory opens /proc/self/mem to read a few bytes of this process's own memory (malloc
// chunk headers) through a system call: a read of an address that is unmapped meanwhile fails
// with EIO instead of faulting, and no Go pointer is made from an address. It uses the raw
// descriptor rather than os.File, whose registration with the network poller cost as much as the
// reads. It returns nil when the file cannot be opened (a hardened kernel, a seccomp policy); the
// classifier then does without.
func openSelfMemory() (io.ReaderAt, func()) {
	fd, err := syscall.Open("/proc/self/mem", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, func() {}
	}
	return selfMemory(fd), func() { syscall.Close(fd) }
}

type selfMemory int

func (fd selfMemory) ReadAt(p []byte, off int64) (int, error) {
	n, err := syscall.Pread(int(fd), p, off)
	if err != nil {
		return 0, err // Pread returns -1 with an error; io.ReaderAt's n is never negative
	}
	if n < len(p) {
		return n, io.ErrUnexpectedEOF
	}
	return n, nil
}
