package gate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"

	"github.com/memdiag/memdiag/bench"
)

// Tolerance is how much an exact unit may grow before it is a regression: the largest of Abs,
// Rel times the base value, and PerRun divided by the iterations of the run (for counters that
// carry a fixed amount per run, such as the GC cycles and the testing package's own
// allocations around the loop). It is also the spread within which a side counts as constant.
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

func (t Tolerance) validate() error {
	for _, v := range []float64{t.Abs, t.Rel, t.PerRun} {
		if !(v >= 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%v: want finite numbers of 0 or more", v)
		}
	}
	return nil
}

// DefaultTolerances are the tolerances of the exact units: allocs/op must not grow at all,
// B/op may grow by 16 bytes or 1%, whichever is larger. The frac- units of package bench carry
// the testing package's few allocations around the loop, and GC cycles fall where the heap
// happens to be, so those allow a fixed amount per run; each GC cycle stops the world twice,
// so stw-pauses/op allows what one more cycle per run adds.
func DefaultTolerances() map[string]Tolerance {
	return map[string]Tolerance{
		bench.UnitAllocs:     {},
		bench.UnitBytes:      {Abs: 16, Rel: 0.01},
		bench.UnitFracAllocs: {PerRun: 64},
		bench.UnitFracBytes:  {Abs: 16, Rel: 0.01, PerRun: 16384},
		bench.UnitGCCycles:   {Rel: 0.05, PerRun: 1},
		bench.UnitSTWPauses:  {Rel: 0.05, PerRun: 2},
	}
}

// DefaultUnits returns the units gated against a base unless Options.Units says otherwise: a new
// slice on every call.
func DefaultUnits() []string {
	return []string{bench.UnitAllocs, bench.UnitBytes, bench.UnitFracAllocs, bench.UnitFracBytes, bench.UnitGCCycles,
		bench.UnitSTWPauses, bench.UnitNs, bench.UnitSTW}
}

// minExactSamples is the fewest samples per side an exact unit is compared with: one sample
// cannot show that the value does not vary.
const minExactSamples = 2

// exactUnits are exact even when the input carries no unit metadata (plain go test output):
// those package bench says are.
var exactUnits = exactOf(bench.Units())

// exactOf returns the units of units that are exact.
func exactOf(units []bench.UnitInfo) []string {
	var out []string
	for _, u := range units {
		if u.Exact {
			out = append(out, u.Unit)
		}
	}
	return out
}

// Options configure a comparison. The zero value is not valid; start from [DefaultOptions].
type Options struct {
	// Alpha is the family-wise significance level of the U tests.
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
	return Options{Alpha: 0.05, MinEffect: 0.05, Tolerances: DefaultTolerances(), Units: DefaultUnits()}
}

// Row is one benchmark in one unit.
type Row struct {
	Benchmark Key `json:"benchmark"`
	// Config is the part of the benchmark's configuration that differs between the
	// benchmarks of the comparison, e.g. "goos=darwin, note=cold"; empty when all share one.
	Config string `json:"config,omitempty"`
	Unit   string `json:"unit"`
	// Exact is true for exact units (allocs/op, B/op, … and assume=exact).
	Exact bool `json:"exact"`
	// Method is how the row was decided: exactly, by the U test, or against a budget.
	Method Method `json:"method"`
	// Against is "base" or "budget".
	Against string  `json:"against"`
	Base    float64 `json:"base"`
	New     float64 `json:"new"`
	// BaseN and NewN are sample counts (BaseN is 0 against a budget).
	BaseN int `json:"base_n"`
	NewN  int `json:"new_n"`
	// Allowed is the permitted increase of an exact unit.
	Allowed float64 `json:"allowed,omitempty"`
	// P is the U test's p-value, Alpha the corrected level it is held to.
	P     float64 `json:"p,omitempty"`
	Alpha float64 `json:"alpha,omitempty"`
	// Outcome is what the comparison found; Verdict is its coarse group.
	Outcome Outcome `json:"outcome"`
	Verdict Verdict `json:"verdict"`
	// Note says, for people, why a row was decided as it was; nothing reads it back.
	Note string `json:"note,omitempty"`
}

