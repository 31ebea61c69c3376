package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

var record = flag.Bool("record", false, "record testdata/report-a.json and report-b.json from a real Monitor in this process")

// sink keeps allocations alive between the two recorded reports, so B's heap differs from A's.
var sink [][]byte

// TestRecordReports records the reports the report, watch and diff tests serve and compare: two
// full reports of this test process from a real Monitor, a window apart, with an allocation
// workload between them. The per-mapping table is dropped to keep the files small.
//
//	go test ./cmd/memdiag -run TestRecordReports -record
func TestRecordReports(t *testing.T) {
	if !*record {
		t.Skip("run with -record to re-record testdata/report-*.json")
	}
	// Reports describe windows between the Monitor's own readings: a running Monitor taking one
	// every 100 ms gives each recorded report a window of about a second.
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(100*time.Millisecond), runtimediag.WithFullInterval(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	ctx := context.Background()
	if err := mon.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"report-a.json", "report-b.json"} {
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 2000 {
				sink = sink[1000:]
			}
		}
		rep, err := mon.Report(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := *rep
		r.RSS.Mappings = nil
		b, err := json.MarshalIndent(&r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
