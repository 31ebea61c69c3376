package reporttext

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/runtimediag"
)

// textHeading is, for each top-level key of the report's JSON, what report.txt prints for it. A
// key missing here fails TestEveryJSONSectionInText: a new section of the JSON must be rendered
// (and named here) before it ships.
var textHeading = map[string]string{
	"time":                 "memdiag report  ",
	"window_seconds":       "window ",
	"window":               "window: none yet",
	"memdiag_self":         "MEMDIAG ITSELF",
	"rss":                  "RESIDENT ",
	"efficiency":           "EFFICIENCY",
	"findings":             "FINDINGS (",
	"top_allocation_sites": "TOP ALLOCATION SITES",
	"routes":               "ROUTES (",
	"what_if":              "WHAT IF",
	"leaks":                "WHAT GROWS (",
	"sources":              "SOURCES  ",
	"notes":                "NOTES",
}

// fullReport is a recorded report with every optional section filled in.
func fullReport(t *testing.T) *runtimediag.Report {
	t.Helper()
	b, err := os.ReadFile("../../cmd/memdiag/testdata/report-b.json")
	if err != nil {
		t.Fatal(err)
	}
	var rep runtimediag.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	p50, inFlight := 0.002, int64(1)
	rep.Routes = []runtimediag.RouteStats{{Route: "GET /users/{id}", Requests: 120, InFlight: &inFlight, LatencyP50Seconds: &p50,
		Alloc: &runtimediag.RouteAlloc{BytesPerRequest: 4096, RelativeError: 0.1}, CPU: &runtimediag.RouteCPU{CPUSeconds: 0.5, ProfileSeconds: 10}}}
	pv := 0.001
	rep.Leaks = &runtimediag.Leaks{Suspects: []runtimediag.LeakSuspect{{Kind: runtimediag.LeakHeapSite, Certainty: runtimediag.LeakSignificant, PValue: &pv,
		Headline: "in-use heap at main.cache grows 1 MiB/s", Advice: "take a heap profile"}}}
	rep.WhatIf = &runtimediag.WhatIf{Assumptions: "the window repeats", Current: runtimediag.WhatIfRow{Setting: "GOGC=100"}}
	rep.MemdiagSelf = &runtimediag.SelfCost{CPUSeconds: 0.01}
	rep.Window = &runtimediag.ReportWindow{}
	rep.Notes = []string{"a note"}
	return &rep
}

// TestEveryJSONSectionInText walks the top-level keys of a full report's JSON and checks that the
// text carries each one's section.
func TestEveryJSONSectionInText(t *testing.T) {
	rep := fullReport(t)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := Write(&text, rep, ""); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	if len(top) < len(textHeading) {
		t.Errorf("the full report's JSON has %d sections, the table %d: fill every section in fullReport", len(top), len(textHeading))
	}
	for key := range top {
		h, ok := textHeading[key]
		if !ok {
			t.Errorf("the JSON has section %q, which report.txt does not render (add it to reporttext.Write and to textHeading)", key)
			continue
		}
		if !strings.Contains(out, h) {
			t.Errorf("section %q: the text lacks %q:\n%s", key, h, out)
		}
	}
	// The routes' figures, not only the heading.
	for _, want := range []string{"GET /users/{id}", "4.0 KiB ±10%", "500ms of 10s profiled", "p=0.001"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

// TestFindingAnchorsAreLinks: a finding's doc anchor is printed as a link to the docs.
func TestFindingAnchorsAreLinks(t *testing.T) {
	rep := &runtimediag.Report{Findings: []runtimediag.Finding{{Code: "gc_cpu_high", Severity: "warning", Headline: "h", Doc: "docs/findings.md#gc_cpu_high"}}}
	var b strings.Builder
	if err := Write(&b, rep, ""); err != nil {
		t.Fatal(err)
	}
	if want := "see https://github.com/memdiag/memdiag/blob/main/docs/findings.md#gc_cpu_high"; !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
}
