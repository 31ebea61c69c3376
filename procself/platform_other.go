//go:build !linux

package procself

// supported reports whether this system has a /proc filesystem to read.
const supported = false
