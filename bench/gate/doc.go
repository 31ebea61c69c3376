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
// the input marks assume=exact) are compared as numbers: the median of the new samples may
// exceed the median of the base samples by at most the unit's [Tolerance]. Noisy units (ns/op,
// stw-ns/op and the rest) are compared with the Mann-Whitney U test at an alpha divided by the
// number of noisy comparisons (Bonferroni), and count as a regression only when the medians
// also differ by at least the minimum effect size.
//
// # Outcomes
//
// A comparison never passes silently: [Report.Exit] is [ExitRegression] when anything
// regressed, [ExitInconclusive] when too few samples, missing or added benchmarks, or
// mismatched toolchains keep it from deciding, and [ExitPass] only when every gated number was
// compared and none regressed. Input that cannot be read is an [*InputError], [ExitBadInput].
//
// # Which code changed
//
// [DiffProfiles] compares the -memprofile of the base and new runs of one benchmark and names
// the allocation sites whose objects or bytes per iteration changed most; [ProfileBenchmark]
// records such a profile by running go test.
package gate
