//go:build !cgo

package workload

// Available reports whether the workloads can run (the package was built with cgo).
const Available = false

// CHeap is unavailable without cgo.
type CHeap struct{}

// Malloc returns ErrNoCgo.
func Malloc(count, size int) (*CHeap, error) { return nil, ErrNoCgo }

// Free does nothing.
func (h *CHeap) Free() {}

// Threads are unavailable without cgo.
type Threads struct{}

// StartThreads returns ErrNoCgo.
func StartThreads(n, touch int) (*Threads, error) { return nil, ErrNoCgo }

// Stop does nothing.
func (t *Threads) Stop() {}
