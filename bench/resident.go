package bench

import (
	"errors"

	"github.com/memdiag/memdiag/procself"
)

// residentReader reads the resident set size from /proc/self/statm, keeping the file open
// between the start and the end of a window so that each read is one pread that allocates
// nothing. Where there is no statm (outside Linux, or a /proc that cannot be read) it reports
// nothing: a zero would claim the resident set did not grow.
type residentReader struct {
	r      *procself.StatmReader
	failed bool
}

func (rr *residentReader) resident() (int64, bool) {
	if rr.failed {
		return 0, false
	}
	if rr.r == nil {
		r, err := procself.New("").NewStatmReader()
		if err != nil {
			rr.failed = true
			return 0, false
		}
		rr.r = r
	}
	s, err := rr.r.Read()
	if err != nil {
		// Another column that could not be parsed does not make resident unread.
		var fe *procself.FieldErrors
		if !errors.As(err, &fe) || fe.Has("resident") {
			return 0, false
		}
	}
	return int64(s.ResidentBytes), true
}

func (rr *residentReader) close() {
	if rr.r != nil {
		rr.r.Close()
		rr.r = nil
	}
}
