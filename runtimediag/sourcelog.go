package runtimediag

import (
	"errors"
	"sync"

	"go.uber.org/zap"
)

// The collector's log lines about its sources (docs/logging.md).
const (
	// LogMessageSourceFailed is a source that could not be read (Warn): logged when it first
	// fails and again only when the reason changes, never once per tick.
	LogMessageSourceFailed = "memdiag source unreadable"
	// LogMessageSourceRecovered is a source read again after it failed (Info).
	LogMessageSourceRecovered = "memdiag source readable again"
)

// Source line fields.
const (
	fieldSource       = "source"
	fieldSourceReason = "reason"
	fieldSourceError  = "error"
)

// sourceLog remembers, per source, the reason last logged, so that a source failing on every tick
// is one Warn line and its recovery one Info line. The Monitor's two collectors share one, so that
// statm failing in the tick and in a full report is still one line.
type sourceLog struct {
	mu   sync.Mutex
	last [numSources]string // SourceError.Reason() last logged; "" while the source reads
}

// note logs a change of src's state. It allocates only when it logs.
func (l *sourceLog) note(log *zap.Logger, src Source, err error) {
	if l == nil || src >= numSources || errors.Is(err, ErrClosed) {
		return
	}
	why := reason(err)
	if why == "canceled" {
		return // the reader was stopped, the source did not fail
	}
	l.mu.Lock()
	prev := l.last[src]
	l.last[src] = why
	l.mu.Unlock()
	switch {
	case why == prev:
	case why == "":
		log.Info(LogMessageSourceRecovered, zap.String(fieldSource, src.String()), zap.String(fieldSourceReason, prev))
	default:
		log.Warn(LogMessageSourceFailed, zap.String(fieldSource, src.String()), zap.String(fieldSourceReason, why), zap.String(fieldSourceError, err.Error()))
	}
}
