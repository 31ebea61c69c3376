package escape

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/bench/gate"
	"github.com/memdiag/memdiag/internal/appframe"
)

const corpusDir = "testdata/corpus"

// corpus is the planted corpus built and profiled once per test run, shared by the tests.
var corpus struct {
	once  sync.Once
	res   *Result
	sites []Site
	// bench is the go test -bench -benchmem output of the allocating corpus.
	bench []byte
	err   error
}

// offline makes the go commands a test runs fail at once rather than reach the network:
// everything they build is in the module cache already, because this test binary was built
// from it.
func offline(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOTOOLCHAIN", "local")
}

// plantedCorpus builds the corpus with escape diagnostics and profiles its benchmarks at
// -memprofilerate=1 over a fixed iteration count.
func plantedCorpus(t *testing.T) (*Result, []Site) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the corpus with go test")
	}
	offline(t)
	corpus.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cache, err := os.MkdirTemp("", "memdiag-escape-cache-")
		if err != nil {
			corpus.err = err
			return
		}
		defer os.RemoveAll(cache)
		corpus.res, corpus.err = Build(ctx, Config{Dir: corpusDir, Packages: []string{"."}, CacheDir: cache})
		if corpus.err != nil {
			return
		}
		tmp, err := os.MkdirTemp("", "memdiag-escape-prof-")
		if err != nil {
			corpus.err = err
			return
		}
		defer os.RemoveAll(tmp)
		prof := filepath.Join(tmp, "mem.prof")
		const iters = 200
		cmd := exec.CommandContext(ctx, "go", "test", "-run=^$", "-bench=.", "-benchmem", "-benchtime=200x", "-count=2",
			"-memprofile="+prof, "-memprofilerate=1", "-o="+filepath.Join(tmp, "corpus.test"), ".")
		cmd.Dir = corpusDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			corpus.err = fmt.Errorf("%w\n%s", err, out)
			return
		}
		corpus.bench = out
		f, err := os.Open(prof)
		if err != nil {
			corpus.err = err
			return
		}
		defer f.Close()
		p, err := profile.Parse(f)
		if err != nil {
			corpus.err = err
			return
		}
		// Every benchmark runs, twice, once with b.N=1 and once with 200: 402 iterations.
		corpus.sites, corpus.err = ProfileSites(p, appframe.Matcher{Modules: corpus.res.Modules}, 2*(iters+1))
	})
	if corpus.err != nil {
		t.Fatal(corpus.err)
	}
	return corpus.res, corpus.sites
}

