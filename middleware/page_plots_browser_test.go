package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/memdiag/memdiag/runtimediag"
)

// gcWhile allocates and collects until ctx ends, so that a Monitor's history has GC pauses,
// allocation and scheduling to plot.
func gcWhile(ctx context.Context) {
	var keep [][]byte
	for ctx.Err() == nil {
		for range 2000 {
			keep = append(keep, make([]byte, 64+len(keep)%4096))
		}
		if len(keep) > 20000 {
			keep = keep[:0]
		}
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
	}
}

// contendWhile makes goroutines wait on one mutex until ctx ends, so that the mutex-wait plot
// has wait to show: each holds it a millisecond while another waits.
func contendWhile(ctx context.Context) {
	var mu sync.Mutex
	for range 3 {
		go func() {
			for ctx.Err() == nil {
				mu.Lock()
				time.Sleep(time.Millisecond)
				mu.Unlock()
			}
		}()
	}
}

// plotIDs are the plots the page must draw, from the same list the server renders.
func plotIDs(custom []runtimediag.CustomSeries) []string {
	var ids []string
	for _, c := range chartSpecs(false, custom) {
		ids = append(ids, c.ID)
	}
	return ids
}

// plotFill is, for each plot, how much it draws: the number of drawn line and area segments,
// or of pause points.
const plotFillJS = `Object.fromEntries(Array.from(document.querySelectorAll('svg.ts')).map(s => [s.id,
  Array.from(s.querySelectorAll('path[data-series]')).reduce((n, p) => n + (p.getAttribute('d').match(/L/g) || []).length, 0) +
  s.querySelectorAll('[data-series] circle').length]))`

