package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// exitFail is the status of a command that ran and could not do its job: a service that cannot be
// reached or does not serve a report, a process whose mappings cannot be read.
const exitFail = 1

// defaultTree is where middleware.Handler is mounted unless WithPrefix says otherwise.
const defaultTree = "/debug/memdiag/"

// maxReportBytes bounds what is read from a service: a report with its per-mapping table is tens
// of KiB, so anything this large is not one.
const maxReportBytes = 64 << 20

// reportURL turns what the user typed into the URL of report.json: a service's base URL gets the
// default tree, a tree gets report.json, report.txt becomes report.json. A missing scheme is http.
func reportURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("bad URL %q: the scheme must be http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("bad URL %q: no host", raw)
	}
	switch p := u.Path; {
	case p == "" || p == "/":
		u.Path = defaultTree + "report.json"
	case strings.HasSuffix(p, ".json"):
	case strings.HasSuffix(p, "/report.txt"):
		u.Path = strings.TrimSuffix(p, "txt") + "json"
	case strings.HasSuffix(p, "/"):
		u.Path = p + "report.json"
	default:
		u.Path = p + "/report.json"
	}
	return u.String(), nil
}

// fetchReport gets and decodes one report. Every error is a sentence for the user that names the
// URL and, where there is one, what to check.
func fetchReport(ctx context.Context, client *http.Client, target string) (*runtimediag.Report, error) {
	body, contentType, err := fetchTree(ctx, client, target, "application/json", maxReportBytes)
	if err != nil {
		return nil, err
	}
	rep, err := decodeReport(body)
	if err != nil {
		return nil, fmt.Errorf("not a memdiag report at %s (got Content-Type %q, first bytes %s): %w",
			target, contentType, firstBytes(body), err)
	}
	return rep, nil
}

// mountAdvice says how a service mounts the tree, for a 404.
const mountAdvice = "mount it in the service with mux.Handle(\"" + defaultTree + "\", middleware.Handler(mon)) (docs/getting-started.md); " +
	"if it is mounted under another prefix, pass that tree's URL"

// fetchTree gets one endpoint of a memdiag tree, at most limit bytes. Every error is a sentence
// for the user that names the URL and what to check: a 404 says what to mount.
//
// A 429 whose Retry-After is a few seconds at most (the tree serves one stop-the-world profile a
// second) is waited out and asked again, twice at most.
func fetchTree(ctx context.Context, client *http.Client, target, accept string, limit int) (body []byte, contentType string, err error) {
	for try := 0; ; try++ {
		body, contentType, retry, err := fetchTreeOnce(ctx, client, target, accept, limit)
		if retry <= 0 || retry > maxRetryWait || try == 2 {
			return body, contentType, err
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", fmt.Errorf("%s: interrupted while waiting %s to retry: %w", target, retry, err)
		case <-t.C:
		}
	}
}

// maxRetryWait is the longest Retry-After fetchTree waits out.
const maxRetryWait = 5 * time.Second

// fetchTreeOnce is one try of fetchTree; retry is the Retry-After of a 429, else 0.
func fetchTreeOnce(ctx context.Context, client *http.Client, target, accept string, limit int) (body []byte, contentType string, retry time.Duration, err error) {
	return sendTree(ctx, client, http.MethodGet, target, nil, accept, limit)
}

// postTree sends a JSON body to an endpoint of a memdiag tree that takes POST, and returns its
// answer; errors are fetchTree's sentences.
func postTree(ctx context.Context, client *http.Client, target string, payload []byte, limit int) ([]byte, error) {
	body, _, _, err := sendTree(ctx, client, http.MethodPost, target, payload, "application/json", limit)
	return body, err
}

