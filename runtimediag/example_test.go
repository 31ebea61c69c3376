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

// Analyze is a pure function of two snapshots: the same input gives the same report, so a
// report can be recomputed from recorded snapshots. Here the input is a process that kept one
// 512-byte object in 32 alive across a GC (testdata/analyze/fragmentation.json).
func ExampleAnalyze() {
	in, err := runtimediag.AnalyzeFixture("fragmentation")
	if err != nil {
		log.Fatal(err)
	}
	rep := runtimediag.Analyze(in)
	for _, f := range rep.Findings {
		fmt.Println(f.Severity, f.Code)
	}
	// Output:
	// warning heap_fragmentation
	// info heap_free_not_returned
}