// Change is the difference relative to the size of the base, (new-base)/|base|, so that it
// is positive when the value rose even from a negative base; NaN when the base is 0.
func (r Row) Change() float64 {
	if r.Base == 0 {
		if r.New == 0 {
			return 0
		}
		return math.NaN()
	}
	return (r.New - r.Base) / math.Abs(r.Base)
}

// Problem is something that keeps the gate from deciding; see [ProblemKind].
type Problem struct {
	Kind    ProblemKind `json:"kind"`
	Message string      `json:"message"`
}

// Report is the outcome of a comparison.
type Report struct {
	BaseFiles   []string `json:"base_files,omitempty"`
	NewFiles    []string `json:"new_files"`
	BudgetsFile string   `json:"budgets_file,omitempty"`
	Alpha       float64  `json:"alpha"`
	// UTests is the number of rows decided by the U test; alpha is divided by it.
	UTests    int     `json:"u_tests"`
	MinEffect float64 `json:"min_effect"`
	// ConfigKeys are the configuration keys whose values differ between the benchmarks
	// compared; results that differ in them were kept apart.
	ConfigKeys []string  `json:"config_keys,omitempty"`
	Rows       []Row     `json:"rows"`
	Problems   []Problem `json:"problems"`
	Exit       int       `json:"exit"`
	Summary    string    `json:"summary"`
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
		if row.Outcome == OutcomeRegressed {
			out = append(out, row)
		}
	}
	return out
}

func isExact(units benchfmt.UnitMetadataMap, unit string) bool {
	if slices.Contains(exactUnits, unit) {
		return true
	}
	return units != nil && units.GetAssumption(unit) == benchmath.AssumeExact
}

