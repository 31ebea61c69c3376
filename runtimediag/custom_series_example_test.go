package runtimediag_test

import (
	"fmt"
	"sync/atomic"

	"github.com/memdiag/memdiag/runtimediag"
)

// A series of the application's own, plotted on the page next to the runtime's: the Monitor
// samples the function at every tick and stores the value in the history point.
func ExampleWithCustomSeries() {
	var depth atomic.Int64 // the application's queue depth, kept up to date elsewhere
	mon, err := runtimediag.NewMonitor(
		runtimediag.WithCustomSeries("work queue depth", runtimediag.UnitCount,
			func() float64 { return float64(depth.Load()) }),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mon.Close()
	fmt.Println(mon.CustomSeries())
	// Output: [{work queue depth count}]
}
