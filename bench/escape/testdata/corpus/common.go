// Package corpus plants one allocation per reason kind for bench/escape's tests. allocs.go
// holds the allocating versions; fixed.go, built with -tags=fixed, the same functions with the
// standard remedy applied, which allocate nothing.
package corpus

// Point is a small value type.
type Point struct{ X, Y int }

// Counter has a method used as a method value.
type Counter struct{ n int }

// Inc counts one.
func (c *Counter) Inc() { c.n++ }

var (
	sinkAny  any
	sinkFunc func()
	sinkInt  int
)
