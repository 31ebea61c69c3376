package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

const recorded = "../../bench/testdata/recorded"

func rec(name string) string { return filepath.Join(recorded, name) }

// gc is a file of the gate's cases.
func gc(name string) string { return filepath.Join("../../bench/gate/testdata/cases", name) }

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		golden string // compared with stdout when set
		stderr string // substring of stderr
		stdout string // substring of stdout
	}{
		{name: "regression", args: []string{"gate", rec("base.txt"), rec("planted.txt")}, exit: 1, golden: "planted.txt"},
		{name: "regression-json", args: []string{"gate", "--format=json", rec("base.txt"), rec("planted.txt")}, exit: 1, golden: "planted.json"},
		{name: "regression-markdown", args: []string{"gate", rec("base.txt"), rec("planted.txt"), "--format", "markdown"}, exit: 1, golden: "planted.md"},
		{name: "identical", args: []string{"gate", rec("base.txt"), rec("base.txt")}, exit: 0, stdout: "PASS"},
		{name: "rerun-alloc-units", args: []string{"gate", "--units=allocs/op,B/op,frac-allocs/op,frac-B/op,gc-cycles/op", rec("base.txt"), rec("base-again.txt")}, exit: 0, stdout: "PASS: 25 comparisons"},
		{name: "count1", args: []string{"gate", rec("base.txt"), rec("planted-count1.txt")}, exit: 3, stdout: "need >= 6 samples"},
		{name: "garbled", args: []string{"gate", rec("base.txt"), rec("garbled.txt")}, exit: 2, stderr: rec("garbled.txt") + ":26: parsing iteration count"},
		{name: "missing-file", args: []string{"gate", rec("base.txt"), rec("nope.txt")}, exit: 2, stderr: "nope.txt"},
		{name: "one-file", args: []string{"gate", rec("base.txt")}, exit: 2, stderr: "want BASE NEW"},
		{name: "bad-flag", args: []string{"gate", "--colour", rec("base.txt"), rec("planted.txt")}, exit: 2, stderr: "colour"},
		{name: "bad-format", args: []string{"gate", "--format=xml", rec("base.txt"), rec("planted.txt")}, exit: 2, stderr: "-format"},
		{name: "bad-tolerance", args: []string{"gate", "--tolerance=B/op=lots", rec("base.txt"), rec("planted.txt")}, exit: 2, stderr: "-tolerance"},
		{name: "loose-tolerance", args: []string{"gate", "--units=allocs/op,B/op", "--tolerance=allocs/op=1", "--tolerance=B/op=80", rec("base.txt"), rec("planted.txt")}, exit: 0, stdout: "PASS"},
		{name: "all-equal-and-regression", args: []string{"gate", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 1, stdout: "FAIL: 3 regressions"},
		{name: "a-a-varying-allocs", args: []string{"gate", "--units=allocs/op", gc("bent-odd.txt"), gc("bent-even.txt")}, exit: 0, stdout: "compared with the U test"},
		{name: "nan", args: []string{"gate", gc("alleq-base.txt"), gc("nan-ns.txt")}, exit: 2, stderr: gc("nan-ns.txt") + ":17: BenchmarkParse-2: NaN ns/op: not a finite number"},
		{name: "negative-allocs", args: []string{"gate", gc("alleq-base.txt"), gc("neg-allocs.txt")}, exit: 2, stderr: ":17: BenchmarkParse-2: -3 allocs/op: cannot be negative"},
		{name: "nan-base", args: []string{"gate", gc("nan-ns.txt"), gc("alleq-base.txt")}, exit: 2, stderr: gc("nan-ns.txt") + ":17:"},
		{name: "nan-tolerance", args: []string{"gate", "--tolerance=allocs/op=NaN", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 2, stderr: "-tolerance"},
		{name: "inf-tolerance", args: []string{"gate", "--tolerance=B/op=Inf%", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 2, stderr: "-tolerance"},
		{name: "negative-per-run", args: []string{"gate", "--tolerance=gc-cycles/op=-1/run", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 2, stderr: "-tolerance"},
		{name: "nan-min-effect", args: []string{"gate", "--min-effect=NaN", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 2, stderr: "-min-effect"},
		{name: "inf-min-effect", args: []string{"gate", "--min-effect=Inf%", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 2, stderr: "-min-effect"},
		{name: "nan-alpha", args: []string{"gate", "--alpha=NaN", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 2, stderr: "-alpha"},
		{name: "no-units", args: []string{"gate", "--units=,", gc("alleq-base.txt"), gc("alleq-new.txt")}, exit: 2, stderr: "-units"},
		{name: "huge-json", args: []string{"gate", "--format=json", gc("alleq-base.txt"), gc("huge-bytes.txt")}, exit: 1, stdout: `"outcome": "regressed"`},
		{name: "other-cpu", args: []string{"gate", gc("cpu-a.txt"), gc("cpu-b.txt")}, exit: 3, stdout: "cpu differs"},
		{name: "other-cpu-ignored", args: []string{"gate", "--ignore=cpu", gc("cpu-a.txt"), gc("cpu-b.txt")}, exit: 0, stdout: "PASS"},
		{name: "mixed-configurations", args: []string{"gate", "--units=allocs/op", gc("mixed-base.txt"), gc("mixed-new.txt")}, exit: 1, stdout: "Get [note=without-cache]"},
		{name: "metadata-from-base", args: []string{"gate", "--units=hits/op", gc("meta-base.txt"), gc("meta-new.txt")}, exit: 1, stdout: "FAIL: 1 regression"},
		{name: "explain-needs-pkg", args: []string{"gate", "--explain", rec("base.txt"), rec("planted.txt")}, exit: 2, stderr: "--pkg"},
		{name: "update-needs-budgets", args: []string{"gate", "--update", rec("base.txt"), rec("planted.txt")}, exit: 2, stderr: "--budgets"},
		{name: "explain-profiles", args: []string{"gate", "--base-profile", rec("ParseKV-base.memprof"), "--new-profile", rec("ParseKV-planted.memprof"), "--iters=20000"}, exit: 0, stdout: "plant_on.go:9"},
		{name: "no-command", args: nil, exit: 2, stderr: "usage: memdiag"},
		{name: "unknown-command", args: []string{"frobnicate"}, exit: 2, stderr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"help"}, exit: 0, stdout: "gate"},
		{name: "help-gate", args: []string{"help", "gate"}, exit: 0, stdout: "exit status:"},
		{name: "gate-h", args: []string{"gate", "-h"}, exit: 0, stdout: "-budgets"},
		{name: "why-no-package", args: []string{"why"}, exit: 2, stderr: "want one package"},
		{name: "why-bad-format", args: []string{"why", "-format=xml", "."}, exit: 2, stderr: "-format"},
		{name: "why-missing-report", args: []string{"why", "--from", "127.0.0.1:1"}, exit: 1, stderr: "memdiag why"},
		{name: "help-why", args: []string{"help", "why"}, exit: 0, stdout: "-bench"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.exit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tc.exit, stdout.String(), stderr.String())
			}
			if tc.golden != "" {
				golden(t, tc.golden, stdout.Bytes())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout.String())
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

func TestBudgetsRatchet(t *testing.T) {
	budgets := filepath.Join(t.TempDir(), "budgets.txt")
	var stdout, stderr bytes.Buffer
	// First update creates the file from the base results.
	if got := run([]string{"gate", "--budgets", budgets, "--update", "--units=allocs/op,B/op", rec("base.txt")}, &stdout, &stderr); got != 3 {
		t.Fatalf("exit %d, want 3 (nothing budgeted yet)\n%s%s", got, stdout.String(), stderr.String())
	}
	first, err := os.ReadFile(budgets)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), "planted ParseKV allocs/op 0\n") {
		t.Errorf("budgets lack ParseKV allocs/op 0:\n%s", first)
	}
	// The planted allocation breaks the budget, and --update does not raise it.
	stdout.Reset()
	stderr.Reset()
	if got := run([]string{"gate", "--budgets", budgets, "--update", rec("planted.txt")}, &stdout, &stderr); got != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", got, stdout.String(), stderr.String())
	}
	second, _ := os.ReadFile(budgets)
	if d := cmp.Diff(string(first), string(second)); d != "" {
		t.Errorf("--update changed budgets after a regression:\n%s", d)
	}
	stdout.Reset()
	if got := run([]string{"gate", "--budgets", budgets, rec("base-again.txt")}, &stdout, &stderr); got != 0 {
		t.Errorf("exit %d, want 0\n%s", got, stdout.String())
	}
}

// TestDogfoodBudgets holds recorded runs of .ci/gate-hotpaths's benchmarks to the checked-in
// .ci/alloc-budgets.txt: the clean run passes, and each planted regression (recorded from a
// scratch copy of runtimediag whose Collector.Read allocated or stopped the world) fails with
// exit 1 on the unit that catches it. It also fails when the budgets file stops parsing or names
// a benchmark the recordings lack (exit 3): re-record with bench/testdata/recorded/README.md.
func TestDogfoodBudgets(t *testing.T) {
	const budgets = "../../.ci/alloc-budgets.txt"
	for _, tc := range []struct {
		file string
		exit int
		want []string // lines of the text output, spaces squeezed
	}{
		{"hotpaths.txt", 0, []string{"PASS: 17 comparisons, no regression (exit 0)"}},
		{"hotpaths-planted.txt", 1, []string{
			"HotPathCheapSnapshot allocs/op budget 1 +1 max 0 6 REGRESSED",
			"CheapSources/statm allocs/op budget 1 +1 max 0 6 REGRESSED",
			"FAIL: 11 regressions (exit 1)"}},
		// One allocation every 10th read: allocs/op truncates 0.1 to 0, frac-allocs/op does not.
		{"hotpaths-planted-every10.txt", 1, []string{
			"HotPathCheapSnapshot allocs/op budget 0 0% max 0 6 pass",
			"HotPathCheapSnapshot frac-allocs/op budget 0.1002 +9920.00% max 0.001 6 REGRESSED"}},
		// runtime.ReadMemStats on every read: no allocation, one stop-the-world per op.
		{"hotpaths-planted-stw.txt", 1, []string{
			"HotPathCheapSnapshot stw-pauses/op budget 1 +99900.00% max 0.001 6 REGRESSED",
			"FAIL: 1 regression (exit 1)"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run([]string{"gate", "--budgets", budgets, rec(tc.file)}, &stdout, &stderr); got != tc.exit {
				t.Errorf("exit %d, want %d\n%s%s", got, tc.exit, stdout.String(), stderr.String())
			}
			var lines []string
			for _, l := range strings.Split(stdout.String(), "\n") {
				lines = append(lines, strings.Join(strings.Fields(l), " "))
			}
			for _, w := range tc.want {
				if !slices.Contains(lines, w) {
					t.Errorf("output lacks the line %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

func TestBadBudgetsFile(t *testing.T) {
	budgets := filepath.Join(t.TempDir(), "budgets.txt")
	os.WriteFile(budgets, []byte("pkg A allocs/op many\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if got := run([]string{"gate", "--budgets", budgets, rec("base.txt")}, &stdout, &stderr); got != 2 {
		t.Errorf("exit %d, want 2", got)
	}
	if want := budgets + ":1: maximum"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q: %s", want, stderr.String())
	}
}

// TestBinary runs the built command once, to prove main passes run's status to the OS.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	offline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "memdiag")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		exit int
	}{
		{[]string{"gate", rec("base.txt"), rec("planted.txt")}, 1},
		{[]string{"gate", rec("base.txt"), rec("base.txt")}, 0},
		{[]string{"gate", rec("base.txt"), rec("garbled.txt")}, 2},
		{[]string{"gate", rec("base.txt"), rec("planted-count1.txt")}, 3},
	} {
		err := exec.CommandContext(ctx, bin, tc.args...).Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.exit {
			t.Errorf("memdiag %s: exit %d, want %d", strings.Join(tc.args, " "), code, tc.exit)
		}
	}
}

// offline makes the go commands a test runs fail at once rather than reach the network:
// everything they build is in the module cache already, because this test binary was built
// from it.
func offline(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOTOOLCHAIN", "local")
}

// TestExplainLive runs go test on the planted package twice, without and with the planted
// allocation, and checks that --explain names its line. Each go test run is bounded by
// --timeout; the profiles count allocations at -memprofilerate=1 over a fixed -benchtime, so
// the result does not depend on the machine's speed.
func TestExplainLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	offline(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	got := run([]string{"gate", "--units=allocs/op,B/op", "--explain", "--pkg=./bench/testdata/planted",
		"--base-dir=" + root, "--new-dir=" + root, "--new-flags=-tags=plantedalloc", "--iters=2000", "--timeout=2m",
		rec("base.txt"), rec("planted.txt")}, &stdout, &stderr)
	if got != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", got, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "which code changed in ParseKV") || !strings.Contains(stdout.String(), "plant_on.go:9") {
		t.Errorf("explanation does not name plant_on.go:9:\n%s", stdout.String())
	}
	// The reason and remedy from the new tree's escape diagnostics: the planted make is
	// assigned to a package variable.
	if !strings.Contains(stdout.String(), "plant_on.go:9 [stored-on-heap] make(") || !strings.Contains(stdout.String(), "  fix: ") {
		t.Errorf("explanation gives no reason and remedy for plant_on.go:9:\n%s", stdout.String())
	}
}

// TestWhyLive runs memdiag why on the planted corpus of bench/escape: its benchmarks with a
// memory profile, its build with escape diagnostics, and checks a few sites' reasons; then
// joins a saved report's sites, recorded under another path, with the same source tree.
func TestWhyLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	offline(t)
	corpus := filepath.Join("..", "..", "bench", "escape", "testdata", "corpus")
	var stdout, stderr bytes.Buffer
	if got := run([]string{"why", "-C", corpus, "-bench", "Squares|Fields|Apply", "-iters=50", "-format=json", "."}, &stdout, &stderr); got != 0 {
		t.Fatalf("exit %d\n%s%s", got, stdout.String(), stderr.String())
	}
	var out struct {
		Sites []struct {
			Kind    string  `json:"kind"`
			Remedy  string  `json:"remedy"`
			Objects float64 `json:"objects"`
			App     struct {
				Function string `json:"function"`
			} `json:"app"`
			Leaf struct {
				Function string `json:"function"`
			} `json:"leaf"`
		} `json:"sites"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	kinds := map[string]string{}
	for _, s := range out.Sites {
		if s.Objects < 0.5 {
			continue // once per benchmark run, not per iteration
		}
		kinds[s.App.Function[strings.LastIndex(s.App.Function, ".")+1:]] = s.Kind
		if s.Remedy == "" {
			t.Errorf("%s: no remedy", s.App.Function)
		}
	}
	want := map[string]string{"Squares": "append-growth", "Fields": "library-call", "Apply": "method-value"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("kinds by function (-want +got):\n%s\n%s", diff, stdout.String())
	}

	report := filepath.Join(t.TempDir(), "report.json")
	rep := `{"rss": {"categories": []}, "top_allocation_sites": {"window_seconds": 10, "sample_rate_bytes": 524288,
	"total_bytes_per_second": 1000, "sites": [{"function": "github.com/memdiag/memdiag/bench/escape/testdata/corpus.Sum",
	"file": "/build/elsewhere/memdiag/bench/escape/testdata/corpus/allocs.go", "line": 38, "bytes_per_second": 900,
	"objects_per_second": 1, "share": 0.9}]}}`
	if err := os.WriteFile(report, []byte(rep), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if got := run([]string{"why", "-C", corpus, "--from", report}, &stdout, &stderr); got != 0 {
		t.Fatalf("--from: exit %d\n%s%s", got, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "[non-constant-make]") || !strings.Contains(stdout.String(), "b := make([]int, n)") {
		t.Errorf("--from: the report's site is not joined with the local tree's reason:\n%s", stdout.String())
	}
}