func higherIsBetter(units benchfmt.UnitMetadataMap, unit string) bool {
	if units != nil {
		switch units.GetBetter(unit) {
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
	if !(o.MinEffect >= 0) || math.IsInf(o.MinEffect, 0) {
		return fmt.Errorf("min effect %v: want a finite value of 0 or more", o.MinEffect)
	}
	if len(o.Units) == 0 {
		return fmt.Errorf("no units to gate")
	}
	for unit, t := range o.Tolerances {
		if err := t.validate(); err != nil {
			return fmt.Errorf("tolerance of %s: %w", unit, err)
		}
	}
	return nil
}

// mergeUnits joins the unit metadata of both sides: a unit is exact, or better higher, when
// either side says so, and two sides that disagree are bad input.
func mergeUnits(sets ...*Set) (benchfmt.UnitMetadataMap, error) {
	out := benchfmt.UnitMetadataMap{}
	var errs []error
	for _, s := range sets {
		if s == nil {
			continue
		}
		for k, m := range s.Units {
			have, ok := out[k]
			if !ok {
				out[k] = m
				continue
			}
			if have.Value != m.Value {
				f1, l1 := have.Pos()
				f2, l2 := m.Pos()
				errs = append(errs, fmt.Errorf("%s:%d: unit %s %s=%s, but %s:%d says %s=%s", f2, l2, m.OrigUnit, k.Key, m.Value, f1, l1, k.Key, have.Value))
			}
		}
	}
	if len(errs) > 0 {
		return nil, &InputError{Errs: errs}
	}
	return out, nil
}

// Compare compares new against base, and against budgets when budgets is not nil. Options
// that are out of range are an error; unit metadata on which base and new disagree is an
// *InputError.
func Compare(base, new *Set, budgets *Budgets, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	units, err := mergeUnits(base, new)
	if err != nil {
		return nil, err
	}
	rep := &Report{NewFiles: new.Files, Alpha: o.Alpha, MinEffect: o.MinEffect}
	show := configLabels(rep, base, new)
	if base != nil {
		rep.BaseFiles = base.Files
		o.compareBase(rep, base, new, units, show)
	}
	if budgets != nil {
		rep.BudgetsFile = budgets.File
		o.checkBudgets(rep, budgets, new, show)
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		r.Verdict = r.Outcome.Verdict()
		// A finite input can still give an infinite figure (1e308 B/op at a tolerance of
		// 1%+1%): clamp, so that every output format can carry the row.
		r.Base, r.New, r.Allowed = finite(r.Base), finite(r.New), finite(r.Allowed)
	}
	rep.finish()
	return rep, nil
}

func finite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// configLabels finds the configuration keys that vary among the benchmarks of both sides, for
// the report, and returns the label of a benchmark: its values of the keys that vary among
// the benchmarks of the same package and name, e.g. "note=cold" or "gomaxprocs=4".
func configLabels(rep *Report, sets ...*Set) func(Key) string {
	byBench := map[Key][]Key{}
	var all []Key
	for _, s := range sets {
		if s == nil {
			continue
		}
		for _, k := range s.Order {
			if !slices.Contains(byBench[k.bench()], k) {
				byBench[k.bench()] = append(byBench[k.bench()], k)
			}
			all = append(all, k)
		}
	}
	for k := range varying(all) {
		rep.ConfigKeys = append(rep.ConfigKeys, displayKey(k))
	}
	slices.Sort(rep.ConfigKeys)
	labels := map[Key]string{}
	for _, keys := range byBench {
		vary := varying(keys)
		for _, k := range keys {
			var parts []string
			for _, p := range k.ConfigPairs() {
				if vary[p.Key] {
					parts = append(parts, displayKey(p.Key)+"="+quoteIfNeeded(p.Value))
				}
			}
			slices.Sort(parts)
			labels[k] = strings.Join(parts, ", ")
		}
	}
	return func(k Key) string { return labels[k] }
}

// varying returns the configuration keys whose values are not the same in all of keys; a
// key that some lack varies.
func varying(keys []Key) map[string]bool {
	values := map[string]map[string]bool{}
	count := map[string]int{}
	for _, k := range keys {
		for _, p := range k.ConfigPairs() {
			if values[p.Key] == nil {
				values[p.Key] = map[string]bool{}
			}
			values[p.Key][p.Value] = true
			count[p.Key]++
		}
	}
	out := map[string]bool{}
	for ck, vs := range values {
		if len(vs) > 1 || count[ck] < len(keys) {
			out[ck] = true
		}
	}
	return out
}

func displayKey(k string) string { return strings.TrimPrefix(k, "/") }

func quoteIfNeeded(v string) string {
	if v == "" || strings.ContainsAny(v, " ,=\"") {
		return strconv.Quote(v)
	}
	return v
}

// plan is one comparison against the base, decided in two passes: the U test's alpha is
// divided by the number of rows that need it.
type plan struct {
	key    Key
	unit   string
	exact  bool
	method Method
	few    bool // too few samples, decided before any test
}

func (o Options) compareBase(rep *Report, base, new *Set, units benchfmt.UnitMetadataMap, show func(Key) string) {
	var plans []plan
	for _, key := range base.Order {
		bu := base.Benchmarks[key]
		nu, ok := new.Benchmarks[key]
		if !ok {
			continue // reported by matchProblems
		}
		for _, unit := range o.Units {
			bs, inBase := bu[unit]
			ns, inNew := nu[unit]
			switch {
			case inBase && inNew:
				plans = append(plans, o.plan(key, unit, bs, ns, units))
			case inBase:
				rep.Problems = append(rep.Problems, Problem{Kind: ProblemMissing, Message: fmt.Sprintf("%s: %s in base, not in new", describe(key, show), unit)})
			case inNew:
				rep.Problems = append(rep.Problems, Problem{Kind: ProblemMissing, Message: fmt.Sprintf("%s: %s in new, not in base", describe(key, show), unit)})
			}
		}
	}
	o.matchProblems(rep, base, new, show)
	tests := 0
	for _, p := range plans {
		if p.method == MethodUTest {
			tests++
		}
	}
	rep.UTests = tests
	alpha := o.Alpha
	if tests > 1 {
		alpha /= float64(tests)
	}
	for _, p := range plans {
		bs, ns := base.Benchmarks[p.key][p.unit], new.Benchmarks[p.key][p.unit]
		row := Row{Benchmark: p.key, Config: show(p.key), Unit: p.unit, Exact: p.exact, Method: p.method, Against: "base",
			Base: median(bs), New: median(ns), BaseN: len(bs.Values), NewN: len(ns.Values)}
		better := higherIsBetter(units, p.unit)
		switch {
		case p.few:
			row.Allowed = o.allowed(p.unit, bs, ns)
			row.Outcome = OutcomeTooFewSamples
			row.Note = fmt.Sprintf("%d+%d samples: need >= %d per side to see that the value is stable (run go test with -count=%d or more)",
				row.BaseN, row.NewN, minExactSamples, minExactSamples)
		case p.method == MethodExact:
			o.decideExact(&row, bs, ns, better)
		default:
			o.decideUTest(&row, bs, ns, alpha, better)
		}
		rep.Rows = append(rep.Rows, row)
	}
	slices.SortStableFunc(rep.Rows, func(a, b Row) int {
		return slices.Index(new.Order, a.Benchmark) - slices.Index(new.Order, b.Benchmark)
	})
}

// plan chooses the method: exact units are compared as numbers only when both sides are
// constant within the unit's tolerance; when the values vary on either side, a difference of
// medians could be noise, so the U test decides, as for noisy units.
func (o Options) plan(key Key, unit string, bs, ns *Samples, units benchfmt.UnitMetadataMap) plan {
	p := plan{key: key, unit: unit, exact: isExact(units, unit), method: MethodUTest}
	if !p.exact {
		return p
	}
	if len(bs.Values) < minExactSamples || len(ns.Values) < minExactSamples {
		p.method, p.few = MethodExact, true
		return p
	}
	allowed := o.allowed(unit, bs, ns)
	if spread(bs) <= allowed && spread(ns) <= allowed {
		p.method = MethodExact
	}
	return p
}

func (o Options) allowed(unit string, bs, ns *Samples) float64 {
	iters := min(slices.Min(bs.Iters), slices.Min(ns.Iters))
	return o.Tolerances[unit].Allowed(median(bs), iters)
}

func spread(s *Samples) float64 { return slices.Max(s.Values) - slices.Min(s.Values) }

// worse is how much worse b → n is, in the unit's direction.
func worse(base, new float64, higherIsBetter bool) float64 {
	if higherIsBetter {
		return base - new
	}
	return new - base
}

func (o Options) decideExact(row *Row, bs, ns *Samples, better bool) {
	row.Allowed = o.allowed(row.Unit, bs, ns)
	w := worse(row.Base, row.New, better)
	switch {
	case w > row.Allowed:
		row.Outcome = OutcomeRegressed
	case w < -row.Allowed:
		row.Outcome = OutcomeImproved
	default:
		row.Outcome = OutcomeUnchanged
	}
	if spread(bs) > 0 || spread(ns) > 0 {
		row.Note = fmt.Sprintf("values range over %s (base), %s (new), within the tolerance: compared exactly", span(bs), span(ns))
	}
}

func span(s *Samples) string {
	lo, hi := slices.Min(s.Values), slices.Max(s.Values)
	if lo == hi {
		return formatNum(lo)
	}
	return formatNum(lo) + "–" + formatNum(hi)
}

func (o Options) decideUTest(row *Row, bs, ns *Samples, alpha float64, better bool) {
	row.Alpha = alpha
	if row.Exact {
		row.Allowed = o.allowed(row.Unit, bs, ns)
	}
	var why string
	if row.Exact {
		why = fmt.Sprintf("%s varies (base %s, new %s): compared with the U test, not exactly; ", row.Unit, span(bs), span(ns))
	}
	n1, n2 := len(bs.Values), len(ns.Values)
	if uTestMinP(n1, n2) >= alpha {
		row.Outcome = OutcomeTooFewSamples
		row.P = 0
		row.Note = fmt.Sprintf("%s%d+%d samples: need >= %d samples to detect a difference at alpha level %.3g (run go test with a larger -count)",
			why, n1, n2, uTestSamplesNeeded(alpha), alpha)
		return
	}
	if spread(bs) == 0 && spread(ns) == 0 && bs.Values[0] == ns.Values[0] {
		// Nothing to test: benchmath reports "all samples are equal" and p=1.
		row.Outcome = OutcomeUnchanged
		row.P = 1
		row.Note = fmt.Sprintf("all %d+%d samples equal", n1, n2)
		return
	}
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(bs.Values), th), benchmath.NewSample(slices.Clone(ns.Values), th))
	row.P = c.P
	if c.P >= alpha {
		row.Outcome = OutcomeNotSignificant
		row.Note = strings.TrimSuffix(why, "; ")
		return
	}
	if row.Exact {
		// Significant: the tolerance decides whether the shift counts.
		w := worse(row.Base, row.New, better)
		switch {
		case w > row.Allowed:
			row.Outcome = OutcomeRegressed
		case w < -row.Allowed:
			row.Outcome = OutcomeImproved
		default:
			row.Outcome = OutcomeBelowThreshold
			why += "significant but within the tolerance"
		}
		row.Note = strings.TrimSuffix(why, "; ")
		return
	}
	change := row.Change()
	if math.IsNaN(change) {
		// A zero base median: any change is infinitely large, in the direction of the sign.
		change = math.Copysign(math.Inf(1), row.New-row.Base)
	}
	if better {
		change = -change
	}
	switch {
	case change > o.MinEffect:
		row.Outcome = OutcomeRegressed
	case change < -o.MinEffect:
		row.Outcome = OutcomeImproved
	default:
		row.Outcome = OutcomeBelowThreshold
		row.Note = fmt.Sprintf("significant but under the %s minimum effect", formatPct(o.MinEffect))
	}
}

