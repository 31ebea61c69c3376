package runtimediag_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// A Monitor validates its options in NewMonitor and starts nothing there; Start begins the
// cheap tick and Close stops it. Both are idempotent.
func ExampleNewMonitor() {
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	if err := mon.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer mon.Close()

	// A bad option value is an error, not a panic.
	_, err = runtimediag.NewMonitor(runtimediag.WithTickInterval(-time.Second))
	fmt.Println(err != nil)
	// Output: true
}

// Analyze is a pure function of snapshots: the same input gives the same report, so a report
// can be recomputed from recorded snapshots, or from figures written by hand as here. The heap
// below holds 64 MiB of objects in spans with 192 MiB more that hold none — what remains when a
// few long-lived objects keep the spans of many short-lived ones — and 320 MiB of free heap the
// runtime has not yet returned to the OS.
func ExampleAnalyze() {
	const MiB = 1 << 20
	cur := runtimediag.Snapshot{
		Time:      time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Requested: runtimediag.Set(runtimediag.SourceRuntimeMetrics),
	}
	cur.Runtime.HeapObjectsBytes = 64 * MiB
	cur.Runtime.HeapUnusedBytes = 192 * MiB
	cur.Runtime.HeapFreeBytes = 320 * MiB
	cur.Runtime.GOGC = 100

	rep := runtimediag.Analyze(runtimediag.AnalyzeInput{Cur: &cur})
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Code)
	}
	// Output:
	// warning heap_fragmentation
	// info heap_free_not_returned
}
