package runtimediag

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

const dmib = 1 << 20

// cm is a classified mapping of a fixture: [start, end) in MiB from 1 GiB up, of a class and
// name, with rss MiB resident.
func cm(start, end uint64, class MappingClass, name string, rss uint64) ClassifiedMapping {
	const base = 1 << 30
	return ClassifiedMapping{Start: uintptr(base + start*dmib), End: uintptr(base + end*dmib), SizeBytes: (end - start) * dmib,
		RssBytes: rss * dmib, Class: class, Name: name}
}

// chg is the change a fixture expects, addresses and sizes in MiB as for cm.
func chg(kind string, class MappingClass, name string, start, end, sizeBefore, sizeAfter, rssBefore, rssAfter uint64, nBefore, nAfter int) MappingChange {
	const base = 1 << 30
	return MappingChange{Change: kind, Class: class, Category: class.Category(), Name: name,
		Start: uintptr(base + start*dmib), End: uintptr(base + end*dmib),
		SizeBeforeBytes: sizeBefore * dmib, SizeAfterBytes: sizeAfter * dmib, RssBeforeBytes: rssBefore * dmib, RssAfterBytes: rssAfter * dmib,
		MappingsBefore: nBefore, MappingsAfter: nAfter}
}

// guardAt and stackAt make a pthread stack of 8 MiB above a guard (the guard is 1 MiB here so
// the fixture stays in whole MiB; the classifier's names are what matter).
func threadAt(start uint64, rss uint64) []ClassifiedMapping {
	return []ClassifiedMapping{
		cm(start, start+1, rssattr.ClassThreadStack, nameThreadGuard, 0),
		cm(start+1, start+9, rssattr.ClassThreadStack, nameThreadStack, rss),
	}
}

