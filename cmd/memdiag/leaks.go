package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

const leaksSynopsis = `usage: memdiag leaks [flags] URL

Fetches a running service's leak suspects — what keeps growing, how fast, since when, how sure,
and the code that grows it (function, file:line, stack) — from the memdiag tree's leaks.json. The
service's Monitor found them from its own scheduled readings: asking takes no reading and costs
the service little. docs/leaks.md explains how suspects are found.

URL is as for memdiag report: a service's base URL (the tree at /debug/memdiag/), or the tree's.

exit status:
  0  the suspects (or that there are none) were printed
  1  the service could not be reached, refused, has leak tracking off, or did not answer with leaks
  2  bad usage

flags:
`

func leaksFlags() (*flag.FlagSet, *time.Duration, *bool) {
	fs := flag.NewFlagSet("leaks", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	asJSON := fs.Bool("json", false, "print the leaks object as JSON (docs/report-schema.md)")
	return fs, timeout, asJSON
}

func leaksUsage(w io.Writer) {
	fs, _, _ := leaksFlags()
	fs.SetOutput(w)
	io.WriteString(w, leaksSynopsis)
	fs.PrintDefaults()
}

func runLeaks(args []string, stdout, stderr io.Writer) int {
	fs, timeout, asJSON := leaksFlags()
	arg, err := parseOneURL(fs, args, timeout)
	if errors.Is(err, flag.ErrHelp) {
		leaksUsage(stdout)
		return 0
	}
	if err != nil {
		return cmdUsageError(stderr, "leaks", err)
	}
	target, err := leaksURL(arg)
	if err != nil {
		return cmdUsageError(stderr, "leaks", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	l, err := fetchLeaks(ctx, newClient(*timeout), target)
	if err != nil {
		fmt.Fprintf(stderr, "memdiag leaks: %v\n", err)
		return exitFail
	}
	if *asJSON {
		err = jsonEncoder(stdout).Encode(l)
	} else {
		err = reporttext.WriteLeaks(stdout, l)
	}
	if err != nil {
		fmt.Fprintf(stderr, "memdiag leaks: %v\n", err)
		return exitFail
	}
	return 0
}

// leaksURL is reportURL's answer with leaks.json in place of report.json.
func leaksURL(raw string) (string, error) {
	u, err := reportURL(raw)
	if err != nil {
		return "", err
	}
	if base, ok := strings.CutSuffix(u, "/report.json"); ok {
		return base + "/leaks.json", nil
	}
	return u, nil
}

// fetchLeaks gets and decodes the leaks section. Errors are sentences for the user, as
// fetchReport's.
func fetchLeaks(ctx context.Context, client *http.Client, target string) (*runtimediag.Leaks, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", target, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "memdiag-cli")
	resp, err := client.Do(req)
	if err != nil {
		return nil, reachError(target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", target, err)
	}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		if why, ok := treeRefusal(body); ok {
			return nil, fmt.Errorf("forbidden: %s: %s", target, why)
		}
		return nil, fmt.Errorf("forbidden: %s: the tree only serves loopback callers unless an authorizer is configured (docs/security.md)", target)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("unauthorized: %s: the service's authorizer refused this request (docs/security.md)", target)
	case resp.StatusCode == http.StatusNotFound && strings.Contains(string(body), "WithLeakTracking"):
		return nil, fmt.Errorf("%s: the service's Monitor has leak tracking off (runtimediag.WithLeakTracking)", target)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("not found: %s: no memdiag tree with leaks there (the default tree is %s; a tree older than the leaks endpoint has none)", target, defaultTree)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: HTTP %s (first bytes %s)", target, resp.Status, firstBytes(body))
	case len(body) > maxReportBytes:
		return nil, fmt.Errorf("not memdiag leaks at %s: larger than %d bytes", target, maxReportBytes)
	}
	l, err := decodeLeaks(body)
	if err != nil {
		return nil, fmt.Errorf("not memdiag leaks at %s (got Content-Type %q, first bytes %s): %w",
			target, resp.Header.Get("Content-Type"), firstBytes(body), err)
	}
	return l, nil
}

// decodeLeaks accepts a JSON object with a "suspects" array: shape, not success, says it is one.
func decodeLeaks(b []byte) (*runtimediag.Leaks, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, errors.New("not a JSON object")
	}
	var suspects []json.RawMessage
	if raw, ok := top["suspects"]; !ok || json.Unmarshal(raw, &suspects) != nil || suspects == nil {
		return nil, errors.New(`no "suspects" array`)
	}
	var l runtimediag.Leaks
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	return &l, nil
}
