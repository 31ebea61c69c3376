//go:build !linux

package runtimediag

import "io"

// openSelfMemory has nothing to open off Linux; there are no smaps to classify either.
func openSelfMemory() (io.ReaderAt, func()) { return nil, func() {} }
