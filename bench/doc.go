// Package bench measures the memory behaviour of Go benchmarks without stopping the world, and
// holds tests to allocation budgets.
//
// # Benchmarks
//
// One call at the top of a benchmark reports, next to the numbers the testing package prints,
// the memory figures that explain them:
//
//	func BenchmarkParse(b *testing.B) {
//		input := load(b)
//		bench.Measure(b)
//		for b.Loop() {
//			parse(input)
//		}
//	}
//
// The metrics, all read from runtime/metrics and /proc/self/statm, never from
// runtime.ReadMemStats:
//
//	frac-allocs/op    heap objects allocated per iteration, not truncated to an integer
//	frac-B/op         heap bytes allocated per iteration, not truncated
//	gc-cycles/op      completed GC cycles per iteration
//	stw-ns/op         stop-the-world time per iteration, GC and other pauses together
//	stw-pauses/op     stop-the-world pauses per iteration, counted exactly
//	peak-heap-B       largest heap-object bytes observed at the start or end of the run
//	retained-heap-B   live heap after a forced GC at the end, minus live heap at the start
//	rss-growth-B      resident set size at the end minus at the start (Linux only)
//
// The window runs from the call to the end of the benchmark function, so it includes
// whatever the function does after the call, also while the timer is stopped; call Measure
// right before the loop. The testing package truncates allocs/op and B/op to integers; the
// frac- units are the same quantities measured over the same loop, without truncation.
//
// The testing package itself stops the world twice per run (runtime.ReadMemStats when b.Loop
// starts the timer and when it stops it), inside the window. Those pauses are a fixed count
// per run, so stw-pauses/op carries 2/b.N of them; their duration depends on the machine,
// which makes stw-ns/op too noisy to hold to a maximum. Gate on stw-pauses/op: code that stops
// the world on every call shows as 1 more pause per op.
//
// # Self-describing output
//
// [Main] in TestMain prints the benchfmt unit metadata (which units are exact, which direction
// is better) and the configuration that changes allocation behaviour (Go version, GOGC,
// GOMEMLIMIT, GOMAXPROCS, GOEXPERIMENT), so that the gate and benchstat read a result file
// without outside knowledge.
//
// # Allocation budgets in tests
//
// [AssertAllocs] fails a test when a function allocates more objects per call than its
// budget. It measures like testing.AllocsPerRun (warm-up outside the window, GOMAXPROCS 1,
// runtime.ReadMemStats — the one place this package stops the world, in a test helper) and
// keeps the smallest of several averages. Like the standard library's own allocation tests, it
// skips under the race detector and when optimisation is off, where the compiler's escape
// analysis differs.
//
// # The gate
//
// The regression gate that reads these outputs lives in package
// github.com/memdiag/memdiag/bench/gate, so that benchmark binaries importing this package do
// not link the statistics and profile libraries the gate needs.
package bench
