// Package gcmodel predicts what the Go garbage collector would cost, and how much memory the
// process would peak at, under other GOGC and GOMEMLIMIT settings — from one window of
// measurements taken at the current setting.
//
// # Overview
//
// The model is the pacer of runtime/mgcpacer.go (Go 1.18 and later) applied to measured inputs:
//
//   - GOGC heap goal = marked + (marked + stacks scanned + globals scanned) × GOGC/100, never below
//     the minimum heap, 4 MiB × GOGC/100;
//   - memory-limit heap goal = limit − (the runtime's non-heap memory), less 3% (at least 1 MiB) of
//     headroom, never below the marked heap;
//   - the heap goal is the smaller of the two; the limit "binds" when it is the memory-limit goal;
//   - a cycle ends when the heap reaches its goal, so the bytes allocated per cycle are
//     goal − marked, and cycles per second = allocation rate ÷ (goal − marked);
//   - the CPU a cycle costs is marking the live heap, the stacks and the globals: it does not
//     depend on GOGC, so the GC CPU per cycle measured in the window (mark workers, assists,
//     pauses) is carried to every setting and GC CPU per second = cycles per second × that cost;
//   - the GC CPU limiter (mgclimit.go) caps the dedicated mark workers and assists at half of the
//     CPU the process did not leave idle; when a setting would need more, the model caps the cycle
//     rate there and lets the heap overshoot its goal, as the runtime does.
//
// Peak heap is the heap goal (or the overshoot under the limiter); peak resident adds the
// measured heap fragmentation (as a share of the heap), the runtime's other memory (stacks,
// metadata) and the measured non-Go resident memory (C heap, thread stacks, mappings), which the
// runtime itself cannot see.
//
// # Assumptions
//
// The allocation rate and the live heap are steady over the window and stay so under the new
// setting, and the program's work does not depend on GC timing. [Validate] refuses a window that
// visibly breaks them and says why with a [Reason]: too few cycles to measure a cycle's cost, a
// live heap that moved, an allocation rate that moved, a setting changed mid-window, cycles forced
// by runtime.GC, or the limiter engaged (the heap was then not held at its goal). Sweep CPU is not
// in the runtime's GC CPU classes (it is charged to the goroutines that sweep); the model neither
// measures nor predicts it.
//
// # Overhead
//
// Pure arithmetic on a value: no /proc, no runtime reads, no allocation beyond the returned
// slice. [Predict] over the default candidates costs about a microsecond (docs/performance.md).
package gcmodel
