package promexport

import (
	"bytes"
	"context"
	"github.com/memdiag/memdiag/internal/promtest"
	"os/exec"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

func promtoolCheck(t *testing.T, promtool string, exposition []byte) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPromtoolCheckMetrics pipes what memdiag exports through Prometheus's own linter: the fixture
// (every family, with values) and a live Monitor after a full report. It first proves that the
// linter runs and speaks, on a counter named without _total.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := promtest.RequireTool(t, "promtool")

	bad := []byte("# HELP memdiag_bad_bytes x\n# TYPE memdiag_bad_bytes counter\nmemdiag_bad_bytes 1\n")
	if out, err := promtoolCheck(t, promtool, bad); err == nil || !bytes.Contains([]byte(out), []byte("_total")) {
		t.Fatalf("promtool passed a counter without _total (err %v): %s", err, out)
	}

	src := &fixedSource{p: fixturePoint(), rep: fixtureReport(), st: runtimediag.MonitorStats{Ticks: 1}}
	fixture := exposition(t, newFixtureCollector(t, src))

	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(10*time.Millisecond), runtimediag.WithFullInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if err := mon.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := mon.Report(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := NewCollector(mon)
	if err != nil {
		t.Fatal(err)
	}
	live := exposition(t, c)

	for name, exp := range map[string][]byte{"fixture": fixture, "live": live} {
		out, err := promtoolCheck(t, promtool, exp)
		if err != nil || out != "" {
			t.Errorf("promtool check metrics on the %s exposition: %v\n%s", name, err, out)
		}
	}
}
