// Package gate compares Go benchmark results and fails honestly on allocation regressions.
//
// It reads the output of go test -bench -benchmem -count=N with golang.org/x/perf (benchfmt to
// parse, benchproc to name benchmarks, benchmath for the statistics) and decides, for every
// benchmark and gated unit, whether the new results regressed against a base run, a budgets
// file, or both.
//
// # Exact and noisy units
//
// Exact units (allocs/op, B/op, the frac- units and gc-cycles/op of package bench, and any unit
// that the base or the new input marks assume=exact) are compared as numbers only when both
// sides are constant: no two samples of a side differ by more than the unit's [Tolerance] (for
// allocs/op, +0: every sample equal). Then the median of the new samples may exceed the base
// median by at most the tolerance. When the values vary on either side (allocations in
// goroutines, maps that grow at different times), a difference of medians can be noise, so the
// Mann-Whitney U test decides, as benchstat does, and the row says so; a significant change
// counts only when it is larger than the tolerance. Exact units need 2 samples per side.
//
// Noisy units (ns/op, stw-ns/op and the rest) are always compared with the U test. The U
// tests' alpha is divided by their number (Bonferroni); a noisy unit regresses only when its
// median also moves by at least the minimum effect. A unit whose samples are all equal on both
// sides is unchanged: that is no shortage of samples.
//
// # Impossible values
//
// NaN, ±Inf, a negative count, size, time or rate (ns/op, B/op, allocs/op, MB/s and the units
// of package bench that cannot be negative) and an iteration count under 1 are bad input,
// reported with file:line by [Read] before any statistics run. benchstat accepts NaN, and its U
// test then allocates without bound; the gate refuses it. Options and tolerances that are NaN,
// infinite or negative are refused by [Compare].
//
// # Configurations
//
// As benchstat's default grouping (benchproc's .config and .fullname), results are one
// benchmark only when their package, name, GOMAXPROCS suffix and every file configuration line
// (goos, goarch, cpu, note, goversion, any "key: value") agree. Results of different
// configurations are never pooled, within one file or across files, and never compared with
// each other: a benchmark that base and new ran under different configurations is a
// [ProblemConfig] (or [ProblemToolchain]) naming the keys that differ. [ReadOptions.Ignore]
// lists keys that should not separate results, like benchstat's -ignore. Unit metadata
// (Unit lines) is read from both sides; a disagreement is bad input.
//
// # Outcomes
//
// Every row has a typed [Outcome] and [Method]; every problem a [ProblemKind]. The exit code
// is derived from them, and when several apply the first of these wins: [ExitBadInput] (an
// error from [Read] or [Compare]), [ExitRegression] (any regressed row, however much else
// was inconclusive), [ExitInconclusive] (too few samples, missing or added benchmarks,
// different configurations, a budget that did not run, nothing compared), [ExitPass].
//
// # Which code changed
//
// [DiffProfiles] compares the -memprofile of the base and new runs of one benchmark and names
// the allocation sites whose objects or bytes per iteration changed most; [ProfileBenchmark]
// records such a profile by running go test.
package gate
