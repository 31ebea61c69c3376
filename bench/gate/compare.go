package gate

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
)

// Exit codes of a comparison, also the exit status of memdiag gate.
const (
	ExitPass         = 0 // every gated number compared, none regressed
	ExitRegression   = 1 // at least one regression
	ExitBadInput     = 2 // unreadable input or bad usage
	ExitInconclusive = 3 // too few samples, missing or added benchmarks, mismatched toolchains
)

// Tolerance is how much an exact unit may grow before it is a regression: the largest of Abs,
// Rel times the base value, and PerRun divided by the iterations of the run (for counters that
// carry a fixed amount per run, such as the GC cycles and the testing package's own
// allocations around the loop).
type Tolerance struct {
	Abs    float64 `json:"abs"`
	Rel    float64 `json:"rel"`
	PerRun float64 `json:"per_run"`
}

// Allowed is the increase permitted over base for a run of iters iterations.
func (t Tolerance) Allowed(base float64, iters int) float64 {
	a := max(t.Abs, t.Rel*math.Abs(base))
	if iters > 0 && t.PerRun > 0 {
		a = max(a, t.PerRun/float64(iters))
	}
	return a
}

func (t Tolerance) String() string {
	var parts []string
	if t.Abs != 0 || (t.Rel == 0 && t.PerRun == 0) {
		parts = append(parts, "+"+formatNum(t.Abs))
	}
	if t.Rel != 0 {
		parts = append(parts, "+"+formatNum(t.Rel*100)+"%")
	}
	if t.PerRun != 0 {
		parts = append(parts, "+"+formatNum(t.PerRun)+"/run")
	}
	return strings.Join(parts, ",")
}

// DefaultTolerances are the tolerances of the exact units: allocs/op must not grow at all,
// B/op may grow by 16 bytes or 1%, whichever is larger. The frac- units of package bench carry
// the testing package's few allocations around the loop, and GC cycles fall where the heap
// happens to be, so those allow a fixed amount per run; each GC cycle stops the world twice,
// so stw-pauses/op allows what one more cycle per run adds.
func DefaultTolerances() map[string]Tolerance {
	return map[string]Tolerance{
		"allocs/op":      {},
		"B/op":           {Abs: 16, Rel: 0.01},
		"frac-allocs/op": {PerRun: 64},
		"frac-B/op":      {Abs: 16, Rel: 0.01, PerRun: 16384},
		"gc-cycles/op":   {Rel: 0.05, PerRun: 1},
		"stw-pauses/op":  {Rel: 0.05, PerRun: 2},
	}
}

// DefaultUnits are the units gated against a base unless Options.Units says otherwise.
var DefaultUnits = []string{"allocs/op", "B/op", "frac-allocs/op", "frac-B/op", "gc-cycles/op", "stw-pauses/op", "ns/op", "stw-ns/op"}

// minExactSamples is the fewest samples per side an exact unit is compared with: one sample
// cannot show that the value does not vary.
const minExactSamples = 2

// exactUnits are exact even when the input carries no unit metadata (plain go test output).
var exactUnits = []string{"allocs/op", "B/op", "frac-allocs/op", "frac-B/op", "gc-cycles/op", "stw-pauses/op"}

// Options configure a comparison. The zero value is not valid; start from [DefaultOptions].
type Options struct {
	// Alpha is the family-wise significance level of the noisy comparisons.
	Alpha float64
	// MinEffect is the smallest relative change of a noisy unit's median that counts as a
	// regression, e.g. 0.05 for 5%.
	MinEffect float64
	// Tolerances by unit for exact units; exact units without one get +0.
	Tolerances map[string]Tolerance
	// Units are the units compared against a base; others are not compared. Budgets are not
	// filtered by them: every line of a budgets file is checked, the file being the list.
	Units []string
	// AllowAdded accepts benchmarks that only the new results have.
	AllowAdded bool
}

// DefaultOptions returns alpha 0.05, a minimum effect of 5%, [DefaultTolerances] and
// [DefaultUnits].
func DefaultOptions() Options {
	return Options{Alpha: 0.05, MinEffect: 0.05, Tolerances: DefaultTolerances(), Units: slices.Clone(DefaultUnits)}
}

// Verdict is the outcome of one comparison row.
type Verdict string

const (
	Pass         Verdict = "pass"
	Improved     Verdict = "improved"
	Regressed    Verdict = "regressed"
	Inconclusive Verdict = "inconclusive"
)

