package procself

import (
	"errors"
	"fmt"
	"runtime"
)

// ErrUnsupported is returned, wrapped, by every reader on systems without /proc (anything but Linux).
var ErrUnsupported = fmt.Errorf("/proc is not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// ErrAbsent marks a file the running kernel does not provide at all (for example /proc/<pid>/latency,
// which needs CONFIG_LATENCYTOP), as opposed to one it provides but denies.
var ErrAbsent = errors.New("not provided by this kernel")

// ParseError is a malformed file: which file, which line (1-based; 0 when the whole file is at fault)
// and what was wrong with it.
type ParseError struct {
	File string // the path as read, e.g. /proc/self/smaps
	Line int    // 1-based line number; 0 when the fault is not on one line
	Msg  string // what was wrong
	Err  error  // an underlying error such as strconv.ErrSyntax, if any
}

func (e *ParseError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ParseError) Unwrap() error { return e.Err }

// withFile sets the file name on a *ParseError produced by a pure parser (which does not know where
// its bytes came from); other errors are returned unchanged.
func withFile(err error, file string) error {
	var pe *ParseError
	if errors.As(err, &pe) && pe.File == "" {
		pe.File = file
	}
	return err
}
