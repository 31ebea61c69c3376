//go:build linux

package runtimediag

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
)

// BenchmarkCheap is the periodic read. Target: ≤ 20 µs and 0 allocs/op on a 2-core machine.
func BenchmarkCheap(b *testing.B) {
	c, err := NewCollector()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var s Snapshot
	c.ReadCheap(&s)
	b.ReportAllocs()
	for b.Loop() {
		c.ReadCheap(&s)
	}
}

// BenchmarkCheapSources splits the cheap read into its sources, so a regression names its source.
func BenchmarkCheapSources(b *testing.B) {
	for _, src := range CheapSources.Sources() {
		b.Run(src.String(), func(b *testing.B) {
			c, err := NewCollector()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var s Snapshot
			set := Set(src)
			c.Read(context.Background(), &s, set)
			if err := s.Err(src); err != nil {
				b.Skip(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.Read(context.Background(), &s, set)
			}
		})
	}
}

// BenchmarkFull is the full snapshot as the number of mappings and resident memory grow. Besides
// ns/op it reports the mappings seen, the smaps source's own cost, and that cost split, in the
// same reads, into reading the file (the kernel's page-table walk and formatting: smaps-read-ns)
// and parsing it (smaps-parse-ns), as the collector's smaps reader times them. parse-share-% is
// parsing's share of the smaps source; parse-of-full-% its share of the whole snapshot.
func BenchmarkFull(b *testing.B) {
	cases := []struct {
		name     string
		mappings int
		resident int
	}{
		{"baseline", 0, 0},
		{"mappings=1000", 1000, 0},
		{"mappings=10000", 10000, 0},
		{"resident=10MiB", 0, 10 << 20},
		{"resident=1GiB", 0, 1 << 30},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if tc.resident >= 1<<30 && testing.Short() {
				b.Skip("1 GiB resident is skipped in -short mode")
			}
			mapMany(b, tc.mappings)
			mapResident(b, tc.resident)
			c, err := NewCollector()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			var s Snapshot
			c.Read(ctx, &s, FullSources)
			if err := s.Err(SourceSmaps); err != nil {
				b.Fatal(err)
			}
			var fullNs, smapsNs, readNs, parseNs, syscalls float64
			b.ReportAllocs()
			for b.Loop() {
				c.Read(ctx, &s, FullSources)
				st := c.smaps.Stats()
				fullNs += float64(s.Duration.Nanoseconds())
				smapsNs += float64(s.Cost(SourceSmaps).Nanoseconds())
				readNs += float64(st.ReadTime.Nanoseconds())
				parseNs += float64(st.ParseTime.Nanoseconds())
				syscalls += float64(st.Syscalls)
			}
			n := float64(b.N)
			b.ReportMetric(float64(len(s.Mappings)), "mappings")
			b.ReportMetric(float64(s.Statm.ResidentBytes)/(1<<20), "resident-MiB")
			b.ReportMetric(smapsNs/n, "smaps-ns/op")
			b.ReportMetric(readNs/n, "smaps-read-ns/op")
			b.ReportMetric(parseNs/n, "smaps-parse-ns/op")
			b.ReportMetric(syscalls/n, "smaps-reads/op")
			b.ReportMetric(100*parseNs/(readNs+parseNs), "parse-share-%")
			b.ReportMetric(100*parseNs/fullNs, "parse-of-full-%")
		})
	}
}

// mapMany creates n one-page anonymous mappings that the kernel cannot merge (alternating
// protections), unmapped when the benchmark ends.
func mapMany(b *testing.B, n int) {
	page := os.Getpagesize()
	for i := range n {
		prot := syscall.PROT_READ
		if i%2 == 0 {
			prot |= syscall.PROT_WRITE
		}
		m, err := syscall.Mmap(-1, 0, page, prot, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			b.Fatalf("mmap %d of %d: %v", i, n, err)
		}
		if prot&syscall.PROT_WRITE != 0 {
			m[0] = 1
		}
		b.Cleanup(func() { syscall.Munmap(m) })
	}
}

// mapResident maps size bytes and touches every page so that they are resident.
func mapResident(b *testing.B, size int) {
	if size == 0 {
		return
	}
	m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		b.Fatal(fmt.Errorf("mmap %d bytes: %w", size, err))
	}
	for i := 0; i < size; i += os.Getpagesize() {
		m[i] = 1
	}
	b.Cleanup(func() { syscall.Munmap(m) })
}
