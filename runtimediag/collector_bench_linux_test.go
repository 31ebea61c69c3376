//go:build linux

package runtimediag

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
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
// ns/op it reports the mappings seen, the smaps source's own cost (read and parse), and the cost
// of just reading smaps' bytes from the kernel in the same state, so that our parsing share is
// (smaps-ns − kernel-smaps-ns) ÷ smaps-ns.
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
			var smapsNs, kernelNs float64
			b.ReportAllocs()
			for b.Loop() {
				c.Read(ctx, &s, FullSources)
				smapsNs += float64(s.Cost(SourceSmaps).Nanoseconds())
			}
			b.StopTimer()
			const kernelReads = 5
			for range kernelReads {
				kernelNs += float64(readSmapsBytes(b).Nanoseconds())
			}
			b.ReportMetric(float64(len(s.Mappings)), "mappings")
			b.ReportMetric(float64(s.Statm.ResidentBytes)/(1<<20), "resident-MiB")
			b.ReportMetric(smapsNs/float64(b.N), "smaps-ns/op")
			b.ReportMetric(kernelNs/kernelReads, "kernel-smaps-ns/op")
		})
	}
}

// readSmapsBytes is the kernel's share of a smaps read: the bytes, without parsing them.
func readSmapsBytes(b *testing.B) time.Duration {
	start := time.Now()
	if _, err := os.ReadFile("/proc/self/smaps"); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
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
