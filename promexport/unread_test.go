package promexport

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestUnreadFiguresHaveNoSample: with statm malformed and smaps and maps missing, a scrape has no
// resident, unexplained, non-Go or unmeasured category sample: a figure that was not read is
// absent, never a 0 (or minus the Go categories) that a dashboard would plot as measured.
func TestUnreadFiguresHaveNoSample(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(root, "proc", "self")
	if err := os.MkdirAll(self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(self, "statm"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mon, err := runtimediag.NewMonitor(runtimediag.WithRoot(root), runtimediag.WithTickInterval(10*time.Millisecond), runtimediag.WithFullInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	c, err := NewCollector(mon)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { p, _ := mon.Latest(); return !p.Time.IsZero() })
	if _, err := mon.Report(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"memdiag_resident_bytes", "memdiag_rss_unexplained_bytes", "memdiag_non_go_bytes", "memdiag_cgroup_usage_bytes"} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d samples for a figure that was not read", name, n)
		}
	}
	exp := string(exposition(t, c))
	for line := range strings.Lines(exp) {
		if strings.HasPrefix(line, "memdiag_rss_category_bytes") && strings.Contains(line, runtimediag.MethodNotMeasured) {
			t.Errorf("a category that was not measured has a sample: %s", line)
		}
	}
	if !strings.Contains(exp, `memdiag_rss_category_bytes{category="go_heap_objects"`) {
		t.Errorf("the Go categories, which runtime/metrics measures, are missing:\n%s", exp)
	}
}
