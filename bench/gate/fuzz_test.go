package gate

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"
)

// FuzzReadCompare feeds arbitrary go test output to Read and Compare. Read either refuses it
// with an *InputError or returns results whose configuration keys round-trip; Compare then
// never panics, decides every row, exits 0, 1 or 3, writes JSON, and never finds a regression
// between a set and itself.
func FuzzReadCompare(f *testing.F) {
	for _, name := range []string{"alleq-new.txt", "mixed-base.txt", "meta-base.txt", "nan-ns.txt", "neg-allocs.txt"} {
		data, err := os.ReadFile(casePath(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data[:min(len(data), 700)]), "BenchmarkParse-2 10 5 ns/op 9 allocs/op\nBenchmarkParse-2 10 5 ns/op 9 allocs/op\n")
	}
	f.Add("note: a: b\ncpu: x y\nBenchmarkA-4 1 1e308 B/op\nBenchmarkA-4 1 1e308 B/op\n", "Unit B/op assume=exact\nBenchmarkA-4 1 -0 B/op\n")
	f.Add("BenchmarkA 1 NaN ns/op\n", "BenchmarkA 1 Inf allocs/op\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, errA := Read([]string{"a"}, []io.Reader{strings.NewReader(a)})
		sb, errB := Read([]string{"b"}, []io.Reader{strings.NewReader(b)})
		for _, err := range []error{errA, errB} {
			var ie *InputError
			if err != nil && !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *InputError", err)
			}
		}
		if errA != nil {
			return
		}
		for _, k := range sa.Order {
			if got := configString(k.ConfigPairs()); got != k.Config {
				t.Fatalf("config %q reads back as %q", k.Config, got)
			}
		}
		self, err := Compare(sa, sa, nil, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if len(self.Regressions()) > 0 || self.Exit == ExitRegression {
			t.Fatalf("a set regressed against itself: %+v", self.Regressions())
		}
		check(t, self)
		if errB != nil {
			return
		}
		rep, err := Compare(sa, sb, nil, DefaultOptions())
		var ie *InputError
		if errors.As(err, &ie) {
			return // unit metadata on which the two disagree
		}
		if err != nil {
			t.Fatal(err)
		}
		check(t, rep)
	})
}

func check(t *testing.T, rep *Report) {
	t.Helper()
	if rep.Exit != ExitPass && rep.Exit != ExitRegression && rep.Exit != ExitInconclusive {
		t.Fatalf("exit %d", rep.Exit)
	}
	for _, r := range rep.Rows {
		if r.Outcome == "" || r.Verdict == "" || r.Method == "" {
			t.Fatalf("row not decided: %+v", r)
		}
		for _, v := range []float64{r.Base, r.New, r.Allowed, r.P, r.Alpha} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("row with a non-finite figure: %+v", r)
			}
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(io.Discard, rep); err != nil {
		t.Fatal(err)
	}
}
