package runtimediag

import (
	"io"
	"os"
)

// openSelfMemory opens /proc/self/mem to read a few bytes of this process's own memory (malloc
// chunk headers) through a system call: a read of an address that is unmapped meanwhile fails
// with EIO instead of faulting, and no Go pointer is made from an address. It returns nil when the
// file cannot be opened (a hardened kernel, a seccomp policy); the classifier then does without.
func openSelfMemory() (io.ReaderAt, func()) {
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		return nil, func() {}
	}
	return f, func() { f.Close() }
}