var minPCache sync.Map

// uTestMinP is the smallest p-value the U test can give for samples of n1 and n2: that of
// two samples entirely apart, as benchmath computes it.
func uTestMinP(n1, n2 int) float64 {
	type k struct{ n1, n2 int }
	if v, ok := minPCache.Load(k{n1, n2}); ok {
		return v.(float64)
	}
	lo, hi := make([]float64, n1), make([]float64, n2)
	for i := range hi {
		hi[i] = 1
	}
	p := benchmath.AssumeNothing.Compare(benchmath.NewSample(lo, &benchmath.DefaultThresholds), benchmath.NewSample(hi, &benchmath.DefaultThresholds)).P
	minPCache.Store(k{n1, n2}, p)
	return p
}

// uTestSamplesNeeded is the fewest samples per side whose smallest p-value is under alpha.
func uTestSamplesNeeded(alpha float64) int {
	n := 2
	for ; n < 100 && uTestMinP(n, n) >= alpha; n++ {
	}
	return n
}

// median is benchmath's summary center under no distributional assumption; NewSample sorts
// values in place, so it gets a copy.
func median(s *Samples) float64 {
	return benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(s.Values), &benchmath.DefaultThresholds), 0.95).Center
}

func describe(k Key, show func(Key) string) string {
	if l := show(k); l != "" {
		return k.String() + " [" + l + "]"
	}
	return k.String()
}

