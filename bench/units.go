package bench

// The testing package's own units, which [Main] describes too.
const (
	UnitNs     = "ns/op"
	UnitBytes  = "B/op"
	UnitAllocs = "allocs/op"
)

// Units reported by [Measure], in the order [Main] describes them.
const (
	UnitFracAllocs     = "frac-allocs/op"
	UnitFracBytes      = "frac-B/op"
	UnitGCCycles       = "gc-cycles/op"
	UnitSTW            = "stw-ns/op"
	UnitSTWPauses      = "stw-pauses/op"
	UnitPeakHeap       = "peak-heap-B"
	UnitRetainedHeap   = "retained-heap-B"
	UnitResidentGrowth = "rss-growth-B"
)

// UnitInfo is the benchfmt metadata of one unit: how its samples are distributed and which
// direction is an improvement.
type UnitInfo struct {
	Unit string
	// Exact means repeated runs of unchanged code give the same value, so any change is real;
	// otherwise the gate compares samples with a rank test.
	Exact bool
	// HigherIsBetter is false for every memory unit and for ns/op.
	HigherIsBetter bool
}

// Units lists the metadata [Main] prints: the testing package's own units and those of
// [Measure].
func Units() []UnitInfo {
	return []UnitInfo{
		{Unit: UnitNs},
		{Unit: UnitBytes, Exact: true},
		{Unit: UnitAllocs, Exact: true},
		{Unit: UnitFracAllocs, Exact: true},
		{Unit: UnitFracBytes, Exact: true},
		{Unit: UnitGCCycles, Exact: true},
		{Unit: UnitSTW},
		{Unit: UnitSTWPauses, Exact: true},
		{Unit: UnitPeakHeap},
		{Unit: UnitRetainedHeap},
		{Unit: UnitResidentGrowth},
	}
}
