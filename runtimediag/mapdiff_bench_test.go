package runtimediag

import (
	"fmt"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// benchTables builds two tables of n mappings each, as a process with many mappings has them:
// thread stacks with their guards, glibc arenas, malloc mmaps, files and Go's heap, with a
// change every tenth mapping between the two (grown, resident bytes changed, one replaced).
func benchTables(n int) (old, cur []ClassifiedMapping) {
	kinds := []struct {
		class MappingClass
		name  string
		pages uint64
	}{
		{rssattr.ClassThreadStack, nameThreadGuard, 1}, {rssattr.ClassThreadStack, nameThreadStack, 2048},
		{rssattr.ClassCHeap, nameGlibcArena, 512}, {rssattr.ClassCHeap, "(malloc mmap)", 64},
		{rssattr.ClassFileMapping, "/var/lib/app/data.db", 256}, {rssattr.ClassAnonymous, "", 16},
		{rssattr.ClassGoHeap, "(go arena)", 1024}, {rssattr.ClassSharedLibrary, "/lib/libc.so.6", 32},
	}
	addr := uintptr(1 << 32)
	for i := range n {
		k := kinds[i%len(kinds)]
		size := uintptr(k.pages * 4096)
		m := ClassifiedMapping{Start: addr, End: addr + size, SizeBytes: uint64(size), RssBytes: uint64(size) / 2, Class: k.class, Name: k.name}
		old = append(old, m)
		switch i % 10 {
		case 3:
			m.RssBytes = uint64(size)
		case 7:
			m.Class = rssattr.ClassOtherAnonymous
		}
		cur = append(cur, m)
		addr += size + 4096 // a hole between mappings: no two merge
	}
	return old, cur
}

// BenchmarkDiffMappings is the diff of two full readings' tables at 100 and 10,000 mappings.
func BenchmarkDiffMappings(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("mappings=%d", n), func(b *testing.B) {
			old, cur := benchTables(n)
			var d mapDiffer
			var dst []MappingChange
			at := time.Unix(1700000000, 0)
			b.ReportAllocs()
			for b.Loop() {
				dst = d.diff(dst[:0], old, cur, at, mappingChangeMinBytes)
			}
			b.ReportMetric(float64(len(dst)), "changes")
		})
	}
}

// BenchmarkMappingSourceSample is one scheduled reading of the mapping source at 100 and 10,000
// mappings: the diff, the timeline, five series and their trend tests (full series of
// trend.MaxPoints readings), and the suspects.
func BenchmarkMappingSourceSample(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("mappings=%d", n), func(b *testing.B) {
			old, cur := benchTables(n)
			ro, rc := rssOfMappings(old), rssOfMappings(cur)
			s := newMappingSource()
			t0 := time.Unix(1700000000, 0)
			i := 0
			for ; i < 2*128; i++ {
				if i%2 == 0 {
					s.sample(t0.Add(time.Duration(i)*time.Second), old, &ro)
				} else {
					s.sample(t0.Add(time.Duration(i)*time.Second), cur, &rc)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				i++
				if i%2 == 0 {
					s.sample(t0.Add(time.Duration(i)*time.Second), old, &ro)
				} else {
					s.sample(t0.Add(time.Duration(i)*time.Second), cur, &rc)
				}
			}
		})
	}
}
