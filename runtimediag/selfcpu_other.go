//go:build !linux

package runtimediag

import "time"

// selfCPUMethod says how memdiag's own CPU is measured on this platform.
const selfCPUMethod = "wall time of each full collection, window reading and tick (no thread CPU clock on this platform)"

// measureCPU runs f and returns its wall time.
func measureCPU(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}
