// Package workload creates real memory for memdiag's RSS attribution tests: C heap through cgo,
// pthreads that touch their stacks. Test files cannot import "C", so the cgo lives here; without
// cgo every function returns ErrNoCgo and the tests skip with that reason.
package workload

import "errors"

// ErrNoCgo is returned by every workload when the package was built without cgo.
var ErrNoCgo = errors.New("workload: built without cgo (CGO_ENABLED=0 or no C compiler)")
