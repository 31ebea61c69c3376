package middleware

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// The secrets planted in the child process, on its command line and in its environment.
var plantedSecrets = []string{"hunter2", "wJalrXUtnFEMI-planted", "tok-planted-9f8e", "s3cr3t-in-url", "planted-env-value-77",
	"pw-planted-31", "dsn-planted-42", "hdr-planted-53", "redis-planted-64", "p@ss/planted-75"}

// TestSecretsChild is the child of TestSecretsNeverServed: it serves the tree on loopback, prints
// the address, takes a capture and waits for its stdin to close.
func TestSecretsChild(t *testing.T) {
	if os.Getenv("MEMDIAG_SECRETS_CHILD") != "1" {
		t.Skip("run by TestSecretsNeverServed")
	}
	mon := newTestMonitor(t, runtimediag.WithEnvAllowlist("MEMDIAG_SHOWN", "MEMDIAG_CACHE", "AWS_*"))
	if _, err := mon.Capture(context.Background(), "secrets test"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(mon))
	defer srv.Close()
	fmt.Println("URL", srv.URL)
	io.Copy(io.Discard, os.Stdin)
}

// TestSecretsNeverServed plants secrets where memdiag reads — a --password= argument, a --token
// argument, a URL with a password, AWS_SECRET_ACCESS_KEY and other variables in the environment,
// some of them allowlisted by name — and greps every endpoint's output for them, profiles and
// captures included (decompressed).
func TestSecretsNeverServed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the command line and environment are read from /proc")
	}
	if testing.Short() {
		t.Skip("starts a child process and runs two 1 s profiles")
	}
	t.Parallel() // the process it reads is a child of its own
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretsChild$", "-test.v", "--",
		"--password=hunter2", "--token", "tok-planted-9f8e", "--db=postgres://app:s3cr3t-in-url@db/x",
		"--pw=pw-planted-31", "--orders=app:dsn-planted-42@tcp(db:3306)/orders", "--header", "X-Api-Key: hdr-planted-53",
		"--ledger=postgres://app:p@ss/planted-75@db/x", "--session-timeout=30s", "--skip-auth", "/etc/app/config.yaml")
	cmd.Env = append(os.Environ(),
		"MEMDIAG_SECRETS_CHILD=1",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI-planted",
		"AWS_REGION=eu-west-1",
		"MEMDIAG_PLANTED=planted-env-value-77",
		"MEMDIAG_SHOWN=visible-value",
		"MEMDIAG_CACHE=redis://:redis-planted-64@cache:6379",
	)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var base string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			base = u + testPrefix
			break
		}
	}
	if base == "" {
		t.Fatal("child printed no URL")
	}
	go io.Copy(io.Discard, stdout)

	var all bytes.Buffer
	for _, target := range []string{
		"report.json", "report.txt", "history.json", "maps", "maps?format=json", "proc", "proc?format=text",
		"allocs?seconds=1", "fgprof?seconds=1&format=folded", "captures", "captures?format=text",
		"captures/1/heap", "captures/1/goroutine", "", "events", "nope?<x>",
	} {
		b := fetchFor(t, base+target, 3*time.Second)
		all.Write(b)
		for _, s := range plantedSecrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s serves the planted secret %q", target, s)
			}
		}
	}
	// The test proves something only if memdiag did read the planted places.
	for _, want := range []string{`--password=[redacted]`, `"--token"`, `postgres://app:[redacted]@db/x`, `"AWS_SECRET_ACCESS_KEY"`, `"MEMDIAG_PLANTED"`, `"AWS_SECRET_ACCESS_KEY": "[redacted]"`, `"MEMDIAG_SHOWN": "visible-value"`, `"AWS_REGION": "eu-west-1"`,
		`"--session-timeout=30s"`, `"/etc/app/config.yaml"`, `"X-Api-Key: [redacted]"`, `app:[redacted]@tcp(db:3306)/orders`,
		`"MEMDIAG_CACHE": "redis://:[redacted]@cache:6379"`} {
		if !bytes.Contains(all.Bytes(), []byte(want)) {
			t.Errorf("no endpoint shows %s: the planted values were not where the test looked", want)
		}
	}
}

// fetchFor GETs url and returns its body, gunzipped when it is gzip (profiles).
func fetchFor(t *testing.T, url string, timeout time.Duration) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil // a stream (/events) ends by timeout
		}
		t.Fatalf("%s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if u, err := io.ReadAll(zr); err == nil {
				b = append(b, u...)
			}
		}
	}
	return b
}
