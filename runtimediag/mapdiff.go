package runtimediag

// This file diffs two classified mapping tables (RSS.Mappings of two full readings): which
// mappings appeared, grew, shrank or went away. The kernel's view of a mapping is a VMA, and VMAs
// are not identities: the kernel merges an anonymous mapping with an adjacent one of the same
// flags, splits one when part of it is mprotected, and a glibc heap that grows is one VMA turning
// read-write while the PROT_NONE VMA above it shrinks. So the diff compares regions, not VMAs:
//
//   - a region is a run of contiguous mappings of the same class and name — except that a
//     thread's stack guard, and a 64 MiB-aligned glibc arena start, begin a region of their own,
//     so adjacent thread stacks (or arenas) stay apart and "+12 thread stacks" can be counted;
//   - regions of the old and new table that overlap and have the same class are one thing: they
//     are joined into components (a grown heap that merged with its neighbour is one component,
//     "grew", not "went away" and "appeared");
//   - a component with only new regions appeared, with only old ones went away; otherwise it grew
//     or shrank by its size, or, at the same size, by its resident bytes.

import (
	"cmp"
	"slices"
	"time"
)

// Kinds of mapping change (MappingChange.Change).
const (
	MappingAppeared = "appeared"
	MappingGrew     = "grew"
	MappingShrank   = "shrank"
	MappingWentAway = "went_away"
)

// MappingChange is one change between two full readings' mapping tables: a region of mappings of
// one class that appeared, grew, shrank or went away.
type MappingChange struct {
	// Time is when the later of the two readings was taken.
	Time time.Time `json:"time"`
	// Change is MappingAppeared, MappingGrew, MappingShrank or MappingWentAway.
	Change string `json:"change"`
	// Class is the mappings' class; Category the RSS category it counts in ("" for go_heap,
	// which the go_heap_* categories share).
	Class    MappingClass `json:"class"`
	Category string       `json:"category,omitempty"`
	// Name is the path, or what the classifier recognised the mapping as: "(glibc arena)",
	// "(pthread stack)", "(malloc mmap)"; "" for an anonymous mapping nothing names.
	Name string `json:"name"`
	// Start and End are the region's addresses after the change (before, for a region that went
	// away); a region that merged or split spans all of its parts.
	Start uintptr `json:"start"`
	End   uintptr `json:"end"`
	// Size and resident bytes before and after; 0 before a region appeared and after it went away.
	SizeBeforeBytes uint64 `json:"size_before_bytes"`
	SizeAfterBytes  uint64 `json:"size_after_bytes"`
	RssBeforeBytes  uint64 `json:"rss_before_bytes"`
	RssAfterBytes   uint64 `json:"rss_after_bytes"`
	// MappingsBefore and MappingsAfter count the kernel's mappings (VMAs) the region was made of:
	// a merge or split shows as a change in these.
	MappingsBefore int `json:"mappings_before"`
	MappingsAfter  int `json:"mappings_after"`
}

// SizeDeltaBytes is the change in mapped size, negative when it shrank.
func (c *MappingChange) SizeDeltaBytes() int64 {
	return int64(c.SizeAfterBytes) - int64(c.SizeBeforeBytes)
}

// RssDeltaBytes is the change in resident bytes, negative when they fell.
func (c *MappingChange) RssDeltaBytes() int64 {
	return int64(c.RssAfterBytes) - int64(c.RssBeforeBytes)
}

// glibcHeapMaxBytes is glibc's HEAP_MAX_SIZE on 64-bit, the alignment of its malloc arenas.
const glibcHeapMaxBytes = 64 << 20

// Names the classifier gives (classify.go) that the diff treats specially.
const (
	nameThreadGuard = "(pthread stack guard)"
	nameThreadStack = "(pthread stack)"
	nameGlibcArena  = "(glibc arena)"
)

// mapRegion is a run of contiguous mappings of one class and name.
type mapRegion struct {
	start, end uintptr
	class      MappingClass
	name       string
	size, rss  uint64
	n          int // mappings in the run
}

// startsRegion reports whether m begins a region of its own rather than extending one that ends
// where it starts: a different class or name, a thread stack's guard, a glibc arena's start.
func startsRegion(r *mapRegion, m *ClassifiedMapping) bool {
	if r.end != m.Start || r.class != m.Class {
		return true
	}
	switch {
	case m.Name == nameThreadGuard:
		return true
	case r.name == nameThreadGuard:
		// The stack above its guard: one region, named for the stack.
		return m.Name != nameThreadStack
	case m.Name == nameGlibcArena && m.Start%glibcHeapMaxBytes == 0:
		return true
	}
	return r.name != m.Name
}

// appendRegions appends the regions of ms (in address order) to dst.
func appendRegions(dst []mapRegion, ms []ClassifiedMapping) []mapRegion {
	base := len(dst)
	for i := range ms {
		m := &ms[i]
		if len(dst) > base {
			if r := &dst[len(dst)-1]; !startsRegion(r, m) {
				if r.name == nameThreadGuard {
					r.name = m.Name
				}
				r.end = m.End
				r.size += m.SizeBytes
				r.rss += m.RssBytes
				r.n++
				continue
			}
		}
		dst = append(dst, mapRegion{start: m.Start, end: m.End, class: m.Class, name: m.Name, size: m.SizeBytes, rss: m.RssBytes, n: 1})
	}
	return dst
}