func TestDiffMappings(t *testing.T) {
	file := "/var/lib/app/data.db"
	cases := []struct {
		name     string
		old, cur []ClassifiedMapping
		want     []MappingChange
	}{
		{name: "identical tables: no change",
			old: []ClassifiedMapping{cm(0, 4, rssattr.ClassCHeap, "[heap]", 2), cm(10, 20, rssattr.ClassFileMapping, file, 3)},
			cur: []ClassifiedMapping{cm(0, 4, rssattr.ClassCHeap, "[heap]", 2), cm(10, 20, rssattr.ClassFileMapping, file, 3)},
		},
		{name: "appeared and went away",
			old: []ClassifiedMapping{cm(0, 4, rssattr.ClassCHeap, "[heap]", 2)},
			cur: []ClassifiedMapping{cm(10, 266, rssattr.ClassFileMapping, file, 100)},
			want: []MappingChange{
				chg(MappingWentAway, rssattr.ClassCHeap, "[heap]", 0, 4, 4, 0, 2, 0, 1, 0),
				chg(MappingAppeared, rssattr.ClassFileMapping, file, 10, 266, 0, 256, 0, 100, 0, 1),
			},
		},
		{name: "a grown heap that merged with its neighbour is one region that grew",
			old:  []ClassifiedMapping{cm(0, 4, rssattr.ClassAnonymous, "", 4), cm(6, 8, rssattr.ClassAnonymous, "", 2)},
			cur:  []ClassifiedMapping{cm(0, 8, rssattr.ClassAnonymous, "", 8)},
			want: []MappingChange{chg(MappingGrew, rssattr.ClassAnonymous, "", 0, 8, 6, 8, 6, 8, 2, 1)},
		},
		{name: "a split by mprotect is no change",
			old: []ClassifiedMapping{cm(0, 8, rssattr.ClassCHeap, "(malloc mmap)", 8)},
			cur: []ClassifiedMapping{cm(0, 3, rssattr.ClassCHeap, "(malloc mmap)", 3), cm(3, 8, rssattr.ClassCHeap, "(malloc mmap)", 5)},
		},
		{name: "a glibc heap growing inside its reservation grows by its resident bytes",
			old:  []ClassifiedMapping{cm(64, 66, rssattr.ClassCHeap, nameGlibcArena, 2), cm(66, 128, rssattr.ClassCHeap, nameGlibcArena, 0)},
			cur:  []ClassifiedMapping{cm(64, 90, rssattr.ClassCHeap, nameGlibcArena, 26), cm(90, 128, rssattr.ClassCHeap, nameGlibcArena, 0)},
			want: []MappingChange{chg(MappingGrew, rssattr.ClassCHeap, nameGlibcArena, 64, 128, 64, 64, 2, 26, 2, 2)},
		},
		{name: "adjacent glibc arenas stay apart: +2 arenas",
			old: []ClassifiedMapping{cm(64, 65, rssattr.ClassCHeap, nameGlibcArena, 1), cm(65, 128, rssattr.ClassCHeap, nameGlibcArena, 0)},
			cur: []ClassifiedMapping{
				cm(64, 65, rssattr.ClassCHeap, nameGlibcArena, 1), cm(65, 128, rssattr.ClassCHeap, nameGlibcArena, 0),
				cm(128, 130, rssattr.ClassCHeap, nameGlibcArena, 2), cm(130, 192, rssattr.ClassCHeap, nameGlibcArena, 0),
				cm(192, 194, rssattr.ClassCHeap, nameGlibcArena, 2), cm(194, 256, rssattr.ClassCHeap, nameGlibcArena, 0)},
			want: []MappingChange{
				chg(MappingAppeared, rssattr.ClassCHeap, nameGlibcArena, 128, 192, 0, 64, 0, 2, 0, 2),
				chg(MappingAppeared, rssattr.ClassCHeap, nameGlibcArena, 192, 256, 0, 64, 0, 2, 0, 2),
			},
		},
		{name: "adjacent thread stacks stay apart: +2 stacks, each with its guard",
			old: threadAt(100, 1),
			cur: slices.Concat(threadAt(82, 1), threadAt(91, 1), threadAt(100, 1)),
			want: []MappingChange{
				chg(MappingAppeared, rssattr.ClassThreadStack, nameThreadStack, 82, 91, 0, 9, 0, 1, 0, 2),
				chg(MappingAppeared, rssattr.ClassThreadStack, nameThreadStack, 91, 100, 0, 9, 0, 1, 0, 2),
			},
		},
		{name: "a thread that exited: its stack went away",
			old:  slices.Concat(threadAt(91, 1), threadAt(100, 1)),
			cur:  threadAt(100, 1),
			want: []MappingChange{chg(MappingWentAway, rssattr.ClassThreadStack, nameThreadStack, 91, 100, 9, 0, 1, 0, 2, 0)},
		},
		{name: "a file remapped larger at the same place grew",
			old:  []ClassifiedMapping{cm(10, 74, rssattr.ClassFileMapping, file, 64)},
			cur:  []ClassifiedMapping{cm(10, 266, rssattr.ClassFileMapping, file, 256)},
			want: []MappingChange{chg(MappingGrew, rssattr.ClassFileMapping, file, 10, 266, 64, 256, 64, 256, 1, 1)},
		},
		{name: "shrank",
			old:  []ClassifiedMapping{cm(0, 32, rssattr.ClassCHeap, "[heap]", 30)},
			cur:  []ClassifiedMapping{cm(0, 8, rssattr.ClassCHeap, "[heap]", 8)},
			want: []MappingChange{chg(MappingShrank, rssattr.ClassCHeap, "[heap]", 0, 8, 32, 8, 30, 8, 1, 1)},
		},
		{name: "resident noise under the threshold is no change",
			old: []ClassifiedMapping{cm(0, 32, rssattr.ClassOtherAnonymous, "", 10)},
			cur: []ClassifiedMapping{cm(0, 32, rssattr.ClassOtherAnonymous, "", 11)},
		},
		{name: "a class change at the same address: one went away, one appeared",
			old: []ClassifiedMapping{cm(0, 32, rssattr.ClassAnonymous, "", 10)},
			cur: []ClassifiedMapping{cm(0, 32, rssattr.ClassCHeap, "(malloc mmap)", 10)},
			want: []MappingChange{
				chg(MappingAppeared, rssattr.ClassCHeap, "(malloc mmap)", 0, 32, 0, 32, 0, 10, 0, 1),
				chg(MappingWentAway, rssattr.ClassAnonymous, "", 0, 32, 32, 0, 10, 0, 1, 0),
			},
		},
		{name: "a chain of merges and splits is one component",
			old: []ClassifiedMapping{cm(0, 2, rssattr.ClassCHeap, "(malloc mmap)", 2), cm(3, 5, rssattr.ClassCHeap, "(malloc mmap)", 2), cm(6, 9, rssattr.ClassCHeap, "(malloc mmap)", 3)},
			cur: []ClassifiedMapping{cm(1, 7, rssattr.ClassCHeap, "(malloc mmap)", 6), cm(7, 8, rssattr.ClassOtherAnonymous, "[anon: x]", 1), cm(8, 12, rssattr.ClassCHeap, "(malloc mmap)", 4)},
			want: []MappingChange{
				chg(MappingGrew, rssattr.ClassCHeap, "(malloc mmap)", 1, 12, 7, 10, 7, 10, 3, 2),
				chg(MappingAppeared, rssattr.ClassOtherAnonymous, "[anon: x]", 7, 8, 0, 1, 0, 1, 0, 1),
			},
		},
	}
	at := time.Unix(1700000000, 0).UTC()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := DiffMappings(c.old, c.cur, at, 4*dmib)
			for i := range c.want {
				c.want[i].Time = at
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			checkDiffInvariants(t, c.old, c.cur, got)
		})
	}
}