// TestPlantedCorpus checks that each planted site is reported with its reason kind and the
// kind's remedy, at the line the allocation is made, and that a site whose leaf is in the
// standard library is charged to the corpus's own line with the leaf kept.
func TestPlantedCorpus(t *testing.T) {
	res, sites := plantedCorpus(t)
	ix := res.Index()
	// want is, per function of allocs.go and the line's text, the kind of its reason.
	want := []struct {
		fn, line string
		kind     Kind
	}{
		{"newPoint", "p := Point{X: x, Y: 1}", PointerReturned},
		{"Capture", "x := n", ClosureCapture},
		{"Capture", "sinkFunc = func() { x++ }", Closure},
		{"Box", "sinkAny = n", InterfaceBoxing},
		{"Format", `return append(dst, fmt.Sprintf("id=%d", n)...)`, FmtArgs},
		{"Sum", "b := make([]int, n)", NonConstantMake},
		{"Squares", "s = append(s, i*i)", AppendGrowth},
		{"Count", "m[w]++", MapGrowth},
		{"Join", `s := a + "/" + b`, StringConcat},
		{"Dashes", `return strings.Count(string(b), "-")`, Conversion},
		{"Apply", "f := c.Inc", MethodValue},
		{"Large", "var buf [256 << 10]byte", TooLarge},
		{"Fields", `return len(strings.Split(s, ","))`, LibraryCall},
	}
	found := make([]bool, len(want))
	own := appframe.Matcher{Modules: res.Modules}
	for _, s := range sites {
		if !own.Own(s.App.Function) || s.Objects < 0.25 {
			continue // the testing package's and the runtime's own allocations
		}
		e := ix.Explain(s)
		name := s.App.Function[strings.LastIndex(s.App.Function, ".")+1:]
		matched := false
		for i, w := range want {
			if w.fn != name || w.line != e.Source {
				continue
			}
			matched, found[i] = true, true
			if e.Kind != w.kind {
				t.Errorf("%s %s %q: kind %s, want %s\n%s\n%s", name, where(s.App), e.Source, e.Kind, w.kind, e.Reason, strings.Join(e.Compiler, "\n"))
			}
			if e.Remedy == "" || e.Reason == "" {
				t.Errorf("%s %s: no reason or remedy: %+v", name, where(s.App), e)
			}
			if e.Kind != LibraryCall && e.Kind != FmtArgs && e.Remedy != e.Kind.Remedy() {
				t.Errorf("%s: remedy %q, want the kind's %q", name, e.Remedy, e.Kind.Remedy())
			}
		}
		if !matched {
			t.Errorf("unexpected site %s %s %q (%.2f objects/op): %s", s.App.Function, where(s.App), e.Source, s.Objects, e.Kind)
		}
		if name == "Fields" {
			if s.Leaf.Function != "strings.genSplit" || !s.Library() {
				t.Errorf("Fields: leaf %s, want strings.genSplit kept next to the corpus's line", s.Leaf.Function)
			}
			if !strings.Contains(e.Remedy, "strings.Cut") {
				t.Errorf("Fields: remedy %q does not name strings.Cut", e.Remedy)
			}
		}
		if name == "newPoint" && !slices.ContainsFunc(e.Flow, func(l string) bool { return strings.Contains(l, "(return)") }) {
			t.Errorf("newPoint: the flow behind the reason is missing: %q", e.Flow)
		}
	}
	for i, w := range want {
		if !found[i] {
			t.Errorf("no site for %s %q (%s)", w.fn, w.line, w.kind)
		}
	}
}

// TestCorpusRemediesThroughGate runs the corpus with every remedy applied (fixed.go) and
// holds both versions to a budget of 0 allocs/op for every benchmark: the allocating version
// fails the gate (exit 1), the fixed one passes it (exit 0).
func TestCorpusRemediesThroughGate(t *testing.T) {
	plantedCorpus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, "go", "test", "-tags=fixed", "-run=^$", "-bench=.", "-benchmem", "-benchtime=200x",
		"-count=2", "-o="+filepath.Join(tmp, "fixed.test"), ".")
	cmd.Dir = corpusDir
	fixedOut, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, fixedOut)
	}
	var budgets strings.Builder
	seen := map[string]bool{}
	for _, line := range strings.Split(string(corpus.bench), "\n") {
		name, _, ok := strings.Cut(line, "-")
		if name, ok2 := strings.CutPrefix(name, "Benchmark"); ok && ok2 && !seen[name] {
			seen[name] = true
			fmt.Fprintf(&budgets, "github.com/memdiag/memdiag/bench/escape/testdata/corpus %s allocs/op 0\n", name)
		}
	}
	if budgets.Len() == 0 {
		t.Fatalf("no benchmark in the corpus output:\n%s", corpus.bench)
	}
	b, err := gate.ParseBudgets("budgets.txt", strings.NewReader(budgets.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		out  []byte
		exit int
	}{
		{"allocating", corpus.bench, gate.ExitRegression},
		{"fixed", fixedOut, gate.ExitPass},
	} {
		file := filepath.Join(tmp, tc.name+".txt")
		if err := os.WriteFile(file, tc.out, 0o644); err != nil {
			t.Fatal(err)
		}
		set, err := gate.ReadFiles(file)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := gate.Compare(nil, set, b, gate.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Exit != tc.exit {
			var buf strings.Builder
			gate.WriteText(&buf, rep)
			t.Errorf("%s: gate exit %d, want %d\n%s", tc.name, rep.Exit, tc.exit, buf.String())
		}
		if tc.name == "allocating" && len(rep.Regressions()) != strings.Count(budgets.String(), "\n") {
			t.Errorf("allocating: %d regressions, want one per benchmark (%d)", len(rep.Regressions()), strings.Count(budgets.String(), "\n"))
		}
	}
}