// TestPagePlotsInBrowser drives the plots as a person would: every plot is there and drawn,
// follows the live stream, reads out values under the pointer, stops and resumes with the pause
// button, and zooms into a dragged range.
func TestPagePlotsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	findChromium(t)
	gcCtx, stopGC := context.WithCancel(context.Background())
	defer stopGC()
	go gcWhile(gcCtx)
	contendWhile(gcCtx)
	// An application series of its own, which changes at every sample.
	var sampled atomic.Int64
	mon := newTestMonitor(t, runtimediag.WithTickInterval(200*time.Millisecond),
		runtimediag.WithCustomSeries("test queue depth", runtimediag.UnitCount, func() float64 { return float64(sampled.Add(1) % 7) }))
	srv := httptest.NewServer(newTestTree(t, mon))
	t.Cleanup(srv.Close)
	// Points with pauses, scheduling and two ticks for rates before the page loads.
	time.Sleep(1500 * time.Millisecond)

	bctx, problems, stop := startBrowser(t, srv.URL, 1280, 1000)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+testPrefix), chromedp.WaitVisible(chromedp.CSS("#chart-pauses"))); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}

	// Present and drawn: every plot has segments (or points) once a few ticks have arrived.
	var fill map[string]int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		if fill, err = chromedp.Run(bctx, chromedp.Evaluate[map[string]int](plotFillJS)); err != nil {
			t.Fatal(err)
		}
		empty := 0
		for _, id := range plotIDs(mon.CustomSeries()) {
			if fill[id] == 0 {
				empty++
			}
		}
		if empty == 0 || time.Now().After(deadline) {
			break
		}
	}

	// Live: every plot is redrawn with the points the stream brings.
	snapshot := func() map[string]string {
		m, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](
			`Object.fromEntries(Array.from(document.querySelectorAll('svg.ts')).map(s => [s.id, s.dataset.t1 + '|' + s.innerHTML]))`))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := snapshot()
	time.Sleep(1200 * time.Millisecond)
	after := snapshot()
	if n := len(plotIDs(mon.CustomSeries())); n != len(plotIDs(nil))+1 {
		t.Errorf("%d plots with one custom series, want %d", n, len(plotIDs(nil))+1)
	}
	for _, id := range plotIDs(mon.CustomSeries()) {
		t.Run(id, func(t *testing.T) {
			if _, ok := fill[id]; !ok {
				t.Fatalf("plot %s is missing", id)
			}
			if fill[id] == 0 {
				t.Errorf("plot %s draws nothing", id)
			}
			if before[id] == after[id] {
				t.Errorf("plot %s did not change in 1.2 s of 200 ms ticks: not live", id)
			}
		})
	}

	// Measured, not only drawn: the contended mutex shows as wait, and the application's series
	// is labelled with its name and plots what its function returned.
	if got := eval(`document.querySelector('[data-last="rate:mutex_wait_seconds_total"]').textContent`); got == "–" || got == "0/s" {
		t.Errorf("mutex wait reads %q while three goroutines contend one mutex", got)
	}
	if got := eval(`document.querySelector('[data-chart="chart-custom-0"] figcaption').textContent`); !strings.Contains(got, "test queue depth") {
		t.Errorf("the custom plot's caption %q does not name its series", got)
	}
	if got := eval(`JSON.stringify(Array.from(document.querySelectorAll('#chart-custom-0 path[data-series]')).map(p => p.getAttribute('d')))`); !strings.Contains(got, "L") {
		t.Errorf("the custom plot draws %s", got)
	}

	// Hover: the read-out under a plot names a time and each series' value there.
	readout := eval(`(() => {
	  const s = document.getElementById('chart-goroutines'), b = s.getBoundingClientRect();
	  s.dispatchEvent(new MouseEvent('mousemove', {clientX: b.left + b.width * 0.7, clientY: b.top + b.height / 2, bubbles: true}));
	  return document.querySelector('[data-readout="chart-goroutines"]').textContent;
	})()`)
	if !strings.Contains(readout, "UTC: goroutines ") {
		t.Errorf("hover read-out %q, want a time and the goroutines there", readout)
	}

	// Pause: nothing moves while paused; resuming catches up.
	eval(`document.getElementById('live-toggle').click(), ''`)
	paused := snapshot()
	time.Sleep(800 * time.Millisecond)
	if still := snapshot(); still["chart-memory"] != paused["chart-memory"] {
		t.Error("the memory plot changed while paused")
	}
	if got := eval(`document.getElementById('live-toggle').textContent`); got != "resume" {
		t.Errorf("pause button says %q while paused, want resume", got)
	}
	eval(`document.getElementById('live-toggle').click(), ''`)
	if resumed := snapshot(); resumed["chart-memory"] == paused["chart-memory"] {
		t.Error("resuming did not draw the points that arrived while paused")
	}

	// Zoom: a drag across 30–60 % of one plot narrows every plot's range to that part.
	rangeOf := func() (t0, t1 float64) {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](
			`[Number(document.getElementById('range').dataset.t0), Number(document.getElementById('range').dataset.t1)]`))
		if err != nil || len(v) != 2 {
			t.Fatalf("range: %v %v", v, err)
		}
		return v[0], v[1]
	}
	eval(`document.getElementById('live-toggle').click(), ''`) // hold the range still while measuring
	a0, a1 := rangeOf()
	eval(`(() => {
	  const s = document.getElementById('chart-memory'), b = s.getBoundingClientRect();
	  const at = f => ({clientX: b.left + b.width * f, clientY: b.top + b.height / 2, bubbles: true});
	  s.dispatchEvent(new MouseEvent('mousedown', at(0.3)));
	  s.dispatchEvent(new MouseEvent('mousemove', at(0.45)));
	  s.dispatchEvent(new MouseEvent('mouseup', at(0.6)));
	  return '';
	})()`)
	z0, z1 := rangeOf()
	if !(z0 > a0 && z1 < a1 && z1-z0 < 0.5*(a1-a0)) {
		t.Errorf("after a drag over 30–60%% the range is %.0f–%.0f, from %.0f–%.0f: not zoomed", z0, z1, a0, a1)
	}
	pl, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](
		`[Number(document.getElementById('chart-sched').dataset.t0), Number(document.getElementById('chart-sched').dataset.t1)]`))
	if err != nil || len(pl) != 2 || pl[0] != z0 || pl[1] != z1 {
		t.Errorf("the scheduler plot shows %v (%v), the zoomed range is %.0f–%.0f", pl, err, z0, z1)
	}
	eval(`document.getElementById('chart-memory').dispatchEvent(new MouseEvent('dblclick', {bubbles: true})), ''`)
	if r0, r1 := rangeOf(); r0 != a0 || r1 < a1 {
		t.Errorf("double-click left the range at %.0f–%.0f, want all of it from %.0f", r0, r1, a0)
	}
	eval(`document.getElementById('live-toggle').click(), ''`)

	// The capture button says what happened, whether or not the server takes captures over HTTP.
	eval(`document.getElementById('capture-take').click(), ''`)
	var capture string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if capture = eval(`document.getElementById('capture-status').textContent`); capture != "" && !strings.HasSuffix(capture, "…") {
			break
		}
	}
	if capture == "" || strings.HasSuffix(capture, "…") {
		t.Errorf("capture status %q: the button never said how it went", capture)
	}
	t.Logf("capture button: %s", capture)

	shotPlots(t, bctx)
	for _, p := range problems.get() {
		if strings.Contains(p, "captures") && strings.Contains(p, "405") {
			continue // the capture endpoint's answer on a tree without POST, which the page reports
		}
		t.Errorf("%s", p)
	}
	stop()
}

