package runtimediag

import (
	"cmp"
	"slices"

	"github.com/memdiag/memdiag/internal/appframe"
)

// MemdiagItself is the name of the one line that stands for all of memdiag's own allocation sites.
const MemdiagItself = "memdiag itself"

// defaultTopSites is how many sites AllocSitesDelta keeps when asked for none in particular.
const defaultTopSites = 10

// AllocSitesDelta is what each line allocated between two readings, the top lines by bytes
// (top ≤ 0 means 10), with memdiag's own allocations taken out of the lines and their shares and
// summed as one figure (MemdiagItself). It is nil when either reading is missing or they are not
// in time order: a profile alone is cumulative since the process started and has no window. Lines
// whose totals went down (a profile from another process) count as zero.
func AllocSitesDelta(prev, cur *AllocProfile, top int) *AllocationSites {
	if prev == nil || cur == nil {
		return nil
	}
	secs := cur.Time.Sub(prev.Time).Seconds()
	if !(secs > 0) {
		return nil
	}
	if top <= 0 {
		top = defaultTopSites
	}
	type delta struct {
		k              siteKey
		bytes, objects int64
	}
	var all []delta
	var total, totalObjects int64
	var self siteCount
	add := func(k siteKey, c, p siteCount) {
		d := delta{k: k, bytes: max(c.bytes-p.bytes, 0), objects: max(c.objects-p.objects, 0)}
		if d.bytes == 0 && d.objects == 0 {
			return
		}
		if k.self {
			self.bytes += d.bytes
			self.objects += d.objects
			return
		}
		total += d.bytes
		totalObjects += d.objects
		all = append(all, d)
	}
	if prev.tab == cur.tab && cur.tab != nil {
		// Readings of one reader: subtract index by index.
		for i, c := range cur.counts {
			var p siteCount
			if i < len(prev.counts) {
				p = prev.counts[i]
			}
			add(cur.keys[i], c, p)
		}
	} else {
		before := make(map[siteKey]siteCount, len(prev.counts))
		for i, c := range prev.counts {
			k := prev.keys[i]
			b := before[k]
			b.bytes += c.bytes
			b.objects += c.objects
			before[k] = b
		}
		for i, c := range cur.counts {
			add(cur.keys[i], c, before[cur.keys[i]])
		}
	}
	// Sorted by bytes, then by name: the table's order must not reach the report.
	slices.SortFunc(all, func(a, b delta) int {
		if c := cmp.Compare(b.bytes, a.bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.function, b.k.function); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.file, b.k.file); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.line, b.k.line); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.app.Function, b.k.app.Function); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.app.File, b.k.app.File); c != 0 {
			return c
		}
		return cmp.Compare(a.k.app.Line, b.k.app.Line)
	})
	out := &AllocationSites{
		WindowSeconds:       secs,
		SampleRateBytes:     int(cur.SampleRateBytes),
		GCCycles:            sat(cur.GCCycles, prev.GCCycles),
		TotalBytesPerSecond: finite(float64(total) / secs),
		Sites:               make([]AllocationSite, 0, min(top, len(all))),
		MemdiagItself: &MemdiagSites{
			BytesPerSecond:   finite(float64(self.bytes) / secs),
			ObjectsPerSecond: finite(float64(self.objects) / secs),
			Share:            ratio(float64(self.bytes), float64(total+self.bytes)),
			ObjectsShare:     ratio(float64(self.objects), float64(totalObjects+self.objects)),
		},
	}
	for _, d := range all[:min(top, len(all))] {
		out.Sites = append(out.Sites, AllocationSite{
			Function:         d.k.function,
			File:             d.k.file,
			Line:             int(d.k.line),
			BytesPerSecond:   finite(float64(d.bytes) / secs),
			ObjectsPerSecond: finite(float64(d.objects) / secs),
			Share:            ratio(float64(d.bytes), float64(total)),
			AppFrame:         appFrameOf(d.k.app),
		})
	}
	return out
}

// appFrameOf is the report's form of a site's application frame: nil when the stack has none.
func appFrameOf(f appframe.Frame) *SiteFrame {
	if f.Function == "" {
		return nil
	}
	return &SiteFrame{Function: f.Function, File: f.File, Line: f.Line}
}