// matchProblems reports the benchmarks of one side that the other side lacks. A benchmark
// that the other side has under another configuration was not compared on purpose: the
// problem names the keys that differ, once for all benchmarks they separate.
func (o Options) matchProblems(rep *Report, base, new *Set, show func(Key) string) {
	byBench := func(s *Set) map[Key][]Key {
		m := map[Key][]Key{}
		for _, k := range s.Order {
			m[k.bench()] = append(m[k.bench()], k)
		}
		return m
	}
	baseBy, newBy := byBench(base), byBench(new)
	type group struct {
		kind  ProblemKind
		names []string
	}
	groups := map[string]*group{}
	keysOf := map[string][]string{}
	var order []string
	addConfig := func(bk, nk Key) {
		desc, kind, keys := configDiff(bk, nk)
		keysOf[desc] = keys
		g := groups[desc]
		if g == nil {
			g = &group{kind: kind}
			groups[desc] = g
			order = append(order, desc)
		}
		if name := bk.String(); !slices.Contains(g.names, name) {
			g.names = append(g.names, name)
		}
	}
	for _, bk := range base.Order {
		if _, ok := new.Benchmarks[bk]; ok {
			continue
		}
		others := newBy[bk.bench()]
		if len(others) == 0 {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemMissing, Message: fmt.Sprintf("%s: in base, not in new", describe(bk, show))})
			continue
		}
		for _, nk := range others {
			addConfig(bk, nk)
		}
	}
	for _, nk := range new.Order {
		if _, ok := base.Benchmarks[nk]; ok {
			continue
		}
		others := baseBy[nk.bench()]
		if len(others) == 0 {
			kind := ProblemAdded
			if o.AllowAdded {
				kind = ProblemAddedAllowed
			}
			rep.Problems = append(rep.Problems, Problem{Kind: kind, Message: fmt.Sprintf("%s: in new, not in base", describe(nk, show))})
			continue
		}
		for _, bk := range others {
			addConfig(bk, nk)
		}
	}
	for _, desc := range order {
		g := groups[desc]
		names := g.names
		more := ""
		if len(names) > 5 {
			more = fmt.Sprintf(" and %d more", len(names)-5)
			names = names[:5]
		}
		rep.Problems = append(rep.Problems, Problem{Kind: g.kind, Message: fmt.Sprintf(
			"%s: not compared, as benchstat does not compare different configurations (%s%s); --ignore=%s compares them",
			desc, strings.Join(names, ", "), more, strings.Join(keysOf[desc], ","))})
	}
}

