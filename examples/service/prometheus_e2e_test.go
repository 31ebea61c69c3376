package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/promtest"
)

// TestPrometheusScrapesTheService is the fleet path end to end: Debian's Prometheus scrapes the
// example service's /metrics on loopback; the resident-by-category series it stored must match
// the service's own /debug/memdiag/report.json within 5% (1 MiB for categories under 1 MiB).
func TestPrometheusScrapesTheService(t *testing.T) {
	bin := promtest.RequireTool(t, "prometheus")
	if testing.Short() {
		t.Skip("starts a Prometheus server; -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	var stdout, logs syncBuffer
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		// A long full interval: the only reports are the ones report.json asks for, so the one
		// read below stays the one every later scrape exports.
		runErr = run(ctx, []string{"-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0", "-full-interval", "10m", "-load-rps", "100", "-leak=false"}, &stdout, &logs)
	}()
	defer func() {
		cancel()
		<-done
		if runErr != nil {
			t.Errorf("run: %v", runErr)
		}
	}()
	var base, dbg string
	waitFor(t, done, 10*time.Second, "the where-to-look lines", func() bool {
		base, dbg = whereToLook(stdout.String())
		return base != "" && dbg != ""
	})
	target := strings.TrimPrefix(base, "http://")
	promAddr := promtest.StartPrometheus(ctx, t, bin, target)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	query := func(q string) []promtest.Sample {
		t.Helper()
		res, err := promtest.Query(ctx, client, promAddr, q)
		if err != nil {
			t.Fatalf("query %q: %v", q, err)
		}
		return res
	}

	// The report: a fresh one, which becomes the Monitor's latest and so what /metrics exports.
	var rep struct {
		Time time.Time `json:"time"`
		RSS  struct {
			Categories []struct {
				Name  string `json:"name"`
				Bytes uint64 `json:"bytes"`
			} `json:"categories"`
		} `json:"rss"`
	}
	if err := json.Unmarshal(get(t, dbg+"/debug/memdiag/report.json", "application/json"), &rep); err != nil {
		t.Fatal(err)
	}
	// Two scrapes after that report was taken.
	after := float64(rep.Time.UnixMilli())/1e3 + 1
	waitFor(t, done, 40*time.Second, "two scrapes of the report's categories", func() bool {
		n := query(`count_over_time(memdiag_rss_category_bytes{category="binary"}[1m])`)
		ts := query(`max(timestamp(memdiag_rss_category_bytes))`)
		return len(n) == 1 && n[0].Value >= 2 && len(ts) == 1 && ts[0].Value > after
	})
	stored := map[string]float64{}
	for _, s := range query(`sum by (category) (memdiag_rss_category_bytes)`) {
		stored[s.Metric["category"]] = s.Value
	}
	const mib = 1 << 20
	t.Logf("%-17s %14s %14s", "category", "prometheus", "report.json")
	for _, c := range rep.RSS.Categories {
		got, ok := stored[c.Name]
		want := float64(c.Bytes)
		t.Logf("%-17s %14.0f %14.0f", c.Name, got, want)
		switch {
		case !ok:
			t.Errorf("%s: not in Prometheus", c.Name)
		case want < mib && math.Abs(got-want) > mib:
			t.Errorf("%s: Prometheus %.0f, report %.0f: more than 1 MiB apart", c.Name, got, want)
		case want >= mib && math.Abs(got-want)/want > 0.05:
			t.Errorf("%s: Prometheus %.0f, report %.0f: more than 5%% apart", c.Name, got, want)
		}
	}
	if len(rep.RSS.Categories) == 0 || len(stored) != len(rep.RSS.Categories) {
		t.Errorf("report has %d categories, Prometheus %d", len(rep.RSS.Categories), len(stored))
	}
}
