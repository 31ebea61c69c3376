package gate

import (
	"fmt"
	"strings"
)

// Exit codes of a comparison, also the exit status of memdiag gate. When several apply, the
// first in this order wins: bad input (2), a regression (1), inconclusive (3), pass (0). Bad
// input never reaches a [Report]: [Read] and [Compare] return an error instead.
const (
	ExitPass         = 0 // every gated number compared, none regressed
	ExitRegression   = 1 // at least one regression
	ExitBadInput     = 2 // unreadable input, impossible values, bad usage
	ExitInconclusive = 3 // too few samples, missing or added benchmarks, different configurations
)

// Outcome is what one comparison found. The exit code is derived from the outcomes and the
// problems, never from the text of a note.
type Outcome string

const (
	// OutcomeUnchanged: the values stayed within the tolerance (exact), are all equal on both sides,
	// or equal the budget.
	OutcomeUnchanged Outcome = "unchanged"
	// OutcomeNotSignificant: the U test found no difference at the corrected alpha (benchstat's ~).
	OutcomeNotSignificant Outcome = "not-significant"
	// OutcomeBelowThreshold: the U test found a difference smaller than the minimum effect (noisy
	// units) or the tolerance (exact units whose values vary).
	OutcomeBelowThreshold Outcome = "below-threshold"
	// OutcomeImproved: better by more than the threshold, or under the budget.
	OutcomeImproved Outcome = "improved"
	// OutcomeRegressed: worse by more than the threshold, or over the budget.
	OutcomeRegressed Outcome = "regressed"
	// OutcomeTooFewSamples: one side has too few samples to decide: exact units need 2 per side to
	// show that a value does not vary, the U test as many as its smallest possible p-value
	// needs to get under the corrected alpha.
	OutcomeTooFewSamples Outcome = "too-few-samples"
)

// Verdict is the coarse outcome of a row: pass, improved, regressed or inconclusive.
type Verdict string

const (
	Pass         Verdict = "pass"
	Improved     Verdict = "improved"
	Regressed    Verdict = "regressed"
	Inconclusive Verdict = "inconclusive"
)

// Verdict groups outcomes: unchanged, not significant and below the threshold pass.
func (o Outcome) Verdict() Verdict {
	switch o {
	case OutcomeImproved:
		return Improved
	case OutcomeRegressed:
		return Regressed
	case OutcomeTooFewSamples:
		return Inconclusive
	}
	return Pass
}

// Method says how a row was decided.
type Method string

const (
	// MethodExact: both sides constant (no two samples of a side differ by more than the
	// unit's tolerance), the medians compared as numbers.
	MethodExact Method = "exact"
	// MethodUTest: the Mann-Whitney U test, for noisy units and for exact units whose values
	// vary on either side.
	MethodUTest Method = "u-test"
	// MethodBudget: the median of the new samples held to a maximum.
	MethodBudget Method = "budget"
)

// ProblemKind classifies what kept the gate from comparing something.
type ProblemKind string

const (
	// ProblemMissing: a benchmark or unit in the base results only.
	ProblemMissing ProblemKind = "missing"
	// ProblemAdded: a benchmark in the new results only.
	ProblemAdded ProblemKind = "added"
	// ProblemAddedAllowed: the same, accepted by Options.AllowAdded; does not change the exit code.
	ProblemAddedAllowed ProblemKind = "added-allowed"
	// ProblemConfig: a benchmark on both sides but under different configurations (cpu,
	// goos, note, GOMAXPROCS…): not compared, as benchstat does not compare them.
	ProblemConfig ProblemKind = "config"
	// ProblemToolchain: the same, where the difference is the Go version or GOEXPERIMENT.
	ProblemToolchain ProblemKind = "toolchain"
	// ProblemBudget: a budget for a benchmark or unit that did not run.
	ProblemBudget ProblemKind = "budget"
)

// Inconclusive reports whether the problem makes the exit code [ExitInconclusive] when
// nothing regressed.
func (k ProblemKind) Inconclusive() bool { return k != ProblemAddedAllowed }

// finish derives the exit code and the summary from the typed outcomes and problems.
func (rep *Report) finish() {
	var regressed, tooFew int
	for _, r := range rep.Rows {
		switch r.Outcome {
		case OutcomeRegressed:
			regressed++
		case OutcomeTooFewSamples:
			tooFew++
		}
	}
	problems := 0
	for _, p := range rep.Problems {
		if p.Kind.Inconclusive() {
			problems++
		}
	}
	var undecided []string
	if tooFew > 0 {
		undecided = append(undecided, fmt.Sprintf("%d comparison%s had too few samples", tooFew, plural(tooFew)))
	}
	if problems > 0 {
		undecided = append(undecided, fmt.Sprintf("%d problem%s", problems, plural(problems)))
	}
	switch {
	case regressed > 0:
		// A regression that was established stands whatever else could not be decided.
		rep.Exit = ExitRegression
		rep.Summary = fmt.Sprintf("FAIL: %d regression%s", regressed, plural(regressed))
		if len(undecided) > 0 {
			rep.Summary += "; also " + strings.Join(undecided, ", ")
		}
	case len(undecided) > 0:
		rep.Exit = ExitInconclusive
		rep.Summary = "INCONCLUSIVE: " + strings.Join(undecided, ", ")
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
