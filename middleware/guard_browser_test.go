package middleware

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// statusWriter records the status the tree answered with.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// treeLog counts what reached the tree and what it served.
type treeLog struct {
	mu       sync.Mutex
	arrived  []string // "path status Sec-Fetch-Site"
	profiles int      // profile requests that arrived
	served   int      // of them, answered with anything but 403
}

func (l *treeLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.arrived = append(l.arrived, fmt.Sprintf("%s %d host=%s site=%q origin=%q", r.URL.RequestURI(), sw.code, r.Host, r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin")))
		switch path.Base(r.URL.Path) {
		case "cpu", "fgprof", "allocs":
			l.profiles++
			if sw.code != http.StatusForbidden {
				l.served++
			}
		}
	})
}

// attackPage is what a page on another local origin does to the tree at base: start profiles
// with <img> and no-cors fetches (it cannot read the answers, and needs not), and try to read
// /proc with an ordinary fetch. It reports when every attempt has settled.
const attackPage = `<!doctype html><title>attack</title><body><script>
const bases = %s;
const tries = [];
for (const base of bases) {
  for (const p of ["cpu?seconds=5", "fgprof?seconds=5", "allocs?seconds=5"]) {
    tries.push(new Promise(done => { const i = new Image(); i.onload = i.onerror = done; i.src = base + p; }));
    tries.push(fetch(base + p + "&nc=1", {mode: "no-cors"}).catch(() => {}));
  }
  tries.push(fetch(base + "proc").then(r => r.text()).catch(e => "blocked: " + e));
}
window.results = null;
Promise.allSettled(tries).then(rs => { window.results = rs.map(r => String(r.value ?? r.reason ?? "")); });
</script></body>`

// rebindPage runs after DNS rebinding: the attacker's name now points at 127.0.0.1, so the page
// and the tree share one origin and the page can read whatever the tree answers.
const rebindPage = `<!doctype html><title>rebound</title><body><script>
window.results = null;
Promise.all(["proc", "maps", "report.json", "cpu?seconds=5"].map(p =>
  fetch("/debug/memdiag/" + p).then(async r => r.status + " " + (await r.text()).slice(0, 200)).catch(e => "error " + e)
)).then(rs => { window.results = rs; });
</script></body>`

// TestCrossSiteInBrowser drives real Chromium against the tree as a hostile page would: from a
// page on another loopback origin (another port, and another name of this host) it starts CPU,
// fgprof and allocs profiles with <img src> and fetch(no-cors), and after DNS rebinding it reads
// /proc, /maps and the report from the attacker's own origin. The tree must refuse every one:
// no profile request is served (so no single-flight slot is ever taken) and nothing is read.
func TestCrossSiteInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	chromium := findChromium(t)
	mon := newTestMonitor(t)
	tr := newTestTree(t, mon)
	var log treeLog
	treeSrv := httptest.NewServer(log.wrap(tr))
	t.Cleanup(treeSrv.Close)
	treeURL, _ := url.Parse(treeSrv.URL)
	port := treeURL.Port()

	// The attacker's page on another loopback port. 127.0.0.1:other is same-site to the tree at
	// 127.0.0.1:port, localhost:port is cross-site to it.
	bases := fmt.Sprintf(`["http://127.0.0.1:%[1]s/debug/memdiag/", "http://localhost:%[1]s/debug/memdiag/"]`, port)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, attackPage, bases)
	}))
	t.Cleanup(attacker.Close)

	// After rebinding, the attacker's name resolves to the tree's address: the same server answers
	// the attacker's page and the tree, as one origin.
	var rebound atomic.Bool
	rebindMux := http.NewServeMux()
	rebindMux.Handle("/debug/memdiag/", log.wrap(tr))
	rebindMux.HandleFunc("/rebound.html", func(w http.ResponseWriter, r *http.Request) {
		rebound.Store(true)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, rebindPage)
	})
	rebindSrv := httptest.NewServer(rebindMux)
	t.Cleanup(rebindSrv.Close)
	rebindURL, _ := url.Parse(rebindSrv.URL)

	// Watch the single-flight slots while the browser works.
	stop := make(chan struct{})
	var slotTaken atomic.Bool
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if tr.cpu.isBusy() || tr.fgprof.isBusy() || tr.allocs.isBusy() {
				slotTaken.Store(true)
			}
		}
	}()
	defer func() { close(stop); <-watched }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		// rebind.test is the attacker's name, answered with 127.0.0.1 as a rebinding DNS server would.
		chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	if err := chromedp.Do(bctx); err != nil { // start the browser, so that tabs open in it
		t.Fatalf("starting %s: %v", chromium, err)
	}
	// Each page opens in a tab of its own: polling in the tab the previous page was in can meet
	// that page's JavaScript context, torn down by the navigation ("Cannot find context with
	// specified id").
	results := func(pageURL string, want int) []string {
		t.Helper()
		tab, cancelTab := chromedp.NewContext(bctx)
		defer cancelTab()
		if err := chromedp.Do(tab, chromedp.Navigate(pageURL)); err != nil {
			t.Fatalf("%s: %v", pageURL, err)
		}
		out, err := chromedp.Run(tab, chromedp.Poll[[]string](`window.results`, chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			t.Fatalf("%s: %v", pageURL, err)
		}
		if len(out) != want {
			t.Fatalf("%s: %d results, want %d: %q", pageURL, len(out), want, out)
		}
		return out
	}

	for _, r := range results(attacker.URL+"/attack.html", 14) {
		if strings.Contains(r, "VmRSS") || strings.Contains(r, "cmdline") {
			t.Errorf("the page read /proc: %.200s", r)
		}
	}
	for i, r := range results("http://rebind.test:"+rebindURL.Port()+"/rebound.html", 4) {
		if !strings.HasPrefix(r, "403 forbidden: host \"rebind.test:") {
			t.Errorf("after rebinding, request %d answered %.200q, want 403 naming the host", i, r)
		}
	}
	if !rebound.Load() {
		t.Error("the rebound page was never loaded")
	}
	cancelBrowser()

	log.mu.Lock()
	defer log.mu.Unlock()
	for _, a := range log.arrived {
		t.Log(a)
	}
	// The test proves something only if the browser's requests reached the tree: 12 profile
	// requests from the attack page (3 kinds × <img> and fetch × 2 names) and one after rebinding.
	if log.profiles < 13 {
		t.Errorf("only %d profile requests reached the tree, want 13: the browser did not send what the test expects", log.profiles)
	}
	if log.served != 0 {
		t.Errorf("%d of %d profile requests from another origin were served", log.served, log.profiles)
	}
	if slotTaken.Load() {
		t.Error("a profile's single-flight slot was taken by a cross-origin request")
	}
}