func shotPlots(t *testing.T, bctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(bctx, chromedp.Screenshot(chromedp.CSS("#series")))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "memdiag-plots.png", png)
}

// saveShot writes a screenshot where MEMDIAG_ARTIFACTS says, or to the test's temporary directory.
func saveShot(t *testing.T, name string, png []byte) {
	t.Helper()
	var err error
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("MEMDIAG_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, name)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// TestPageNarrowInBrowser: at 480 px the page does not scroll sideways (wide tables scroll
// inside themselves), and a table's figures do not wrap ("3.9 MiB/s" stays on one line).
func TestPageNarrowInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	findChromium(t)
	mon := newTestMonitor(t, runtimediag.WithTickInterval(200*time.Millisecond))
	// The live page, and the recorded report with routes and allocation sites: the widest
	// tables the page has.
	rec := loadRecorded(t)
	withRoutes := recordedWithRoutes(rec)
	// A cgroup path as Kubernetes names them: one long word, in a note and in a source's error.
	const cgroupPath = "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0123456789abcdef.slice/cri-containerd-0123456789abcdef0123456789abcdef.scope/memory.max"
	withRoutes.Notes = append(withRoutes.Notes, "cgroup limit read from "+cgroupPath)
	withRoutes.Sources = append(withRoutes.Sources, runtimediag.SourceHealth{Name: "cgroup_memory", Reason: "permission denied", Error: "open " + cgroupPath + ": permission denied"})
	recorded := renderString(t, &pageInput{Point: rec.History[len(rec.History)-1], Report: &withRoutes, History: rec.History, Nonce: testNonce})
	mux := http.NewServeMux()
	mux.Handle(testPrefix, newTestTree(t, mon))
	mux.HandleFunc("/recorded/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pageCSP(testNonce))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, recorded)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	bctx, problems, stop := startBrowser(t, srv.URL, 480, 900)
	defer stop()
	for _, page := range []string{testPrefix, "/recorded/"} {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(480, 900), chromedp.Navigate(srv.URL+page),
			chromedp.WaitVisible(chromedp.CSS("#series"))); err != nil {
			t.Fatal(err)
		}
		widths, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](
			`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
		if err != nil {
			t.Fatal(err)
		}
		if widths[0] > widths[1] {
			wide, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('body *'))
			  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
			  .slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id)`))
			t.Errorf("%s at 480 px is %d px wide in a %d px viewport: it scrolls sideways (too wide: %v)", page, widths[0], widths[1], wide)
		}
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "memdiag-page-480.jpg", png)
	// A rate in a narrow table cell stays on one line.
	lines, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`(() => {
	  const t = document.createElement('table');
	  t.className = 'sites';
	  t.style.width = '40px';
	  t.innerHTML = '<tbody><tr><td class="num">3.9 MiB/s</td></tr></tbody>';
	  document.querySelector('main').appendChild(t);
	  const td = t.querySelector('td'), lh = parseFloat(getComputedStyle(td).lineHeight);
	  const n = td.getClientRects()[0].height / lh;
	  t.remove();
	  return n;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if lines > 1.5 {
		t.Errorf(`"3.9 MiB/s" in a table's figure column takes %.1f lines; it must not wrap`, lines)
	}
	for _, p := range problems.get() {
		if strings.Contains(p, "/recorded/") {
			continue // the recorded page has no stream behind it
		}
		t.Errorf("%s", p)
	}
	stop()
}

