package runtimediag

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// selfCPUMethod says how memdiag's own CPU is measured on this platform.
const selfCPUMethod = "thread CPU clock (CLOCK_THREAD_CPUTIME_ID) around each full collection and window reading, its goroutine locked to its thread; wall time of each tick"

// clockThreadCPUTime is CLOCK_THREAD_CPUTIME_ID.
const clockThreadCPUTime = 3

// threadCPU is the calling thread's CPU time; ok is false when the clock cannot be read.
func threadCPU() (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// measureCPU runs f on a goroutine locked to its thread and returns the CPU time f took, or its
// wall time when the thread clock cannot be read.
func measureCPU(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	c0, ok0 := threadCPU()
	f()
	c1, ok1 := threadCPU()
	if ok0 && ok1 && c1 >= c0 {
		return c1 - c0
	}
	return time.Since(start)
}