// checkDiffInvariants holds for any two tables: the size deltas add up to the tables' difference
// (a region whose size did not change adds nothing), and every change is well formed.
func checkDiffInvariants(t *testing.T, old, cur []ClassifiedMapping, got []MappingChange) {
	t.Helper()
	var total int64
	for _, m := range cur {
		total += int64(m.SizeBytes)
	}
	for _, m := range old {
		total -= int64(m.SizeBytes)
	}
	var sum int64
	nb, na := 0, 0
	for i := range got {
		c := &got[i]
		sum += c.SizeDeltaBytes()
		nb += c.MappingsBefore
		na += c.MappingsAfter
		if c.Start >= c.End {
			t.Errorf("change %d: empty range %#x-%#x", i, c.Start, c.End)
		}
		switch c.Change {
		case MappingAppeared:
			if c.SizeBeforeBytes != 0 || c.MappingsBefore != 0 || c.MappingsAfter == 0 {
				t.Errorf("change %d appeared with something before: %+v", i, *c)
			}
		case MappingWentAway:
			if c.SizeAfterBytes != 0 || c.MappingsAfter != 0 || c.MappingsBefore == 0 {
				t.Errorf("change %d went away with something after: %+v", i, *c)
			}
		case MappingGrew:
			if c.SizeAfterBytes < c.SizeBeforeBytes || c.SizeAfterBytes == c.SizeBeforeBytes && c.RssAfterBytes <= c.RssBeforeBytes {
				t.Errorf("change %d grew without growing: %+v", i, *c)
			}
		case MappingShrank:
			if c.SizeAfterBytes > c.SizeBeforeBytes || c.SizeAfterBytes == c.SizeBeforeBytes && c.RssAfterBytes >= c.RssBeforeBytes {
				t.Errorf("change %d shrank without shrinking: %+v", i, *c)
			}
		default:
			t.Errorf("change %d: unknown kind %q", i, c.Change)
		}
		if i > 0 && got[i-1].Start > c.Start {
			t.Errorf("changes out of address order at %d", i)
		}
	}
	if sum != total {
		t.Errorf("size deltas sum to %d, the tables differ by %d", sum, total)
	}
	if nb > len(old) || na > len(cur) {
		t.Errorf("changes count %d old and %d new mappings of %d and %d", nb, na, len(old), len(cur))
	}
}

