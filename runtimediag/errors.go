package runtimediag

import "errors"

// ErrClosed is returned by a Monitor's methods after Close, and recorded as the error of every
// source read by a closed Collector. Test for it with errors.Is: the errors that wrap it name
// what was closed ("runtimediag: monitor closed", "runtimediag: collector closed").
var ErrClosed = errors.New("runtimediag: closed")

// closedError is ErrClosed naming what was closed.
type closedError string

const (
	errMonitorClosed   closedError = "monitor"
	errCollectorClosed closedError = "collector"
)

func (e closedError) Error() string { return "runtimediag: " + string(e) + " closed" }

func (e closedError) Is(target error) bool { return target == ErrClosed }