// TestPageDarkThemeInBrowser: with the system set to dark (prefers-color-scheme emulated), the
// page's background, panels and text turn dark; the theme button overrides the system both ways.
func TestPageDarkThemeInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	findChromium(t)
	mon := newTestMonitor(t, runtimediag.WithTickInterval(200*time.Millisecond))
	srv := httptest.NewServer(newTestTree(t, mon))
	t.Cleanup(srv.Close)
	bctx, problems, stop := startBrowser(t, srv.URL, 1280, 900)
	defer stop()
	scheme := func(v string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
			return err
		})
	}
	// The luminance (0 black, 255 white) of the computed colours of the body's background, a
	// section's background and the body's text.
	const lumJS = `(() => {
	  const lum = c => { const m = c.match(/[0-9.]+/g).map(Number); return 0.2126*m[0] + 0.7152*m[1] + 0.0722*m[2]; };
	  const body = getComputedStyle(document.body), sec = getComputedStyle(document.querySelector('section'));
	  return [lum(body.backgroundColor), lum(sec.backgroundColor), lum(body.color)];
	})()`
	lum := func() []float64 {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](lumJS))
		if err != nil || len(v) != 3 {
			t.Fatalf("luminance: %v %v", v, err)
		}
		return v
	}
	isDark := func(v []float64) bool { return v[0] < 60 && v[1] < 60 && v[2] > 180 }
	isLight := func(v []float64) bool { return v[0] > 200 && v[1] > 200 && v[2] < 80 }
	if err := chromedp.Do(bctx, scheme("light"), chromedp.Navigate(srv.URL+testPrefix), chromedp.WaitVisible(chromedp.CSS("#series"))); err != nil {
		t.Fatal(err)
	}
	if v := lum(); !isLight(v) {
		t.Errorf("light system: background, panel, text luminance %v; want a light page", v)
	}
	if err := chromedp.Do(bctx, scheme("dark")); err != nil {
		t.Fatal(err)
	}
	if v := lum(); !isDark(v) {
		t.Errorf("dark system: background, panel, text luminance %v; want a dark page", v)
	}
	png, err := chromedp.Run(bctx, chromedp.Screenshot(chromedp.CSS("#series")))
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, "memdiag-plots-dark.png", png)
	// The button: auto → light (over a dark system) → dark (over a light one) → auto.
	click := func() string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => { const b = document.getElementById('theme'); b.click(); return b.textContent; })()`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := click(); got != "theme: light" {
		t.Errorf("the theme button says %q after one click, want theme: light", got)
	}
	if v := lum(); !isLight(v) {
		t.Errorf("light chosen on a dark system: luminance %v", v)
	}
	if err := chromedp.Do(bctx, scheme("light")); err != nil {
		t.Fatal(err)
	}
	if got := click(); got != "theme: dark" {
		t.Errorf("the theme button says %q after two clicks, want theme: dark", got)
	}
	if v := lum(); !isDark(v) {
		t.Errorf("dark chosen on a light system: luminance %v", v)
	}
	// The choice outlives a reload.
	if err := chromedp.Do(bctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#series"))); err != nil {
		t.Fatal(err)
	}
	if v := lum(); !isDark(v) {
		t.Errorf("after a reload the chosen dark theme is gone: luminance %v", v)
	}
	if got := click(); got != "theme: auto" {
		t.Errorf("the theme button says %q after three clicks, want theme: auto", got)
	}
	if v := lum(); !isLight(v) {
		t.Errorf("auto on a light system: luminance %v", v)
	}
	for _, p := range problems.get() {
		t.Errorf("%s", p)
	}
	stop()
}