// mapDiffer diffs mapping tables, reusing its buffers between calls; the zero value is ready.
// Not safe for concurrent use.
type mapDiffer struct {
	old, cur []mapRegion
	parent   []int32
	comps    []mapComponent
}

// mapComponent is a set of old and new regions of one class that overlap, summed.
type mapComponent struct {
	root                 int32
	start, end           uintptr
	class                MappingClass
	name                 string
	nameSize             uint64 // the size of the region the name was taken from
	oldSize, oldRss      uint64
	newSize, newRss      uint64
	oldN, newN           int
	oldStart, oldEnd     uintptr
	hasOld, hasNew, seen bool
}

// DiffMappings returns the changes from the mapping table old to cur (each in address order, as
// RSS.Mappings are), dated at. A region whose size is unchanged counts as grown or shrunk when its
// resident bytes changed by at least minRssBytes; a region that appeared or went away counts
// always. The changes are in address order.
func DiffMappings(old, cur []ClassifiedMapping, at time.Time, minRssBytes uint64) []MappingChange {
	var d mapDiffer
	return d.diff(nil, old, cur, at, minRssBytes)
}

// diff appends the changes from old to cur to dst.
func (d *mapDiffer) diff(dst []MappingChange, old, cur []ClassifiedMapping, at time.Time, minRssBytes uint64) []MappingChange {
	d.old = appendRegions(d.old[:0], old)
	d.cur = appendRegions(d.cur[:0], cur)
	no, nc := len(d.old), len(d.cur)
	// Union-find over old regions (0..no-1) and new ones (no..no+nc-1).
	d.parent = slices.Grow(d.parent[:0], no+nc)[:no+nc]
	for i := range d.parent {
		d.parent[i] = int32(i)
	}
	find := func(i int32) int32 {
		for d.parent[i] != i {
			d.parent[i] = d.parent[d.parent[i]]
			i = d.parent[i]
		}
		return i
	}
	// Every overlapping pair, by a sweep over the two address-ordered lists; both lists hold
	// regions that do not overlap one another.
	for i, j := 0, 0; i < no && j < nc; {
		o, c := &d.old[i], &d.cur[j]
		if o.start < c.end && c.start < o.end && o.class == c.class {
			if a, b := find(int32(i)), find(int32(no+j)); a != b {
				d.parent[a] = b
			}
		}
		if o.end <= c.end {
			i++
		} else {
			j++
		}
	}
	// Sum each component into the slot of its root.
	d.comps = slices.Grow(d.comps[:0], no+nc)[:no+nc]
	for i := range d.comps {
		d.comps[i] = mapComponent{}
	}
	add := func(k int, r *mapRegion, isNew bool) {
		root := find(int32(k))
		c := &d.comps[root]
		if !c.seen {
			*c = mapComponent{root: root, start: r.start, end: r.end, class: r.class, seen: true}
		}
		c.start, c.end = min(c.start, r.start), max(c.end, r.end)
		if isNew {
			if !c.hasNew {
				c.start, c.end, c.name, c.nameSize = r.start, r.end, "", 0
			}
			c.start, c.end = min(c.start, r.start), max(c.end, r.end)
			c.hasNew = true
			c.newSize += r.size
			c.newRss += r.rss
			c.newN += r.n
		} else {
			if !c.hasOld {
				c.oldStart, c.oldEnd = r.start, r.end
			}
			c.oldStart, c.oldEnd = min(c.oldStart, r.start), max(c.oldEnd, r.end)
			c.hasOld = true
			c.oldSize += r.size
			c.oldRss += r.rss
			c.oldN += r.n
		}
		// The name is the largest region's, new regions' first.
		if (isNew || !c.hasNew) && r.size > c.nameSize {
			c.name, c.nameSize = r.name, r.size
		}
	}
	for i := range d.old {
		add(i, &d.old[i], false)
	}
	for j := range d.cur {
		add(no+j, &d.cur[j], true)
	}
	first := len(dst)
	for i := range d.comps {
		c := &d.comps[i]
		if !c.seen || c.root != int32(i) {
			continue
		}
		ch := MappingChange{
			Time: at, Class: c.class, Category: c.class.Category(), Name: c.name,
			SizeBeforeBytes: c.oldSize, SizeAfterBytes: c.newSize, RssBeforeBytes: c.oldRss, RssAfterBytes: c.newRss,
			MappingsBefore: c.oldN, MappingsAfter: c.newN,
		}
		switch {
		case !c.hasOld:
			ch.Change = MappingAppeared
			ch.Start, ch.End = c.start, c.end
		case !c.hasNew:
			ch.Change = MappingWentAway
			ch.Start, ch.End = c.oldStart, c.oldEnd
		case c.newSize > c.oldSize:
			ch.Change = MappingGrew
		case c.newSize < c.oldSize:
			ch.Change = MappingShrank
		case c.newRss >= c.oldRss+max(minRssBytes, 1):
			ch.Change = MappingGrew
		case c.oldRss >= c.newRss+max(minRssBytes, 1):
			ch.Change = MappingShrank
		default:
			continue
		}
		if c.hasNew {
			ch.Start, ch.End = c.start, c.end
		}
		dst = append(dst, ch)
	}
	slices.SortFunc(dst[first:], func(a, b MappingChange) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), cmp.Compare(a.Change, b.Change))
	})
	return dst
}