// sendTree is one request to an endpoint of a tree: a GET, or a POST of a JSON payload.
func sendTree(ctx context.Context, client *http.Client, method, target string, payload []byte, accept string, limit int) (body []byte, contentType string, retry time.Duration, err error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, "", 0, fmt.Errorf("bad URL %q: %w", target, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "memdiag-cli")
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", 0, reachError(target, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, "", 0, fmt.Errorf("reading %s: %w", target, err)
	}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		if why, ok := treeRefusal(body); ok {
			return nil, "", 0, fmt.Errorf("forbidden: %s: %s", target, why)
		}
		return nil, "", 0, fmt.Errorf("forbidden: %s: the tree only serves loopback callers unless an authorizer is configured (docs/security.md)", target)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, "", 0, fmt.Errorf("unauthorized: %s: the service's authorizer refused this request (docs/security.md)", target)
	case resp.StatusCode == http.StatusNotFound && bytes.HasPrefix(body, []byte("path: not found")):
		// The tree answered: it is mounted, and has no such endpoint.
		return nil, "", 0, fmt.Errorf("not found: %s: the memdiag tree there has no such endpoint (the service runs an older memdiag: upgrade it)", target)
	case resp.StatusCode == http.StatusNotFound:
		return nil, "", 0, fmt.Errorf("not found: %s: the memdiag tree is not mounted there; %s", target, mountAdvice)
	case resp.StatusCode == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return nil, "", time.Duration(secs) * time.Second, fmt.Errorf("%s: HTTP %s: %s", target, resp.Status, firstBytes(body))
	case resp.StatusCode != http.StatusOK:
		return nil, "", 0, fmt.Errorf("%s: HTTP %s: %s", target, resp.Status, firstBytes(body))
	case len(body) > limit:
		return nil, "", 0, fmt.Errorf("%s: larger than %d bytes", target, limit)
	}
	return body, resp.Header.Get("Content-Type"), 0, nil
}

// treeURL turns what the user typed into the URL of one endpoint of the tree: a service's base
// URL gets the default tree, a tree or one of its report URLs is taken as the tree. A missing
// scheme is http.
func treeURL(raw, endpoint string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("bad URL %q: the scheme must be http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("bad URL %q: no host", raw)
	}
	switch p := u.Path; {
	case p == "" || p == "/":
		u.Path = defaultTree
	case strings.HasSuffix(p, "/report.json"), strings.HasSuffix(p, "/report.txt"):
		u.Path = p[:strings.LastIndex(p, "/")+1]
	case !strings.HasSuffix(p, "/"):
		u.Path = p + "/"
	}
	e, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	u.Path += e.Path
	u.RawQuery = e.RawQuery
	return u.String(), nil
}

// decodeReport accepts JSON only when it has the report's "rss" object with its categories: any
// JSON object decodes into a Report, so shape, not success, says whether it is one.
func decodeReport(b []byte) (*runtimediag.Report, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, errors.New("not a JSON object")
	}
	var rss struct {
		Categories []json.RawMessage `json:"categories"`
	}
	raw, ok := top["rss"]
	if !ok || json.Unmarshal(raw, &rss) != nil || rss.Categories == nil {
		return nil, errors.New(`no "rss" object with categories`)
	}
	var rep runtimediag.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// readReportFile reads a report saved from report.json (curl, memdiag report --json).
func readReportFile(path string) (*runtimediag.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rep, err := decodeReport(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a memdiag report: %w", path, err)
	}
	return rep, nil
}

func reachError(target string, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach %s: connection refused (is the service running? is the tree mounted at %s?)", target, defaultTree)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("cannot reach %s: no answer in time (a full report reads smaps, which takes longer on a large process: raise --timeout)", target)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: interrupted", target)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("cannot reach %s: unknown host %s", target, dnsErr.Name)
	}
	return fmt.Errorf("cannot reach %s: %w", target, err)
}

// firstBytes quotes the start of a body, enough to recognise an HTML page or a proxy's error.
// treeRefusal returns the reason a memdiag tree gave for its 403 ("forbidden: the request came
// through a proxy …"), its first line without the prefix, cut to 400 bytes and with anything but
// printable ASCII dropped, since it goes to a terminal.
func treeRefusal(body []byte) (string, bool) {
	line, _, _ := bytes.Cut(body, []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("forbidden: "))
	if !ok || len(rest) == 0 {
		return "", false
	}
	var b strings.Builder
	for _, c := range rest {
		if b.Len() == 400 {
			b.WriteString("…")
			break
		}
		if c >= ' ' && c <= '~' {
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func firstBytes(b []byte) string {
	const n = 80
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(empty body)"
	}
	if len(b) > n {
		return fmt.Sprintf("%q…", b[:n])
	}
	return fmt.Sprintf("%q", b)
}

func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout}
}

// parseOneURL parses the arguments of a command that reads one URL: flags anywhere, one
// positional URL, then the command's own checks in order, then a positive --timeout. It returns
// flag.ErrHelp when help was asked, for the caller to print its usage.
func parseOneURL(fs *flag.FlagSet, args []string, timeout *time.Duration, checks ...func() error) (string, error) {
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("want one URL, have %d arguments", len(pos))
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return "", err
		}
	}
	if *timeout <= 0 {
		return "", fmt.Errorf("--timeout %s: must be positive", *timeout)
	}
	return pos[0], nil
}
