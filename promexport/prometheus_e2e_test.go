package promexport

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memdiag/memdiag/internal/promtest"
	"github.com/memdiag/memdiag/runtimediag"
)

// TestPrometheusEndToEnd scrapes a service with a real Prometheus (Debian's) and checks what
// Prometheus stored against the service's own report: every RSS category within 5%, or within
// 1 MiB for categories under 1 MiB, whose few pages move by more than 5% between two reads.
//
// The service is built in the test the way examples/service builds it (a Monitor, promexport on
// its own registry beside client_golang's Go and process collectors, /metrics through promhttp)
// and serves the report JSON itself from Monitor.Latest, so that the test depends on promexport
// and runtimediag alone. Everything listens on 127.0.0.1; the test ends within a minute.
func TestPrometheusEndToEnd(t *testing.T) {
	promBin := promtest.RequireTool(t, "prometheus")
	if testing.Short() {
		t.Skip("starts a Prometheus server; -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	mon, err := runtimediag.NewMonitor(
		runtimediag.WithTickInterval(100*time.Millisecond),
		runtimediag.WithFullInterval(5*time.Second),
		runtimediag.WithLogInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if err := mon.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A report before the first scrape, so that every scrape carries the categories.
	if _, err := mon.Report(ctx); err != nil {
		t.Fatal(err)
	}
	col, err := NewCollector(mon)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	mux.HandleFunc("GET /debug/memdiag/report.json", func(w http.ResponseWriter, r *http.Request) {
		_, rep := mon.Latest()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(ln) }()
	defer func() { srv.Close(); <-served }()
	target := ln.Addr().String()

	promAddr := promtest.StartPrometheus(ctx, t, promBin, target)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	api := func(query string) []promtest.Sample {
		t.Helper()
		res, err := promtest.Query(ctx, client, promAddr, query)
		if err != nil {
			t.Fatalf("query %q: %v", query, err)
		}
		return res
	}

	// Two scrapes of the categories, and the target up.
	start := time.Now()
	for {
		res := api(`count_over_time(memdiag_rss_category_bytes{category="binary"}[1m])`)
		if len(res) > 0 && res[0].Value >= 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Prometheus did not scrape the categories twice within the deadline; up = %v", api(`up`))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("two scrapes after %s", time.Since(start).Round(time.Millisecond))
	if up := api(`up{job="memdiag"}`); len(up) != 1 || up[0].Value != 1 {
		t.Fatalf("up{job=\"memdiag\"} = %+v, want one series at 1", up)
	}
	if gc := api(`go_goroutines{job="memdiag"}`); len(gc) != 1 {
		t.Errorf("go_goroutines beside memdiag's families: %d series, want 1", len(gc))
	}
	// memdiag's own cost, as Prometheus stored it: a report has run, so its CPU is not 0.
	if s := api(`memdiag_self_cpu_seconds_total{job="memdiag"}`); len(s) != 1 || s[0].Value <= 0 {
		t.Errorf("memdiag_self_cpu_seconds_total = %+v, want one series above 0", s)
	}
	if s := api(`memdiag_self_heap_inuse_bytes{job="memdiag"}`); len(s) > 1 || len(s) == 1 && s[0].Value <= 0 {
		t.Errorf("memdiag_self_heap_inuse_bytes = %+v, want at most one series, above 0", s)
	}

	// Compare with the report Prometheus scraped: the Monitor publishes a new one every 5 s, so
	// wait (a second at a time) until one report spans the newest scrape, read after the report was.
	var (
		stored map[string]float64
		rep    *runtimediag.Report
	)
	reportURL := "http://" + target + "/debug/memdiag/report.json"
	for attempt := 1; ; attempt++ {
		before := fetchReport(ctx, t, client, reportURL)
		stored = map[string]float64{}
		for _, s := range api(`sum by (category) (memdiag_rss_category_bytes{job="memdiag"})`) {
			stored[s.Metric["category"]] = s.Value
		}
		scraped := api(`max(timestamp(memdiag_rss_category_bytes{job="memdiag"}))`)
		rep = fetchReport(ctx, t, client, reportURL)
		same := before.Time.Equal(rep.Time) && len(scraped) == 1 &&
			scraped[0].Value > float64(rep.Time.UnixMilli())/1e3+1
		if same || attempt == 5 {
			t.Logf("attempt %d: the report Prometheus scraped is the one compared: %v", attempt, same)
			break
		}
		time.Sleep(time.Second)
	}

	const mib = 1 << 20
	t.Logf("%-17s %14s %14s %8s", "category", "prometheus", "report.json", "diff")
	for _, c := range rep.RSS.Categories {
		got, ok := stored[c.Name]
		want := float64(c.Bytes)
		diff := got - want
		rel := 0.0
		if want > 0 {
			rel = diff / want
		}
		t.Logf("%-17s %14.0f %14.0f %+7.2f%%", c.Name, got, want, rel*100)
		switch {
		case !ok:
			t.Errorf("%s: not in Prometheus", c.Name)
		case want < mib && math.Abs(diff) > mib:
			t.Errorf("%s: Prometheus %.0f, report %.0f: more than 1 MiB apart", c.Name, got, want)
		case want >= mib && math.Abs(rel) > 0.05:
			t.Errorf("%s: Prometheus %.0f, report %.0f: %.1f%% apart, more than 5%%", c.Name, got, want, rel*100)
		}
	}
	names := runtimediag.RSSCategoryNames()
	for c := range stored {
		if !slices.Contains(names, c) {
			t.Errorf("Prometheus holds category %q, which memdiag does not define", c)
		}
	}
	if len(stored) != len(names) {
		t.Errorf("Prometheus holds %d categories, want %d", len(stored), len(names))
	}
	client.CloseIdleConnections()
}

func fetchReport(ctx context.Context, t *testing.T, client *http.Client, u string) *runtimediag.Report {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep runtimediag.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	if len(rep.RSS.Categories) == 0 {
		t.Fatalf("%s: no categories", u)
	}
	return &rep
}
