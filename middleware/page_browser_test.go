package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/memdiag/memdiag/runtimediag"
)

// findChromium returns the browser to drive: Debian's chromium. Without one the test is skipped,
// unless MEMDIAG_REQUIRE_ALL=1 (CI) makes that a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("MEMDIAG_REQUIRE_ALL") == "1" {
		t.Fatal("chromium not installed, and MEMDIAG_REQUIRE_ALL=1 requires it (apt-get install chromium)")
	}
	t.Skip("chromium not installed")
	return ""
}

// browserProblems collects what the page must never cause: console errors, uncaught exceptions,
// errors the browser logs itself (a CSP violation, a failed load) and requests leaving the server.
type browserProblems struct {
	mu   sync.Mutex
	list []string
}

func (b *browserProblems) add(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, fmt.Sprintf(format, args...))
}

func (b *browserProblems) get() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.list...)
}

// TestPageInBrowser loads the page in a real headless browser against a real Monitor and checks
// what a person would: it loads cleanly and alone, shows the report's figures, and goes live.
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	mon := newTestMonitor(t, runtimediag.WithTickInterval(200*time.Millisecond))
	srv := httptest.NewServer(newTestTree(t, mon))
	t.Cleanup(srv.Close)
	pageURL := srv.URL + testPrefix

	bctx, problems, cancelBrowser := startBrowser(t, srv.URL, 1280, 1000)
	defer cancelBrowser()

	// The page and /report.json must show one report: the tree serves its latest full report to
	// both for a second, so a page loaded right after the JSON shows the same one. Should a second
	// pass in between, a fresh report is taken: then load both again.
	var rep runtimediag.Report
	var pageTime, pageResident chromedp.AttributeResult
	for attempt := 1; ; attempt++ {
		rep = fetchReport(t, srv.URL+testPrefix+"report.json")
		err := chromedp.Do(bctx,
			chromedp.Navigate(pageURL),
			chromedp.WaitVisible(chromedp.CSS("#verdict")),
		)
		if err == nil {
			pageTime, err = chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS("body"), "data-report-time"))
		}
		if err == nil {
			pageResident, err = chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS("[data-resident-bytes]"), "data-resident-bytes"))
		}
		if err != nil {
			t.Fatal(err)
		}
		if pageTime.Value == rep.Time.UTC().Format(time.RFC3339Nano) {
			break
		}
		if attempt == 3 {
			t.Fatalf("the page never showed /report.json's report: page %s, json %s", pageTime.Value, rep.Time.UTC().Format(time.RFC3339Nano))
		}
	}
	if want := fmt.Sprint(rep.RSS.ResidentBytes); pageResident.Value != want {
		t.Errorf("page shows resident %s bytes, /report.json says %s", pageResident.Value, want)
	}

	segments, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('svg rect[data-category]')).map(r => r.dataset.category)`))
	if err != nil {
		t.Fatal(err)
	}
	var nonEmpty []string
	for _, c := range rep.RSS.Categories {
		if c.Bytes > 0 {
			nonEmpty = append(nonEmpty, c.Name)
		}
	}
	if strings.Join(segments, ",") != strings.Join(nonEmpty, ",") {
		t.Errorf("RSS bar segments %v, want one per non-empty category %v", segments, nonEmpty)
	}

	// Live: the last tick's time must change through /events within 3 s.
	liveTime := chromedp.TextContent(chromedp.CSS(`[data-live="time"]`))
	first, err := chromedp.Run(bctx, liveTime)
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	var stream string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		now, err := chromedp.Run(bctx, liveTime)
		if err != nil {
			t.Fatal(err)
		}
		if now != first {
			changed = true
			break
		}
	}
	if stream, err = chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS("#stream"))); err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Errorf("the last tick's time stayed %q for 3 s (stream status %q): no live update", first, stream)
	}
	if stream != "live" {
		t.Errorf("stream status %q, want live", stream)
	}
	// Let a few more ticks redraw the charts before the picture and the final check.
	time.Sleep(600 * time.Millisecond)

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
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
	shot := filepath.Join(dir, "memdiag-page.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	for _, p := range problems.get() {
		t.Errorf("%s", p)
	}
	// Close the browser before the server, so the stream's connection ends and the server's
	// Close does not wait for it.
	cancelBrowser()
}

// startBrowser opens a headless Chromium tab of width × height that records what the page must
// never cause (browserProblems) and any request leaving srvURL; stop closes it.
func startBrowser(t *testing.T, srvURL string, width, height int) (context.Context, *browserProblems, func()) {
	t.Helper()
	chromium := findChromium(t)
	// A bound against a hung browser, not a speed requirement: on a loaded 2-core machine, with
	// another package's tests beside it, starting Chromium and loading the page with every plot
	// took over 30 s once.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	stops := []func(){cancel}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container: the sandbox needs user namespaces
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	stops = append(stops, cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	stops = append(stops, cancelBrowser)
	cancelAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}

	// Open the tab first, so that the listener sees every event of the page's load.
	if err := chromedp.Do(bctx); err != nil {
		cancelAll()
		t.Fatal(err)
	}
	problems := &browserProblems{}
	if err := chromedp.Listen(bctx, func(ev any) {
		switch e := ev.(type) {
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError || e.Type == cdpruntime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems.add("console.%s: %s", e.Type, strings.Join(args, " "))
			}
		case *cdpruntime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems.add("exception at %d:%d: %s", d.LineNumber, d.ColumnNumber, msg)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				problems.add("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			u := e.Request.URL
			if !strings.HasPrefix(u, srvURL+"/") && !strings.HasPrefix(u, "data:") {
				problems.add("request outside the server: %s", u)
			}
		}
	}); err != nil {
		cancelAll()
		t.Fatal(err)
	}

	return bctx, problems, cancelAll
}

func fetchReport(t *testing.T, url string) runtimediag.Report {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	var rep runtimediag.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}
