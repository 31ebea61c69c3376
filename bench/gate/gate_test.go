package gate

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe"
	"golang.org/x/perf/benchfmt"
)

var update = flag.Bool("update", false, "rewrite golden files")

const recorded = "../testdata/recorded"

func rec(name string) string { return filepath.Join(recorded, name) }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
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

func mustRead(t *testing.T, name string) *Set {
	t.Helper()
	s, err := ReadFiles(rec(name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// allocUnits is the gate recommended on shared CI machines, where ns/op is too noisy.
var allocUnits = []string{"allocs/op", "B/op", "frac-allocs/op", "frac-B/op", "gc-cycles/op"}

func TestCompareRecorded(t *testing.T) {
	for _, tc := range []struct {
		name, base, new string
		units           []string
		exit            int
		summary         string
	}{
		{"planted", "base.txt", "planted.txt", nil, ExitRegression, "FAIL: 7 regressions"},
		{"planted-alloc-units", "base.txt", "planted.txt", allocUnits, ExitRegression, "FAIL: 5 regressions"},
		{"identical", "base.txt", "base.txt", nil, ExitPass, "PASS: 35 comparisons, no regression"},
		{"rerun-alloc-units", "base.txt", "base-again.txt", allocUnits, ExitPass, "PASS: 25 comparisons, no regression"},
		{"count1", "base.txt", "planted-count1.txt", nil, ExitInconclusive, "INCONCLUSIVE: 35 comparisons had too few samples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			if tc.units != nil {
				o.Units = tc.units
			}
			rep, err := Compare(mustRead(t, tc.base), mustRead(t, tc.new), nil, o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Exit != tc.exit || rep.Summary != tc.summary {
				t.Errorf("exit %d %q, want %d %q", rep.Exit, rep.Summary, tc.exit, tc.summary)
			}
			for _, f := range []struct {
				ext   string
				write func(*bytes.Buffer, *Report) error
			}{
				{"txt", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }},
				{"json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
				{"md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
			} {
				var buf bytes.Buffer
				if err := f.write(&buf, rep); err != nil {
					t.Fatal(err)
				}
				golden(t, tc.name+"."+f.ext, buf.Bytes())
			}
		})
	}
}

func TestCount1SaysHowManySamples(t *testing.T) {
	rep, err := Compare(mustRead(t, "base.txt"), mustRead(t, "planted-count1.txt"), nil, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	WriteText(&buf, rep)
	for _, want := range []string{"need >= 6 samples to detect a difference at alpha level 0.005", "need >= 2 per side"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestGarbledNamesFileAndLine(t *testing.T) {
	_, err := ReadFiles(rec("garbled.txt"))
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want *InputError", err)
	}
	var se *benchfmt.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *benchfmt.SyntaxError inside", err)
	}
	if file, line := se.Pos(); file != rec("garbled.txt") || line != 26 {
		t.Errorf("error at %s:%d, want %s:26", file, line, rec("garbled.txt"))
	}
}

func TestReadKeysAndConfig(t *testing.T) {
	in := "goos: linux\ngoversion: go1.26.8\npkg: example.com/p\nBenchmarkA/x=1-4 10 5 ns/op 3 allocs/op\nBenchmarkA/x=1-4 10 6 ns/op 3 allocs/op\n"
	s, err := Read([]string{"in"}, []io.Reader{strings.NewReader(in)})
	if err != nil {
		t.Fatal(err)
	}
	key := Key{Pkg: "example.com/p", Name: "A/x=1", Config: "/gomaxprocs: 4\ngoos: linux\ngoversion: go1.26.8"}
	want := &Set{
		Files:      []string{"in"},
		Order:      []Key{key},
		Benchmarks: map[Key]map[string]*Samples{key: {"ns/op": {Values: []float64{5, 6}, Iters: []int{10, 10}}, "allocs/op": {Values: []float64{3, 3}, Iters: []int{10, 10}}}},
		Config:     map[string][]string{"goos": {"linux"}, "goversion": {"go1.26.8"}, "/gomaxprocs": {"4"}},
	}
	if d := cmp.Diff(want, s, cmpopts.IgnoreFields(Set{}, "Units")); d != "" {
		t.Errorf("Read (-want +got):\n%s", d)
	}
}

func TestToolchainMismatchIsInconclusive(t *testing.T) {
	mk := func(v string) *Set {
		in := "goversion: " + v + "\nBenchmarkA 10 5 ns/op 3 allocs/op\nBenchmarkA 10 5 ns/op 3 allocs/op\n"
		s, err := Read([]string{v}, []io.Reader{strings.NewReader(in)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	o := DefaultOptions()
	o.Units = []string{"allocs/op"}
	rep, err := Compare(mk("go1.25.0"), mk("go1.26.8"), nil, o)
	if err != nil {
		t.Fatal(err)
	}
	// Like benchstat, the gate does not compare results of different configurations: the two
	// runs of A are not compared, and the problem says why.
	want := []Problem{{Kind: ProblemToolchain, Message: "goversion differs: base go1.25.0, new go1.26.8: not compared, as benchstat does not compare different configurations (A); --ignore=goversion compares them"}}
	if rep.Exit != ExitInconclusive || !cmp.Equal(rep.Problems, want) || len(rep.Rows) != 0 {
		t.Errorf("exit %d problems %v, want 3 %v", rep.Exit, rep.Problems, want)
	}
}

func TestMissingAndAdded(t *testing.T) {
	read := func(in string) *Set {
		s, err := Read([]string{"x"}, []io.Reader{strings.NewReader(in)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := read("BenchmarkA 10 5 ns/op 1 allocs/op\nBenchmarkA 10 5 ns/op 1 allocs/op\nBenchmarkGone 10 5 ns/op 1 allocs/op\nBenchmarkGone 10 5 ns/op 1 allocs/op\n")
	newer := read("BenchmarkA 10 5 ns/op 1 allocs/op\nBenchmarkA 10 5 ns/op 1 allocs/op\nBenchmarkNew 10 5 ns/op 1 allocs/op\nBenchmarkNew 10 5 ns/op 1 allocs/op\n")
	o := DefaultOptions()
	o.Units = []string{"allocs/op"}
	for _, tc := range []struct {
		name       string
		allowAdded bool
		newer      *Set
		exit       int
	}{
		{"missing-and-added", false, newer, ExitInconclusive},
		{"allow-added-still-missing", true, newer, ExitInconclusive},
		{"allow-added", true, read("BenchmarkA 10 5 ns/op 1 allocs/op\nBenchmarkA 10 5 ns/op 1 allocs/op\nBenchmarkGone 10 5 ns/op 1 allocs/op\nBenchmarkGone 10 5 ns/op 1 allocs/op\nBenchmarkNew 10 5 ns/op 1 allocs/op\n"), ExitPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o.AllowAdded = tc.allowAdded
			rep, err := Compare(base, tc.newer, nil, o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Exit != tc.exit {
				t.Errorf("exit %d (%v), want %d", rep.Exit, rep.Problems, tc.exit)
			}
		})
	}
}

func TestTolerance(t *testing.T) {
	for _, tc := range []struct {
		tol   Tolerance
		base  float64
		iters int
		want  float64
	}{
		{Tolerance{}, 3, 100, 0},
		{Tolerance{Abs: 16, Rel: 0.01}, 100, 1, 16},
		{Tolerance{Abs: 16, Rel: 0.01}, 10000, 1, 100},
		{Tolerance{PerRun: 64}, 1, 1000, 0.064},
		{Tolerance{Rel: 0.05, PerRun: 1}, 0.001, 100, 0.01},
	} {
		if got := tc.tol.Allowed(tc.base, tc.iters); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%v.Allowed(%v, %d) = %v, want %v", tc.tol, tc.base, tc.iters, got, tc.want)
		}
	}
}

func TestBudgets(t *testing.T) {
	newSet := mustRead(t, "planted.txt")
	in := "# c\nk github.com/memdiag/memdiag/bench/testdata/planted ParseKV allocs/op 0\n"
	if _, err := ParseBudgets("b.txt", strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "b.txt:2: want 4 fields") {
		t.Errorf("err = %v, want b.txt:2: want 4 fields", err)
	}
	in = "github.com/memdiag/memdiag/bench/testdata/planted ParseKV allocs/op 0\n" +
		"github.com/memdiag/memdiag/bench/testdata/planted Header allocs/op 20\n"
	b, err := ParseBudgets("b.txt", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	rep, err := Compare(nil, newSet, b, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exit != ExitRegression || len(rep.Regressions()) != 1 || rep.Regressions()[0].Benchmark.Name != "ParseKV" {
		t.Errorf("exit %d regressions %v, want ParseKV regressed", rep.Exit, rep.Regressions())
	}
	changes := b.Ratchet(newSet)
	var buf bytes.Buffer
	b.WriteTo(&buf)
	golden(t, "budgets-ratcheted.txt", buf.Bytes())
	for _, c := range changes {
		if c.New > c.Old {
			t.Errorf("ratchet raised %v", c)
		}
	}
}

func FuzzParseBudgets(f *testing.F) {
	f.Add("example.com/p Parse/size=10 allocs/op 3\n# c\n\n- A B/op 1e3\n")
	f.Add("a b c -1\n")
	f.Add("a b c NaN\na b c 1\na b c 2\n")
	f.Fuzz(func(t *testing.T, in string) {
		b, err := ParseBudgets("f", strings.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		b2, err := ParseBudgets("f", &buf)
		if err != nil {
			t.Fatalf("written budgets do not parse: %v\n%s", err, buf.String())
		}
		if len(b2.Entries) != len(b.Entries) {
			t.Fatalf("%d entries after a round trip, want %d", len(b2.Entries), len(b.Entries))
		}
	})
}

func TestExplainRecordedProfiles(t *testing.T) {
	base, err := ReadProfile(rec("ParseKV-base.memprof"))
	if err != nil {
		t.Fatal(err)
	}
	newp, err := ReadProfile(rec("ParseKV-planted.memprof"))
	if err != nil {
		t.Fatal(err)
	}
	sites, err := DiffProfiles(base, newp, 20000, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) == 0 {
		t.Fatal("no site changed")
	}
	top := sites[0]
	if top.Where() != "plant_on.go:9" || !strings.HasSuffix(top.Function, "planted.plant") || math.Round(top.NewObjects) != 1 || top.BaseObjects != 0 {
		t.Errorf("top site %+v, want planted.plant at plant_on.go:9, 0 -> 1 objects/op", top)
	}
	var buf bytes.Buffer
	WriteSites(&buf, sites, 5)
	golden(t, "explain.txt", buf.Bytes())
}

func TestBenchRegexp(t *testing.T) {
	for in, want := range map[string]string{
		"ParseKV":        "^BenchmarkParseKV$",
		"Index/words=64": "^BenchmarkIndex$/^words=64$",
		"A/b.c":          `^BenchmarkA$/^b\.c$`,
	} {
		if got := BenchRegexp(in); got != want {
			t.Errorf("BenchRegexp(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBudgetOneSampleIsInconclusive(t *testing.T) {
	b, err := ParseBudgets("b.txt", strings.NewReader("github.com/memdiag/memdiag/bench/testdata/planted ParseKV allocs/op 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(nil, mustRead(t, "planted-count1.txt"), b, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exit != ExitInconclusive || rep.Rows[0].Verdict != Inconclusive {
		t.Errorf("exit %d rows %+v, want 3: one sample cannot hold a budget", rep.Exit, rep.Rows)
	}
}

func TestRatchetLeavesPerRunUnits(t *testing.T) {
	const pkg = "github.com/memdiag/memdiag/bench/testdata/planted"
	b, err := ParseBudgets("b.txt", strings.NewReader(pkg+" ParseKV frac-allocs/op 0.001\n"+pkg+" ParseKV allocs/op 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	b.Ratchet(mustRead(t, "base.txt"))
	got := map[string]float64{}
	for _, e := range b.Entries {
		if e.Benchmark.Name == "ParseKV" {
			got[e.Unit] = e.Max
		}
	}
	want := map[string]float64{"frac-allocs/op": 0.001, "allocs/op": 0, "B/op": 0}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseKV budgets after Ratchet (-want +got):\n%s", d)
	}
}

// TestNoisyZeroBase: a median that leaves 0 is a change in the direction of its sign, not a
// regression whatever the direction.
func TestNoisyZeroBase(t *testing.T) {
	read := func(vals ...string) *Set {
		var b strings.Builder
		for _, v := range vals {
			b.WriteString("BenchmarkA 100 " + v + " retained-heap-B\n")
		}
		s, err := Read([]string{"x"}, []io.Reader{strings.NewReader(b.String())})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	zeros := read("0", "0", "0", "0", "0", "0", "0", "0", "0", "0")
	o := DefaultOptions()
	o.Units = []string{"retained-heap-B"}
	for _, tc := range []struct {
		name  string
		newer *Set
		want  Verdict
	}{
		{"up", read("64", "80", "64", "96", "64", "72", "64", "88", "64", "70"), Regressed},
		{"down", read("-64", "-80", "-64", "-96", "-64", "-72", "-64", "-88", "-64", "-70"), Improved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Compare(zeros, tc.newer, nil, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Rows) != 1 || rep.Rows[0].Verdict != tc.want {
				t.Errorf("rows %+v, want one %s", rep.Rows, tc.want)
			}
		})
	}
}

func TestMarkdownBudgetsOnly(t *testing.T) {
	b, err := ParseBudgets("budgets.txt", strings.NewReader("github.com/memdiag/memdiag/bench/testdata/planted ParseKV allocs/op 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(nil, mustRead(t, "planted.txt"), b, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if want := "Exit 1. Budgets: `budgets.txt`. New: `" + rec("planted.txt") + "`.\n"; !strings.HasSuffix(buf.String(), want) {
		t.Errorf("markdown ends %q, want %q", buf.String()[max(0, buf.Len()-120):], want)
	}
}

// TestDiffProfilesOwnFrame checks that an allocation inside the standard library is charged to
// the module's line that called it, with the library frame kept as the leaf.
func TestDiffProfilesOwnFrame(t *testing.T) {
	fn := func(id uint64, name, file string) *profile.Function {
		return &profile.Function{ID: id, Name: name, Filename: file}
	}
	split := fn(1, "strings.genSplit", "/go/src/strings/strings.go")
	app := fn(2, "example.com/app.Fields", "/src/app/fields.go")
	bench := fn(3, "example.com/app.BenchmarkFields", "/src/app/fields_test.go")
	mk := func(n int64) *profile.Profile {
		loc := []*profile.Location{
			{ID: 1, Line: []profile.Line{{Function: split, Line: 305}}},
			{ID: 2, Line: []profile.Line{{Function: app, Line: 9}, {Function: bench, Line: 20}}},
		}
		return &profile.Profile{
			SampleType: []*profile.ValueType{{Type: "alloc_objects", Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}},
			Sample:     []*profile.Sample{{Location: loc, Value: []int64{n, 64 * n}}},
			Location:   loc,
			Function:   []*profile.Function{split, app, bench},
		}
	}
	sites, err := DiffProfilesOwn(mk(0), mk(100), 100, 100, appframe.Matcher{Modules: []string{"example.com/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 {
		t.Fatalf("%d sites, want 1: %+v", len(sites), sites)
	}
	s := sites[0]
	if s.Function != "example.com/app.Fields" || s.Line != 9 || s.LeafFunction != "strings.genSplit" || s.LeafLine != 305 {
		t.Errorf("site %s:%d leaf %s:%d, want example.com/app.Fields:9 leaf strings.genSplit:305", s.Function, s.Line, s.LeafFunction, s.LeafLine)
	}
	if len(s.InlinedInto) != 1 || s.InlinedInto[0].Function != "example.com/app.BenchmarkFields" {
		t.Errorf("inlined into %+v, want the benchmark", s.InlinedInto)
	}
}
