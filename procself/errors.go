package procself

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// errUnsupported is returned, wrapped, by every reader on systems without /proc (anything but Linux).
// Callers test for errors.ErrUnsupported, which it wraps.
var errUnsupported = fmt.Errorf("/proc is not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// ErrAbsent marks a file the running kernel does not provide at all (for example /proc/<pid>/latency,
// which needs CONFIG_LATENCYTOP), as opposed to one it provides but denies.
var ErrAbsent = errors.New("not provided by this kernel")

// ParseError is a malformed file or field: which file, which line (1-based; 0 when the whole file is
// at fault), which field (empty when the fault is the file's shape, not one value) and what was wrong.
type ParseError struct {
	File string // the path as read, e.g. /proc/self/smaps
	Line int    // 1-based line number; 0 when the fault is not on one line
	// Field names the value that could not be parsed, as the file names it: a status or
	// smaps_rollup key ("Uid", "VmRSS"), a proc_pid_stat(5) field name ("cutime"), a statm column
	// ("shared"), a limits row ("Max open files"), a memory.stat key. Empty when the file as a whole
	// is at fault (empty, truncated, not the expected format).
	Field string
	Msg   string // what was wrong
	Err   error  // an underlying error such as strconv.ErrSyntax, if any
}

func (e *ParseError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ParseError) Unwrap() error { return e.Err }

// FieldErrors is the error a reader returns together with a filled value when the file was read
// and has the expected shape but some of its values could not be parsed (out of range, not a
// number, a unit the parser does not know). Each such field is left zero in the value and named
// here; every other field holds its reading. A caller that shows the value marks exactly these
// fields as unread:
//
//	st, err := fs.Status()
//	var fe *procself.FieldErrors
//	switch {
//	case errors.As(err, &fe): // st is valid except fe.Fields()
//	case err != nil: // nothing was read
//	}
//
// Errors about the file as a whole (it cannot be opened, it is empty, truncated, or not the file
// it should be) are never FieldErrors: then the value is zero.
type FieldErrors struct {
	File string        // the path as read
	Errs []*ParseError // one per unread field, in file order; each has Field set
}

func (e *FieldErrors) Error() string {
	var sb strings.Builder
	if e.File != "" {
		sb.WriteString(e.File)
		sb.WriteString(": ")
	}
	fmt.Fprintf(&sb, "%d unread field", len(e.Errs))
	if len(e.Errs) != 1 {
		sb.WriteByte('s')
	}
	for i, pe := range e.Errs {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		// An entry from another file than e's (a cgroup reading is several files) names it,
		// relative to e.File when below it.
		if f := strings.TrimPrefix(strings.TrimPrefix(pe.File, e.File), "/"); pe.File != "" && pe.File != e.File && f != pe.Field {
			sb.WriteString(f)
			sb.WriteString(": ")
		}
		sb.WriteString(pe.Field)
		if pe.Line > 0 {
			fmt.Fprintf(&sb, " (line %d)", pe.Line)
		}
		sb.WriteString(": ")
		sb.WriteString(pe.Msg)
		if pe.Err != nil {
			sb.WriteString(": ")
			sb.WriteString(pe.Err.Error())
		}
	}
	return sb.String()
}

// Unwrap returns the field errors, so errors.As finds a *ParseError in a FieldErrors.
func (e *FieldErrors) Unwrap() []error {
	out := make([]error, len(e.Errs))
	for i, pe := range e.Errs {
		out[i] = pe
	}
	return out
}

// Fields names the unread fields, in file order.
func (e *FieldErrors) Fields() []string {
	out := make([]string, len(e.Errs))
	for i, pe := range e.Errs {
		out[i] = pe.Field
	}
	return out
}

// Has reports whether field (as in [ParseError.Field]) is among the unread ones.
func (e *FieldErrors) Has(field string) bool {
	for _, pe := range e.Errs {
		if pe.Field == field {
			return true
		}
	}
	return false
}

// IsPartial reports whether err says only that some fields are unread ([FieldErrors]): the value
// returned with it holds every other field.
func IsPartial(err error) bool {
	var fe *FieldErrors
	return errors.As(err, &fe)
}

// fieldErrs collects field-level parse errors in a pure parser. Its zero value is ready; it
// allocates only when a field fails.
type fieldErrs []*ParseError

// add records that field on line could not be parsed.
func (f *fieldErrs) add(line int, field, msg string) {
	*f = append(*f, &ParseError{Line: line, Field: field, Msg: msg})
}

// err is nil when no field failed, else a *FieldErrors.
func (f fieldErrs) err() error {
	if len(f) == 0 {
		return nil
	}
	return &FieldErrors{Errs: f}
}

// withFile sets the file name on a *ParseError or *FieldErrors produced by a pure parser (which
// does not know where its bytes came from); other errors are returned unchanged.
func withFile(err error, file string) error {
	if err == nil {
		return nil // before errors.As, whose target would escape: the hot path must not allocate
	}
	var fe *FieldErrors
	if errors.As(err, &fe) {
		if fe.File == "" {
			fe.File = file
		}
		for _, pe := range fe.Errs {
			if pe.File == "" {
				pe.File = file
			}
		}
		return err
	}
	var pe *ParseError
	if errors.As(err, &pe) && pe.File == "" {
		pe.File = file
	}
	return err
}