// Row is one benchmark in one unit.
type Row struct {
	Benchmark Key    `json:"benchmark"`
	Unit      string `json:"unit"`
	// Exact units are compared against Allowed; noisy ones by P and the effect size.
	Exact bool `json:"exact"`
	// Against is "base" or "budget".
	Against string  `json:"against"`
	Base    float64 `json:"base"`
	New     float64 `json:"new"`
	// BaseN and NewN are sample counts (BaseN is 0 against a budget).
	BaseN int `json:"base_n"`
	NewN  int `json:"new_n"`
	// Allowed is the permitted increase of an exact unit.
	Allowed float64 `json:"allowed,omitempty"`
	// P is the U test's p-value for a noisy unit, Alpha the corrected level it is held to.
	P       float64 `json:"p,omitempty"`
	Alpha   float64 `json:"alpha,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Note says why a row is inconclusive, or what the exact values ranged over.
	Note string `json:"note,omitempty"`
}

// Change is the new value relative to the base, or NaN when the base is 0.
func (r Row) Change() float64 {
	if r.Base == 0 {
		if r.New == 0 {
			return 0
		}
		return math.NaN()
	}
	return r.New/r.Base - 1
}

// Problem is something that keeps the gate from deciding; each one makes the exit code
// [ExitInconclusive] unless something regressed.
type Problem struct {
	Kind    string `json:"kind"` // samples, missing, added, toolchain, budget
	Message string `json:"message"`
}

// Report is the outcome of a comparison.
type Report struct {
	BaseFiles   []string  `json:"base_files,omitempty"`
	NewFiles    []string  `json:"new_files"`
	BudgetsFile string    `json:"budgets_file,omitempty"`
	Alpha       float64   `json:"alpha"`
	NoisyRows   int       `json:"noisy_comparisons"`
	MinEffect   float64   `json:"min_effect"`
	Rows        []Row     `json:"rows"`
	Problems    []Problem `json:"problems"`
	Exit        int       `json:"exit"`
	Summary     string    `json:"summary"`
	// Explanations are filled by the caller that ran the explain step, one per regressed
	// benchmark.
	Explanations []Explanation `json:"explain,omitempty"`
}

// Explanation is the profile diff of one regressed benchmark, or why there is none.
type Explanation struct {
	Benchmark Key    `json:"benchmark"`
	Sites     []Site `json:"sites,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Regressions returns the rows that regressed.
func (r *Report) Regressions() []Row {
	var out []Row
	for _, row := range r.Rows {
		if row.Verdict == Regressed {
			out = append(out, row)
		}
	}
	return out
}

func (o Options) isExact(set *Set, unit string) bool {
	if slices.Contains(exactUnits, unit) {
		return true
	}
	return set != nil && set.Units != nil && set.Units.GetAssumption(unit) == benchmath.AssumeExact
}

func (o Options) higherIsBetter(set *Set, unit string) bool {
	if set != nil && set.Units != nil {
		switch set.Units.GetBetter(unit) {
		case 1:
			return true
		case -1:
			return false
		}
	}
	return strings.HasSuffix(unit, "/s")
}

func (o Options) validate() error {
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return fmt.Errorf("alpha %v: want a value between 0 and 1", o.Alpha)
	}
	if !(o.MinEffect >= 0) {
		return fmt.Errorf("min effect %v: want a value of 0 or more", o.MinEffect)
	}
	if len(o.Units) == 0 {
		return fmt.Errorf("no units to gate")
	}
	return nil
}

// Compare compares new against base, and against budgets when budgets is not nil.
func Compare(base, new *Set, budgets *Budgets, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	rep := &Report{NewFiles: new.Files, Alpha: o.Alpha, MinEffect: o.MinEffect}
	if base != nil {
		rep.BaseFiles = base.Files
		compareConfig(rep, base, new)
		o.compareBase(rep, base, new)
	}
	if budgets != nil {
		rep.BudgetsFile = budgets.File
		o.checkBudgets(rep, budgets, new)
	}
	rep.finish()
	return rep, nil
}