// configDiff describes how two configurations differ, e.g. `cpu differs: base "A", new "B"`.
func configDiff(bk, nk Key) (string, ProblemKind, []string) {
	b, n := map[string]string{}, map[string]string{}
	var keys []string
	for _, p := range bk.ConfigPairs() {
		b[p.Key] = p.Value
		keys = append(keys, p.Key)
	}
	for _, p := range nk.ConfigPairs() {
		n[p.Key] = p.Value
		if _, ok := b[p.Key]; !ok {
			keys = append(keys, p.Key)
		}
	}
	slices.Sort(keys)
	kind := ProblemConfig
	var parts, differ []string
	for _, k := range keys {
		bv, bok := b[k]
		nv, nok := n[k]
		if bok == nok && bv == nv {
			continue
		}
		if k == "goversion" || k == "goexperiment" {
			kind = ProblemToolchain
		}
		differ = append(differ, displayKey(k))
		val := func(v string, ok bool) string {
			if !ok {
				return "none"
			}
			return quoteIfNeeded(v)
		}
		parts = append(parts, fmt.Sprintf("%s differs: base %s, new %s", displayKey(k), val(bv, bok), val(nv, nok)))
	}
	return strings.Join(parts, "; "), kind, differ
}

func (o Options) checkBudgets(rep *Report, budgets *Budgets, new *Set, show func(Key) string) {
	byBench := map[Key][]Key{}
	for _, k := range new.Order {
		byBench[k.bench()] = append(byBench[k.bench()], k)
	}
	for _, e := range budgets.Entries {
		keys := byBench[e.Benchmark]
		if len(keys) == 0 {
			rep.Problems = append(rep.Problems, Problem{Kind: ProblemBudget, Message: fmt.Sprintf("%s: budgeted in %s, not in new", e.Benchmark, budgets.File)})
			continue
		}
		for _, key := range keys {
			s, ok := new.Benchmarks[key][e.Unit]
			if !ok {
				rep.Problems = append(rep.Problems, Problem{Kind: ProblemBudget, Message: fmt.Sprintf("%s: %s budgeted in %s, not in new", describe(key, show), e.Unit, budgets.File)})
				continue
			}
			row := Row{Benchmark: key, Config: show(key), Unit: e.Unit, Exact: true, Method: MethodBudget, Against: "budget",
				Base: e.Max, New: median(s), NewN: len(s.Values)}
			switch {
			case row.NewN < minExactSamples:
				// As against a base: one sample cannot show that the value does not vary, and
				// one run that caught a stray allocation must not fail the build on its own.
				row.Outcome = OutcomeTooFewSamples
				row.Note = fmt.Sprintf("%d samples: need >= %d to see that the value is stable (run go test with -count=%d or more)",
					row.NewN, minExactSamples, minExactSamples)
			case row.New > e.Max:
				row.Outcome = OutcomeRegressed
			case row.New < e.Max:
				row.Outcome = OutcomeImproved
				if slices.Contains(BudgetUnits(), e.Unit) {
					row.Note = "under budget: --update lowers it"
				}
			default:
				row.Outcome = OutcomeUnchanged
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
}
