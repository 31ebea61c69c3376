package rssattr

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/procself"
)

// TestHeapShortfallFromFree: right after a burst is freed the scavenger returns free pages while
// smaps is read, so the arenas hold less than runtime/metrics (read just before) says the heap
// has committed. Only free pages go back: the shortfall comes out of go_heap_free, and objects,
// unused and stacks keep what the runtime says they hold. The report says it raced the scavenger.
func TestHeapShortfallFromFree(t *testing.T) {
	const mb = 1 << 20
	rt := Runtime{HeapObjectsBytes: 100 * mb, HeapUnusedBytes: 10 * mb, HeapFreeBytes: 60 * mb, HeapStacksBytes: 4 * mb, HeapReleasedBytes: 8 * mb}
	committed := uint64(174 * mb)
	const returned = 40 * mb // by the scavenger, between the runtime/metrics read and smaps
	s := &Reading{
		Runtime:           rt,
		MappingsHaveSizes: true,
		Mappings: []procself.Mapping{{Start: 0xc000000000, End: 0xc000000000 + uintptr(committed), Perms: procself.PermRead | procself.PermWrite,
			RssBytes: committed - returned}},
		HeapAfterMappings: HeapRecheck{Read: true, FreeBytes: rt.HeapFreeBytes - returned, ReleasedBytes: rt.HeapReleasedBytes + returned},
	}
	labels := []mappingLabel{{class: ClassGoHeap, name: "(go arena)"}}
	r := attribute(s, labels, &ArenaCheck{OK: true})
	want := map[string]uint64{
		CategoryGoHeapObjects: 100 * mb,
		CategoryGoHeapUnused:  10 * mb,
		CategoryGoHeapFree:    20 * mb,
		CategoryGoStacks:      4 * mb,
	}
	for name, b := range want {
		if got := r.Category(name); got != b {
			t.Errorf("%s = %s, want %s", name, mib(got), mib(b))
		}
	}
	if r.ScavengedWhileReadBytes != returned {
		t.Errorf("scavenged_while_read_bytes = %d, want %d", r.ScavengedWhileReadBytes, returned)
	}
	if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "raced the scavenger") }) {
		t.Errorf("no note that the report raced the scavenger: %q", r.Notes)
	}

	// A shortfall larger than the free heap: the rest comes from the others, in proportion.
	s.Mappings[0].RssBytes = committed - 60*mb - 57*mb
	r = attribute(s, labels, &ArenaCheck{OK: true})
	if r.Category(CategoryGoHeapFree) != 0 {
		t.Errorf("go_heap_free = %s with a shortfall larger than it, want 0", mib(r.Category(CategoryGoHeapFree)))
	}
	if got := r.Category(CategoryGoHeapObjects); got != 50*mb {
		t.Errorf("go_heap_objects = %s, want half of 100 MiB (57 of 114 MiB in use short)", mib(got))
	}

	// Nothing changed while smaps was read: no note, no figure.
	s.Mappings[0].RssBytes = committed
	s.HeapAfterMappings = HeapRecheck{Read: true, FreeBytes: rt.HeapFreeBytes, ReleasedBytes: rt.HeapReleasedBytes}
	r = attribute(s, labels, &ArenaCheck{OK: true})
	if r.ScavengedWhileReadBytes != 0 || slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "scavenger") }) {
		t.Errorf("a quiet read says it raced the scavenger: %d, %q", r.ScavengedWhileReadBytes, r.Notes)
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }
