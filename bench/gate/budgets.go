package gate

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/memdiag/memdiag/bench"
)

// Budgets are per-benchmark maxima, checked into the repository next to the benchmarks.
//
// The file is plain text, one budget a line, fields separated by spaces:
//
//	# package benchmark unit maximum
//	example.com/p Parse/size=10 allocs/op 3
//	example.com/p Parse/size=10 B/op 512
//
// The package is "-" for results without a pkg line. Blank lines and lines starting with # are
// ignored.
type Budgets struct {
	// File is the name the budgets were read from, for messages.
	File    string
	Entries []Budget
}

// Budget is one maximum.
type Budget struct {
	Benchmark Key
	Unit      string
	Max       float64
}

// BudgetUnits returns the units --update writes budgets for when a benchmark has none: a new
// slice on every call.
func BudgetUnits() []string { return []string{bench.UnitAllocs, bench.UnitBytes} }

// ReadBudgetsFile reads a budgets file; a file that does not exist is an empty budget, so that
// the first --update creates it.
func ReadBudgetsFile(name string) (*Budgets, error) {
	data, err := os.ReadFile(name)
	if os.IsNotExist(err) {
		return &Budgets{File: name}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseBudgets(name, bytes.NewReader(data))
}

// ParseBudgets parses the budgets file format; errors name file and line.
func ParseBudgets(name string, r io.Reader) (*Budgets, error) {
	b := &Budgets{File: name}
	seen := map[[2]string]int{}
	sc := bufio.NewScanner(r)
	line := 0
	var errs []error
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 4 {
			errs = append(errs, fmt.Errorf("%s:%d: want 4 fields (package benchmark unit maximum), have %d", name, line, len(f)))
			continue
		}
		v, err := strconv.ParseFloat(f[3], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			errs = append(errs, fmt.Errorf("%s:%d: maximum %q: want a finite number of 0 or more", name, line, f[3]))
			continue
		}
		pkg := f[0]
		if pkg == "-" {
			pkg = ""
		}
		k := Key{Pkg: pkg, Name: f[1]}
		id := [2]string{k.String(), f[2]}
		if prev, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: %s %s already budgeted on line %d", name, line, k, f[2], prev))
			continue
		}
		seen[id] = line
		b.Entries = append(b.Entries, Budget{Benchmark: k, Unit: f[2], Max: v})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s:%d: %w", name, line+1, err))
	}
	if len(errs) > 0 {
		return nil, &InputError{Errs: errs}
	}
	return b, nil
}

// WriteTo writes the budgets in the file format, sorted, so that updates make small diffs.
func (b *Budgets) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	buf.WriteString("# memdiag gate budgets: package benchmark unit maximum. Lower by hand or with --update; never raise.\n")
	es := slices.Clone(b.Entries)
	slices.SortFunc(es, func(x, y Budget) int {
		if c := strings.Compare(x.Benchmark.Pkg, y.Benchmark.Pkg); c != 0 {
			return c
		}
		if c := strings.Compare(x.Benchmark.Name, y.Benchmark.Name); c != 0 {
			return c
		}
		return strings.Compare(x.Unit, y.Unit)
	})
	for _, e := range es {
		pkg := e.Benchmark.Pkg
		if pkg == "" {
			pkg = "-"
		}
		fmt.Fprintf(&buf, "%s %s %s %s\n", pkg, e.Benchmark.Name, e.Unit, strconv.FormatFloat(e.Max, 'g', -1, 64))
	}
	n, err := w.Write(buf.Bytes())
	return int64(n), err
}

// BudgetChange is one line --update changed.
type BudgetChange struct {
	Benchmark Key
	Unit      string
	// Old is NaN for a budget that did not exist.
	Old, New float64
}

// Ratchet lowers every budget in [BudgetUnits] the new results are under to the new median,
// and adds budgets in those units for benchmarks that have none. It never raises a budget: a
// regression stays a regression until the code or the budget file is changed by hand.
//
// Budgets in other units (frac-allocs/op, gc-cycles/op, stw-pauses/op, …) are left as written:
// they carry a fixed amount per run divided by the iterations, so the median of one run is not a
// maximum the next run is sure to stay under, and a budget lowered to it would fail at random.
func (b *Budgets) Ratchet(new *Set) []BudgetChange {
	// A benchmark run under several configurations (GOMAXPROCS, cpu, note…) is budgeted by
	// its package and name alone, so its budget must hold the largest of their medians.
	medians := map[[2]string]float64{}
	var order []Key
	for _, k := range new.Order {
		for unit, s := range new.Benchmarks[k] {
			id := [2]string{k.bench().String(), unit}
			m, ok := medians[id]
			if !ok && !slices.Contains(order, k.bench()) {
				order = append(order, k.bench())
			}
			if v := median(s); !ok || v > m {
				medians[id] = v
			}
		}
	}
	var changes []BudgetChange
	have := map[[2]string]bool{}
	for i := range b.Entries {
		e := &b.Entries[i]
		id := [2]string{e.Benchmark.String(), e.Unit}
		have[id] = true
		if !slices.Contains(BudgetUnits(), e.Unit) {
			continue
		}
		m, ok := medians[id]
		if ok && m < e.Max {
			changes = append(changes, BudgetChange{e.Benchmark, e.Unit, e.Max, m})
			e.Max = m
		}
	}
	for _, k := range order {
		for _, unit := range BudgetUnits() {
			id := [2]string{k.String(), unit}
			m, ok := medians[id]
			if !ok || have[id] {
				continue
			}
			have[id] = true
			b.Entries = append(b.Entries, Budget{Benchmark: k, Unit: unit, Max: m})
			changes = append(changes, BudgetChange{k, unit, math.NaN(), m})
		}
	}
	return changes
}