func compareConfig(rep *Report, base, new *Set) {
	for _, k := range configKeys {
		b, n := base.Config[k], new.Config[k]
		if len(b) == 0 || len(n) == 0 || slices.Equal(sorted(b), sorted(n)) {
			continue
		}
		kind := "toolchain"
		if k == "gomaxprocs" {
			kind = "config"
		}
		rep.Problems = append(rep.Problems, Problem{Kind: kind,
			Message: fmt.Sprintf("%s differs: base %s, new %s", k, strings.Join(sorted(b), ","), strings.Join(sorted(n), ","))})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func (o Options) compareBase(rep *Report, base, new *Set) {
	// Count the noisy comparisons first: the Bonferroni correction divides alpha by them.
	type pair struct {
		key  Key
		unit string
	}
	var exact, noisy []pair
	for _, key := range base.Order {
		bu := base.Benchmarks[key]
		nu, ok := new.Benchmarks[key]
		if !ok {
			rep.Problems = append(rep.Problems, Problem{Kind: "missing", Message: fmt.Sprintf("%s: in base, not in new", key)})
			continue
		}
		for _, unit := range o.Units {
			_, inBase := bu[unit]
			_, inNew := nu[unit]
			switch {
			case inBase && inNew:
				if o.isExact(new, unit) {
					exact = append(exact, pair{key, unit})
				} else {
					noisy = append(noisy, pair{key, unit})
				}
			case inBase:
				rep.Problems = append(rep.Problems, Problem{Kind: "missing", Message: fmt.Sprintf("%s: %s in base, not in new", key, unit)})
			case inNew:
				rep.Problems = append(rep.Problems, Problem{Kind: "missing", Message: fmt.Sprintf("%s: %s in new, not in base", key, unit)})
			}
		}
	}
	for _, key := range new.Order {
		if _, ok := base.Benchmarks[key]; !ok {
			kind := "added"
			if o.AllowAdded {
				kind = "added-allowed"
			}
			rep.Problems = append(rep.Problems, Problem{Kind: kind, Message: fmt.Sprintf("%s: in new, not in base", key)})
		}
	}
	rep.NoisyRows = len(noisy)
	for _, p := range exact {
		rep.Rows = append(rep.Rows, o.compareExact(base, new, p.key, p.unit))
	}
	alpha := o.Alpha
	if len(noisy) > 1 {
		alpha /= float64(len(noisy))
	}
	for _, p := range noisy {
		rep.Rows = append(rep.Rows, o.compareNoisy(base, new, p.key, p.unit, alpha))
	}
	slices.SortStableFunc(rep.Rows, func(a, b Row) int {
		return slices.Index(new.Order, a.Benchmark) - slices.Index(new.Order, b.Benchmark)
	})
}

// median is benchmath's summary center under no distributional assumption; NewSample sorts
// values in place, so it gets a copy.
func median(s *Samples) float64 {
	return benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(s.Values), &benchmath.DefaultThresholds), 0.95).Center
}

func (o Options) compareExact(base, new *Set, key Key, unit string) Row {
	bs, ns := base.Benchmarks[key][unit], new.Benchmarks[key][unit]
	row := Row{Benchmark: key, Unit: unit, Exact: true, Against: "base",
		Base: median(bs), New: median(ns), BaseN: len(bs.Values), NewN: len(ns.Values)}
	if row.BaseN < minExactSamples || row.NewN < minExactSamples {
		row.Verdict = Inconclusive
		row.Note = fmt.Sprintf("%d+%d samples: need >= %d per side to see that the value is stable (run go test with -count=%d or more)",
			row.BaseN, row.NewN, minExactSamples, minExactSamples)
		return row
	}
	iters := min(slices.Min(bs.Iters), slices.Min(ns.Iters))
	row.Allowed = o.Tolerances[unit].Allowed(row.Base, iters)
	worse := row.New - row.Base
	if o.higherIsBetter(new, unit) {
		worse = -worse
	}
	switch {
	case worse > row.Allowed:
		row.Verdict = Regressed
	case worse < -row.Allowed:
		row.Verdict = Improved
	default:
		row.Verdict = Pass
	}
	if lo, hi := slices.Min(ns.Values), slices.Max(ns.Values); hi-lo > row.Allowed && row.Allowed == 0 {
		row.Note = fmt.Sprintf("new values range from %s to %s", formatNum(lo), formatNum(hi))
	}
	return row
}

