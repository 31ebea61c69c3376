package runtimediag

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestWithThresholdsRefuses: NewMonitor names the field of a threshold no rule could use.
func TestWithThresholdsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*Thresholds)
		wantErr string // "" when accepted
	}{
		{"defaults", func(*Thresholds) {}, ""},
		{"zero minimum", func(th *Thresholds) { th.ThreadsMin = 0 }, ""},
		{"negative share", func(th *Thresholds) { th.NonGoShare = -0.1 }, "NonGoShare is -0.1"},
		{"NaN", func(th *Thresholds) { th.AssistShare = math.NaN() }, "AssistShare is NaN"},
		{"infinite", func(th *Thresholds) { th.SmallObjectsPerSecond = math.Inf(1) }, "SmallObjectsPerSecond is +Inf"},
		{"negative duration", func(th *Thresholds) { th.STWPauseMax = -time.Millisecond }, "STWPauseMax is -1ms"},
		{"negative count", func(th *Thresholds) { th.TrendMinPoints = -1 }, "TrendMinPoints is -1"},
		{"clear ratio zero", func(th *Thresholds) { th.ClearRatio = 0 }, "ClearRatio is 0"},
		{"clear ratio above one", func(th *Thresholds) { th.ClearRatio = 1.5 }, "ClearRatio is 1.5"},
		{"warning above critical", func(th *Thresholds) { th.GCCPUWarning = 0.6 }, "GCCPUWarning (0.6) is above GCCPUCritical (0.5)"},
		{"fds warning above critical", func(th *Thresholds) { th.FDsWarning, th.FDsCritical = 0.9, 0.5 }, "FDsWarning (0.9) is above FDsCritical (0.5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := DefaultThresholds()
			tc.change(&th)
			m, err := NewMonitor(WithThresholds(th))
			if m != nil {
				m.Close()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("NewMonitor(WithThresholds) = %v, want accepted", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("NewMonitor(WithThresholds) = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := NewCollector(WithThresholds(DefaultThresholds())); err == nil {
		t.Error("NewCollector accepted WithThresholds, a Monitor option")
	}
}

// TestWithThresholdsChangesFindings: a threshold given to the Monitor reaches its rules — with
// threads_high's bounds at zero, every process has too many threads.
func TestWithThresholdsChangesFindings(t *testing.T) {
	has := func(r *Report, code string) bool {
		for _, f := range r.Findings {
			if f.Code == code {
				return true
			}
		}
		return false
	}
	def := newTestMonitor(t, WithFullInterval(0))
	rep, err := def.Report(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if has(rep, "threads_high") {
		t.Fatalf("threads_high with the default thresholds: %+v", rep.Findings)
	}
	th := DefaultThresholds()
	th.ThreadsPerProc, th.ThreadsMin = 0, 0
	low := newTestMonitor(t, WithFullInterval(0), WithThresholds(th))
	rep, err = low.Report(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !has(rep, "threads_high") {
		t.Errorf("no threads_high with ThreadsPerProc and ThreadsMin at 0: %+v", rep.Findings)
	}
}