// fuzzTable reads a mapping table from b: per mapping, a gap and a length in pages, a class and
// a name (each from a short list), and resident pages up to the length.
func fuzzTable(b []byte) []ClassifiedMapping {
	classes := []MappingClass{rssattr.ClassCHeap, rssattr.ClassThreadStack, rssattr.ClassFileMapping, rssattr.ClassAnonymous, rssattr.ClassGoHeap}
	names := []string{"", nameThreadGuard, nameThreadStack, nameGlibcArena, "/f"}
	var ms []ClassifiedMapping
	addr := uint64(1 << 30)
	for len(b) >= 4 && len(ms) < 512 {
		gap, n := uint64(b[0]%4), uint64(b[1]%64)+1
		if b[0]&0x80 != 0 {
			// Jump to the next 64 MiB boundary now and then, where arenas start.
			addr = (addr + glibcHeapMaxBytes) &^ (glibcHeapMaxBytes - 1)
			gap = 0
		}
		start := addr + gap*4096
		end := start + n*4096
		rss := uint64(b[3]) % (n + 1) * 4096
		ms = append(ms, ClassifiedMapping{Start: uintptr(start), End: uintptr(end), SizeBytes: end - start, RssBytes: rss,
			Class: classes[int(b[2]&0x0f)%len(classes)], Name: names[int(b[2]>>4)%len(names)]})
		addr = end
		b = b[4:]
	}
	return ms
}

// FuzzMapDiff diffs two arbitrary tables: the diff holds its invariants, a table diffed with
// itself has no change, and the reverse diff swaps appeared with went away.
func FuzzMapDiff(f *testing.F) {
	f.Add([]byte{0, 3, 0, 1, 1, 7, 1, 2}, []byte{0, 9, 0, 3})
	f.Add([]byte{0x80, 0, 0x30, 0, 0, 62, 0x30, 0}, []byte{0x80, 20, 0x30, 20, 0, 42, 0x30, 0, 0, 0, 0x30, 0})
	f.Add([]byte{0, 0, 0x11, 0, 0, 7, 0x21, 3, 0, 0, 0x11, 0, 0, 7, 0x21, 3}, []byte{0, 7, 0x21, 3})
	f.Add(binary.LittleEndian.AppendUint64(nil, 0xdeadbeef), []byte{})
	var d mapDiffer
	f.Fuzz(func(t *testing.T, a, b []byte) {
		old, cur := fuzzTable(a), fuzzTable(b)
		at := time.Unix(1, 0)
		got := d.diff(nil, old, cur, at, 0)
		checkDiffInvariants(t, old, cur, got)
		if same := d.diff(nil, cur, cur, at, 0); len(same) != 0 {
			t.Fatalf("a table diffed with itself has %d changes: %+v", len(same), same)
		}
		back := d.diff(nil, cur, old, at, 0)
		count := func(cs []MappingChange, kind string) int {
			n := 0
			for i := range cs {
				if cs[i].Change == kind {
					n++
				}
			}
			return n
		}
		if count(got, MappingAppeared) != count(back, MappingWentAway) || count(got, MappingGrew) != count(back, MappingShrank) {
			t.Fatalf("forward: %d appeared, %d grew; backward: %d went away, %d shrank", count(got, MappingAppeared), count(got, MappingGrew), count(back, MappingWentAway), count(back, MappingShrank))
		}
		if len(got) != len(back) {
			t.Fatalf("forward has %d changes, backward %d", len(got), len(back))
		}
	})
}
