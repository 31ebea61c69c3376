package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The files under testdata/cases are go test -bench output, each a case the gate once got
// wrong; testdata/cases/README.md says where each comes from.
func casePath(name string) string { return filepath.Join("testdata", "cases", name) }

func readCase(t *testing.T, o ReadOptions, name string) *Set {
	t.Helper()
	s, err := ReadFilesWith(o, casePath(name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rowID names a row as the text output does: the benchmark, its configuration label, the unit.
func rowID(r Row) string { return rowName(r) + " " + r.Unit }

func TestCases(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base, new string
		units     []string
		ignore    []string
		exit      int
		outcomes  map[string]Outcome // by rowID; rows not listed are not checked
		methods   map[string]Method
		problems  []ProblemKind
		textHas   []string
	}{
		// Stable's ns/op is the same in all 10+10 runs; Parse goes from 2 to 9 allocs/op. All
		// samples equal is no shortage of samples, and the regression decides the exit code.
		{name: "all-equal-hides-nothing", base: "alleq-base.txt", new: "alleq-new.txt", exit: ExitRegression,
			outcomes: map[string]Outcome{"Stable ns/op": OutcomeUnchanged, "Stable allocs/op": OutcomeUnchanged, "Parse allocs/op": OutcomeRegressed},
			methods:  map[string]Method{"Parse allocs/op": MethodExact, "Stable allocs/op": MethodExact},
			textHas:  []string{"Stable ns/op: all 10+10 samples equal", "FAIL: 3 regressions (exit 1)"}},
		// A/A: odd against even runs of x/perf's bent results. Bindata's allocs/op varies
		// between 17007 and 17025 on both sides; compared exactly, 17011 → 17016 was a
		// regression; the U test gives benchstat's p=0.117.
		{name: "bent-a-a-allocs", base: "bent-odd.txt", new: "bent-even.txt", units: []string{"allocs/op"}, exit: ExitPass,
			outcomes: map[string]Outcome{"Bindata allocs/op": OutcomeNotSignificant, "InsertChain_ring1000_memdb allocs/op": OutcomeNotSignificant},
			methods:  map[string]Method{"Bindata allocs/op": MethodUTest},
			textHas:  []string{"Bindata allocs/op: allocs/op varies (base 17007–17020, new 17010–17025): compared with the U test, not exactly", "p=0.117"}},
		{name: "bent-a-a-all-units", base: "bent-odd.txt", new: "bent-even.txt", exit: ExitPass},
		// One file mixes notes, operating systems and GOMAXPROCS; pooled, the medians did not
		// move; kept apart, three configurations regressed.
		{name: "mixed-configurations", base: "mixed-base.txt", new: "mixed-new.txt", units: []string{"allocs/op"}, exit: ExitRegression,
			outcomes: map[string]Outcome{
				"Get [note=with-cache] allocs/op":                               OutcomeImproved,
				"Get [note=without-cache] allocs/op":                            OutcomeRegressed,
				`Scan [cpu="Intel(R) Xeon(R) Processor", goos=linux] allocs/op`: OutcomeImproved,
				`Scan [cpu="Apple M1", goos=darwin] allocs/op`:                  OutcomeRegressed,
				"Put [gomaxprocs=1] allocs/op":                                  OutcomeImproved,
				"Put [gomaxprocs=2] allocs/op":                                  OutcomeRegressed,
			},
			textHas: []string{"configurations kept apart by cpu, gomaxprocs, goos, note"}},
		// The same code measured on two CPUs is not compared.
		{name: "different-cpu", base: "cpu-a.txt", new: "cpu-b.txt", exit: ExitInconclusive, problems: []ProblemKind{ProblemConfig},
			textHas: []string{`cpu differs: base "Intel(R) Xeon(R) Processor", new "AMD EPYC 7B13"`}},
		{name: "different-cpu-ignored", base: "cpu-a.txt", new: "cpu-b.txt", ignore: []string{"cpu"}, exit: ExitPass},
		// hits/op is declared exact in the base file only.
		{name: "unit-metadata-from-base", base: "meta-base.txt", new: "meta-new.txt", units: []string{"hits/op"}, exit: ExitRegression,
			outcomes: map[string]Outcome{"Lookup hits/op": OutcomeRegressed}, methods: map[string]Method{"Lookup hits/op": MethodExact}},
		// A finite but huge value is carried through every format.
		{name: "huge-value", base: "alleq-base.txt", new: "huge-bytes.txt", exit: ExitRegression,
			outcomes: map[string]Outcome{"Parse B/op": OutcomeRegressed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := ReadOptions{Ignore: tc.ignore}
			o := DefaultOptions()
			if tc.units != nil {
				o.Units = tc.units
			}
			rep, err := Compare(readCase(t, ro, tc.base), readCase(t, ro, tc.new), nil, o)
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			if err := WriteText(&text, rep); err != nil {
				t.Fatal(err)
			}
			if rep.Exit != tc.exit {
				t.Errorf("exit %d, want %d\n%s", rep.Exit, tc.exit, text.String())
			}
			rows := map[string]Row{}
			for _, r := range rep.Rows {
				rows[rowID(r)] = r
			}
			for id, want := range tc.outcomes {
				if r, ok := rows[id]; !ok || r.Outcome != want {
					t.Errorf("%s: outcome %q, want %q\n%s", id, r.Outcome, want, text.String())
				}
			}
			for id, want := range tc.methods {
				if r := rows[id]; r.Method != want {
					t.Errorf("%s: method %q, want %q", id, r.Method, want)
				}
			}
			var kinds []ProblemKind
			for _, p := range rep.Problems {
				kinds = append(kinds, p.Kind)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tc.problems) {
				t.Errorf("problems %v, want kinds %v", rep.Problems, tc.problems)
			}
			for _, want := range tc.textHas {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text output lacks %q:\n%s", want, text.String())
				}
			}
			for _, w := range []func(io.Writer, *Report) error{WriteJSON, WriteMarkdown} {
				if err := w(io.Discard, rep); err != nil {
					t.Errorf("writing the report: %v", err)
				}
			}
		})
	}
}

// TestBentShiftedRegresses: the statistical test on varying allocs/op still catches a real
// regression: the same even runs with 40 more allocations per op in Bindata.
func TestBentShiftedRegresses(t *testing.T) {
	data, err := os.ReadFile(casePath("bent-even.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(line, "BenchmarkBindata") && f[len(f)-1] == "allocs/op" {
			var v float64
			fmt.Sscan(f[len(f)-2], &v)
			line = strings.Replace(line, f[len(f)-2]+" allocs/op", fmt.Sprint(v+40)+" allocs/op", 1)
		}
		b.WriteString(line + "\n")
	}
	shifted, err := Read([]string{"shifted"}, []io.Reader{strings.NewReader(b.String())})
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Units = []string{"allocs/op"}
	rep, err := Compare(readCase(t, ReadOptions{}, "bent-odd.txt"), shifted, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Exit != ExitRegression || len(rep.Regressions()) != 1 || rep.Regressions()[0].Benchmark.Name != "Bindata" || rep.Regressions()[0].Method != MethodUTest {
		t.Errorf("exit %d, regressions %+v; want Bindata allocs/op regressed by the U test", rep.Exit, rep.Regressions())
	}
}

// TestImpossibleValues: every non-finite or impossible value is bad input, named by file
// and line, before any statistics run (a NaN made the U test allocate without bound).
func TestImpossibleValues(t *testing.T) {
	for file, want := range map[string]string{
		"nan-ns.txt":     ":17: BenchmarkParse-2: NaN ns/op: not a finite number",
		"inf-ns.txt":     ":17: BenchmarkParse-2: +Inf ns/op: not a finite number",
		"inf-allocs.txt": ":17: BenchmarkParse-2: +Inf allocs/op: not a finite number",
		"neg-allocs.txt": ":17: BenchmarkParse-2: -3 allocs/op: cannot be negative",
		"neg-iters.txt":  ":17: BenchmarkParse-2: iteration count -3000000: want 1 or more",
	} {
		t.Run(file, func(t *testing.T) {
			_, err := ReadFiles(casePath(file))
			var ie *InputError
			if !errors.As(err, &ie) || err.Error() != casePath(file)+want {
				t.Errorf("err = %v, want an *InputError %q", err, casePath(file)+want)
			}
		})
	}
	// A difference unit may be negative.
	if _, err := Read([]string{"x"}, []io.Reader{strings.NewReader("BenchmarkA 10 -4096 rss-growth-B\n")}); err != nil {
		t.Errorf("negative rss-growth-B: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	set := readCase(t, ReadOptions{}, "alleq-base.txt")
	for name, mod := range map[string]func(*Options){
		"NaN tolerance":  func(o *Options) { o.Tolerances["allocs/op"] = Tolerance{Abs: math.NaN()} },
		"Inf tolerance":  func(o *Options) { o.Tolerances["B/op"] = Tolerance{Rel: math.Inf(1)} },
		"neg tolerance":  func(o *Options) { o.Tolerances["B/op"] = Tolerance{PerRun: -1} },
		"NaN alpha":      func(o *Options) { o.Alpha = math.NaN() },
		"Inf min effect": func(o *Options) { o.MinEffect = math.Inf(1) },
		"NaN min effect": func(o *Options) { o.MinEffect = math.NaN() },
	} {
		o := DefaultOptions()
		mod(&o)
		if _, err := Compare(set, set, nil, o); err == nil {
			t.Errorf("%s: Compare accepted it", name)
		}
	}
}

func TestConflictingUnitMetadata(t *testing.T) {
	read := func(name, in string) *Set {
		s, err := Read([]string{name}, []io.Reader{strings.NewReader(in)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := read("base", "Unit hits/op better=higher\nBenchmarkA 10 1 hits/op\nBenchmarkA 10 1 hits/op\n")
	newer := read("new", "Unit hits/op better=lower\nBenchmarkA 10 1 hits/op\nBenchmarkA 10 1 hits/op\n")
	_, err := Compare(base, newer, nil, DefaultOptions())
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "new:1: unit hits/op better=lower, but base:1 says better=higher") {
		t.Errorf("err = %v, want an *InputError naming both lines", err)
	}
}

// TestOutcomeCombinations runs small inputs through every path that decides a row and
// checks the exit code against the documented precedence.
func TestOutcomeCombinations(t *testing.T) {
	mk := func(lines ...string) *Set {
		s, err := Read([]string{"x"}, []io.Reader{strings.NewReader(strings.Join(lines, "\n") + "\n")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rep := func(n int, line string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = line
		}
		return out
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	o := DefaultOptions()
	o.Units = []string{"allocs/op", "ns/op", "hits/op"}
	for _, tc := range []struct {
		name      string
		base, new []string
		exit      int
		outcome   Outcome // of the first row
	}{
		{"equal constants", rep(5, "BenchmarkA 10 5 ns/op 3 allocs/op"), rep(5, "BenchmarkA 10 5 ns/op 3 allocs/op"), ExitPass, OutcomeUnchanged},
		{"all zero", rep(5, "BenchmarkA 10 0 hits/op"), rep(5, "BenchmarkA 10 0 hits/op"), ExitPass, OutcomeUnchanged},
		{"noisy constants apart", rep(10, "BenchmarkA 10 5 hits/op"), rep(10, "BenchmarkA 10 7 hits/op"), ExitRegression, OutcomeRegressed},
		{"noisy constants apart, 2+2", rep(2, "BenchmarkA 10 5 hits/op"), rep(2, "BenchmarkA 10 7 hits/op"), ExitInconclusive, OutcomeTooFewSamples},
		{"exact count=1 one side", rep(10, "BenchmarkA 10 3 allocs/op"), rep(1, "BenchmarkA 10 3 allocs/op"), ExitInconclusive, OutcomeTooFewSamples},
		{"count=1 one side, regression elsewhere",
			cat(rep(10, "BenchmarkA 10 3 allocs/op"), rep(2, "BenchmarkB 10 1 allocs/op")),
			cat(rep(1, "BenchmarkA 10 3 allocs/op"), rep(2, "BenchmarkB 10 2 allocs/op")), ExitRegression, OutcomeTooFewSamples},
		{"only in base, regression elsewhere",
			cat(rep(2, "BenchmarkA 10 3 allocs/op"), rep(2, "BenchmarkGone 10 1 allocs/op")),
			rep(2, "BenchmarkA 10 4 allocs/op"), ExitRegression, OutcomeRegressed},
		{"only in new", rep(2, "BenchmarkA 10 3 allocs/op"), cat(rep(2, "BenchmarkA 10 3 allocs/op"), rep(2, "BenchmarkNew 10 1 allocs/op")), ExitInconclusive, OutcomeUnchanged},
		{"exact varies in base only", append(rep(9, "BenchmarkA 10 3 allocs/op"), "BenchmarkA 10 4 allocs/op"), rep(10, "BenchmarkA 10 3 allocs/op"), ExitPass, OutcomeNotSignificant},
		{"exact varies, real shift", append(rep(9, "BenchmarkA 10 3 allocs/op"), "BenchmarkA 10 4 allocs/op"), append(rep(9, "BenchmarkA 10 6 allocs/op"), "BenchmarkA 10 7 allocs/op"), ExitRegression, OutcomeRegressed},
		{"huge equal", rep(3, "BenchmarkA 10 1e308 allocs/op"), rep(3, "BenchmarkA 10 1e308 allocs/op"), ExitPass, OutcomeUnchanged},
		{"tiny to huge", rep(3, "BenchmarkA 10 1e-300 hits/op"), rep(3, "BenchmarkA 10 1.7e308 hits/op"), ExitInconclusive, OutcomeTooFewSamples},
		{"negative difference unit", rep(10, "BenchmarkA 10 -1.7e308 hits/op"), rep(10, "BenchmarkA 10 1.7e308 hits/op"), ExitRegression, OutcomeRegressed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compare(mk(tc.base...), mk(tc.new...), nil, o)
			if err != nil {
				t.Fatal(err)
			}
			var text bytes.Buffer
			WriteText(&text, r)
			if r.Exit != tc.exit || len(r.Rows) == 0 || r.Rows[0].Outcome != tc.outcome {
				t.Errorf("exit %d, want %d, first outcome %q:\n%s", r.Exit, tc.exit, tc.outcome, text.String())
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("JSON: %v", err)
			}
		})
	}
}
