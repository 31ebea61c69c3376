package middleware

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// csrfPage is what a page on another origin does to take captures on the tree: HTML forms posted
// into hidden frames (one encoded as a form, one as text/plain shaped like JSON), a no-cors fetch
// that asks for application/json (the browser drops that header: no-cors allows only the
// safelisted types) and a CORS fetch with JSON (which needs a preflight the tree refuses).
const csrfPage = `<!doctype html><title>csrf</title><body>
<script>
const bases = %s;
const tries = [];
for (const [i, base] of bases.entries()) {
  for (const enc of ["application/x-www-form-urlencoded", "text/plain"]) {
    // A frame of its own for each form: a second submission into one frame cancels the first.
    const sink = document.createElement("iframe");
    sink.name = "sink" + i + enc.length; sink.style.display = "none"; document.body.appendChild(sink);
    const f = document.createElement("form");
    f.method = "POST"; f.action = base + "captures"; f.target = sink.name; f.enctype = enc;
    const in1 = document.createElement("input");
    in1.name = '{"reason":"csrf","x":"'; in1.value = '"}';
    f.appendChild(in1); document.body.appendChild(f); f.submit();
  }
  tries.push(fetch(base + "captures", {method: "POST", mode: "no-cors", headers: {"Content-Type": "application/json"}, body: '{"reason":"no-cors"}'}).then(() => "sent").catch(e => "error " + e));
  tries.push(fetch(base + "captures", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"reason":"cors"}'}).then(r => "read " + r.status).catch(e => "blocked " + e));
}
window.results = null;
Promise.allSettled(tries).then(rs => { window.results = rs.map(r => String(r.value ?? r.reason ?? "")); });
</script></body>`

// TestCaptureCrossSiteInBrowser drives Chromium from a page on another loopback origin (another
// port: same-site; another name: cross-site) that tries to take captures with form posts and
// fetches. Every POST that reaches the tree is refused, and no capture is taken.
func TestCaptureCrossSiteInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	chromium := findChromium(t)
	mon := newTestMonitor(t)
	tr := newTestTree(t, mon)
	var mu sync.Mutex
	var posts, served []string
	var preflights int
	treeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		tr.ServeHTTP(sw, r)
		mu.Lock()
		defer mu.Unlock()
		line := fmt.Sprintf("%s %s %d ct=%q site=%q origin=%q", r.Method, r.URL.Path, sw.code, r.Header.Get("Content-Type"), r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin"))
		switch r.Method {
		case http.MethodPost:
			posts = append(posts, line)
			if sw.code < 400 {
				served = append(served, line)
			}
		case http.MethodOptions:
			preflights++
		}
	}))
	t.Cleanup(treeSrv.Close)
	treeURL, _ := url.Parse(treeSrv.URL)
	bases := fmt.Sprintf(`["http://127.0.0.1:%[1]s/debug/memdiag/", "http://localhost:%[1]s/debug/memdiag/"]`, treeURL.Port())
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, csrfPage, bases)
	}))
	t.Cleanup(attacker.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(attacker.URL+"/csrf.html")); err != nil {
		t.Fatal(err)
	}
	out, err := chromedp.Run(bctx, chromedp.Poll[[]string](`window.results`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out {
		if strings.HasPrefix(r, "read ") {
			t.Errorf("the page read a CORS answer: %s", r)
		}
	}
	// The forms post into the hidden frame on their own time: wait for the 4 form posts and the
	// 2 no-cors fetches to arrive.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(posts)
		mu.Unlock()
		if n >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancelBrowser()
	mu.Lock()
	defer mu.Unlock()
	for _, p := range posts {
		t.Log(p)
	}
	t.Logf("results %q; %d preflights", out, preflights)
	if len(posts) < 6 {
		t.Errorf("%d POSTs reached the tree, want at least 6 (4 forms, 2 no-cors fetches): the browser did not send what the test expects", len(posts))
	}
	if len(served) > 0 {
		t.Errorf("cross-origin POSTs served: %q", served)
	}
	if n := len(mon.Captures()); n != 0 {
		t.Errorf("%d captures taken by a page of another origin", n)
	}
}

// TestCaptureButtonInBrowser clicks the page's capture button: the page's own same-origin POST
// passes the guard and the JSON check, and a capture is stored.
func TestCaptureButtonInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	mon := newTestMonitor(t)
	srv := httptest.NewServer(newTestTree(t, mon))
	t.Cleanup(srv.Close)
	bctx, problems, cancelBrowser := startBrowser(t, srv.URL, 1280, 1000)
	defer cancelBrowser()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+testPrefix),
		chromedp.WaitVisible(chromedp.CSS("#capture-take")),
		chromedp.Click(chromedp.CSS("#capture-take")),
	); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(bctx, chromedp.Poll[string](
		`(s => s && !s.endsWith('…') ? s : null)(document.getElementById('capture-status').textContent)`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if status != "capture taken" {
		t.Errorf("the page says %q, want \"capture taken\"", status)
	}
	if caps := mon.Captures(); len(caps) != 1 {
		t.Errorf("%d captures stored after one click, want 1", len(caps))
	}
	for _, p := range problems.get() {
		t.Errorf("browser: %s", p)
	}
}