func (o Options) compareNoisy(base, new *Set, key Key, unit string, alpha float64) Row {
	bs, ns := base.Benchmarks[key][unit], new.Benchmarks[key][unit]
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	b := benchmath.NewSample(slices.Clone(bs.Values), th)
	n := benchmath.NewSample(slices.Clone(ns.Values), th)
	c := benchmath.AssumeNothing.Compare(b, n)
	if m := min(len(bs.Values), len(ns.Values)); m != max(len(bs.Values), len(ns.Values)) {
		// benchmath warns about sample size only when both sides are short; ask it about the
		// shorter side by comparing two maximally separated samples of that size.
		lo, hi := make([]float64, m), make([]float64, m)
		for i := range hi {
			hi[i] = 1
		}
		probe := benchmath.AssumeNothing.Compare(benchmath.NewSample(lo, th), benchmath.NewSample(hi, th))
		c.Warnings = append(c.Warnings, probe.Warnings...)
	}
	row := Row{Benchmark: key, Unit: unit, Against: "base",
		Base:  benchmath.AssumeNothing.Summary(b, 0.95).Center,
		New:   benchmath.AssumeNothing.Summary(n, 0.95).Center,
		BaseN: len(bs.Values), NewN: len(ns.Values), P: c.P, Alpha: alpha}
	if len(c.Warnings) > 0 {
		row.Verdict = Inconclusive
		var msgs []string
		for _, w := range c.Warnings {
			msgs = append(msgs, w.Error())
		}
		row.Note = fmt.Sprintf("%d+%d samples: %s (run go test with a larger -count)", row.BaseN, row.NewN, strings.Join(msgs, "; "))
		return row
	}
	change := row.Change()
	if math.IsNaN(change) {
		// A zero base median: any change is infinitely large, in the direction of the sign.
		change = math.Copysign(math.Inf(1), row.New-row.Base)
	}
	if o.higherIsBetter(new, unit) {
		change = -change
	}
	switch {
	case c.P >= alpha:
		row.Verdict = Pass
	case change > o.MinEffect:
		row.Verdict = Regressed
	case change < -o.MinEffect:
		row.Verdict = Improved
	default:
		row.Verdict = Pass
		row.Note = fmt.Sprintf("significant but under the %s minimum effect", formatPct(o.MinEffect))
	}
	return row
}

func (o Options) checkBudgets(rep *Report, budgets *Budgets, new *Set) {
	for _, e := range budgets.Entries {
		units, ok := new.Benchmarks[e.Benchmark]
		if !ok {
			rep.Problems = append(rep.Problems, Problem{Kind: "budget", Message: fmt.Sprintf("%s: budgeted in %s, not in new", e.Benchmark, budgets.File)})
			continue
		}
		s, ok := units[e.Unit]
		if !ok {
			rep.Problems = append(rep.Problems, Problem{Kind: "budget", Message: fmt.Sprintf("%s: %s budgeted in %s, not in new", e.Benchmark, e.Unit, budgets.File)})
			continue
		}
		row := Row{Benchmark: e.Benchmark, Unit: e.Unit, Exact: true, Against: "budget", Base: e.Max, New: median(s), NewN: len(s.Values)}
		switch {
		case row.NewN < minExactSamples:
			// As against a base: one sample cannot show that the value does not vary, and one
			// run that caught a stray allocation must not fail the build on its own.
			row.Verdict = Inconclusive
			row.Note = fmt.Sprintf("%d samples: need >= %d to see that the value is stable (run go test with -count=%d or more)",
				row.NewN, minExactSamples, minExactSamples)
		case row.New > e.Max:
			row.Verdict = Regressed
		case row.New < e.Max:
			row.Verdict = Improved
			if slices.Contains(BudgetUnits, e.Unit) {
				row.Note = "under budget: --update lowers it"
			}
		default:
			row.Verdict = Pass
		}
		rep.Rows = append(rep.Rows, row)
	}
}

func (rep *Report) finish() {
	var regressed, inconclusive int
	for _, r := range rep.Rows {
		switch r.Verdict {
		case Regressed:
			regressed++
		case Inconclusive:
			inconclusive++
		}
	}
	problems := 0
	for _, p := range rep.Problems {
		if p.Kind != "added-allowed" && p.Kind != "config" {
			problems++
		}
	}
	// Too few samples is a broken invocation, not a result: it wins over regressions, which a
	// single sample cannot establish.
	fewSamples := 0
	for _, r := range rep.Rows {
		if r.Verdict == Inconclusive && strings.Contains(r.Note, "samples") {
			fewSamples++
		}
	}
	switch {
	case fewSamples > 0:
		rep.Exit = ExitInconclusive
		rep.Summary = fmt.Sprintf("INCONCLUSIVE: %d comparison%s had too few samples", fewSamples, plural(fewSamples))
	case regressed > 0:
		rep.Exit = ExitRegression
		rep.Summary = fmt.Sprintf("FAIL: %d regression%s", regressed, plural(regressed))
	case inconclusive > 0 || problems > 0:
		rep.Exit = ExitInconclusive
		rep.Summary = fmt.Sprintf("INCONCLUSIVE: %d comparison%s could not decide, %d problem%s", inconclusive, plural(inconclusive), problems, plural(problems))
	case len(rep.Rows) == 0:
		rep.Exit = ExitInconclusive
		rep.Summary = "INCONCLUSIVE: nothing was compared"
	default:
		rep.Exit = ExitPass
		rep.Summary = fmt.Sprintf("PASS: %d comparison%s, no regression", len(rep.Rows), plural(len(rep.Rows)))
	}
	if rep.Problems == nil {
		rep.Problems = []Problem{}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
