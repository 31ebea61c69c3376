package runtimediag

import (
	"context"
	"errors"
	"io/fs"
	"runtime/metrics"
	"time"

	"github.com/memdiag/memdiag/procself"
)

// Snapshot is everything memdiag read about the process at one moment. A snapshot returned by
// [Collector.Cheap] or [Collector.Full] is never modified afterwards and is safe to share between
// goroutines. [Collector.ReadCheap] and [Collector.Read] instead fill a snapshot the caller owns,
// reusing its buffers, so that a periodic reader allocates nothing once warm; such a snapshot
// changes whenever the caller passes it again.
//
// A source that was not asked for, or could not be read, leaves its fields zero; [Snapshot.Err]
// says why for every source that was asked for. A zero never stands in for a reading.
type Snapshot struct {
	Time      time.Time     // when reading started
	Duration  time.Duration // how long reading took, all sources together
	Requested SourceSet     // the sources this snapshot tried to read

	// Cheap tier.
	Runtime      RuntimeMetrics
	GCPauses     GCPauseHistory
	Statm        procself.Statm
	CgroupMemory procself.CgroupMemory

	// Full tier.
	Status procself.Status
	Stat   procself.Stat
	Limits procself.Limits
	// Mappings comes from smaps (with per-mapping resident sizes) when it could be read, else from
	// maps (addresses, permissions and paths only); MappingsHaveSizes says which.
	Mappings          []procself.Mapping
	MappingsHaveSizes bool
	// HeapAfterMappings is the heap's free and released bytes read from runtime/metrics again
	// right after smaps. When they differ from Runtime's (read before), the scavenger returned
	// free pages to the OS while the mappings were read, and the attribution says so.
	HeapAfterMappings HeapRecheck
	SmapsRollup       procself.SmapsRollup
	FDs               procself.FDs
	Threads           procself.Threads
	Auxv              procself.Auxv
	Cgroups           procself.CgroupLocation
	Identity          procself.Identity
	Environ           procself.Environ
	Syscall           procself.Syscall
	Latency           procself.Latency

	samples []metrics.Sample
	sources [numSources]sourceResult
}

type sourceResult struct {
	err  error
	cost time.Duration
}

// Err is why src could not be read, or nil when it was read (or not asked for: see Requested).
func (s *Snapshot) Err(src Source) error {
	if src >= numSources {
		return nil
	}
	return s.sources[src].err
}

// Has reports whether src was asked for and read, every field of it. A source read with some
// fields unparseable ([Snapshot.Unread]) is not Has: its zeros must not be taken for readings.
func (s *Snapshot) Has(src Source) bool {
	return s.Requested.Has(src) && src < numSources && s.sources[src].err == nil
}

// HasAny reports whether src was asked for and read, completely or in part: when in part, the
// fields [Snapshot.Unread] names are zero and every other field is a reading.
func (s *Snapshot) HasAny(src Source) bool {
	return s.Has(src) || s.Unread(src) != nil
}

// Unread names the fields of src that were read from a well-formed file but could not be parsed
// (a value out of range, not a number), each left zero; nil when there are none, or when src was
// not read at all (then see [Snapshot.Err]). Err(src) returns the same error.
func (s *Snapshot) Unread(src Source) *procself.FieldErrors {
	if src >= numSources || !s.Requested.Has(src) {
		return nil
	}
	var fe *procself.FieldErrors
	if errors.As(s.sources[src].err, &fe) {
		return fe
	}
	return nil
}

// Cost is how long reading src took in this snapshot (zero when not asked for).
func (s *Snapshot) Cost(src Source) time.Duration {
	if src >= numSources {
		return 0
	}
	return s.sources[src].cost
}

// Problems lists, in reading order, every source asked for that could not be read.
func (s *Snapshot) Problems() []*SourceError {
	var out []*SourceError
	for src := Source(0); src < numSources; src++ {
		if s.Requested.Has(src) && s.sources[src].err != nil {
			out = append(out, &SourceError{Source: src, Err: s.sources[src].err})
		}
	}
	return out
}

// SourceError is a source that could not be read, and why.
type SourceError struct {
	Source Source
	Err    error
}

func (e *SourceError) Error() string { return e.Source.String() + ": " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// Reason is a short, stable classification of Err for people and dashboards: "permission denied",
// "no such file", "unsupported on this system", "not provided by this kernel", "fields unread"
// (read, but some values could not be parsed), "malformed", "canceled", or "failed".
func (e *SourceError) Reason() string { return reason(e.Err) }

func reason(err error) string {
	switch {
	case err == nil:
		return ""
	case procself.IsPartial(err): // before the causes below, which a partial error may wrap
		return "fields unread"
	case errors.Is(err, errors.ErrUnsupported):
		return "unsupported on this system"
	case errors.Is(err, procself.ErrAbsent):
		return "not provided by this kernel"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case isParseError(err):
		return "malformed"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "failed"
}

// isParseError is errors.As(err, new(*procself.ParseError)) without the allocation errors.As costs:
// the collector classifies a failing source on every tick.
func isParseError(err error) bool {
	for err != nil {
		switch e := err.(type) {
		case *procself.ParseError:
			return true
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				if isParseError(inner) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return false
		}
	}
	return false
}
