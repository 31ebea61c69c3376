package runtimediag

import "github.com/memdiag/memdiag/runtimediag/rssattr"

// The RSS attribution itself (the heap arena locator, the mapping classifier, the categories and
// how each is measured) is package rssattr; the report carries its result under these names.

// RSS is where the process's resident memory is: categories that, with UnexplainedBytes, sum
// exactly to ResidentBytes. It is the report's "rss" value.
type RSS = rssattr.RSS

// RSSCategory is one category's resident bytes and how they were measured.
type RSSCategory = rssattr.RSSCategory

// AddressRange is a half-open range of addresses.
type AddressRange = rssattr.AddressRange

// ArenaCheck compares the committed size of the Go heap arenas found with what runtime/metrics
// says the heap has mapped.
type ArenaCheck = rssattr.ArenaCheck

// ClassifiedMapping is one row of the per-mapping table.
type ClassifiedMapping = rssattr.ClassifiedMapping

// MappingClass is what a mapping holds.
type MappingClass = rssattr.MappingClass

// HeapRecheck is a second reading of the heap's free and released bytes (Snapshot.HeapAfterMappings).
type HeapRecheck = rssattr.HeapRecheck

// The RSS categories: the report's JSON contract (docs/rss-categories.md).
const (
	CategoryGoHeapObjects   = rssattr.CategoryGoHeapObjects
	CategoryGoHeapUnused    = rssattr.CategoryGoHeapUnused
	CategoryGoHeapFree      = rssattr.CategoryGoHeapFree
	CategoryGoStacks        = rssattr.CategoryGoStacks
	CategoryGoRuntime       = rssattr.CategoryGoRuntime
	CategoryThreadStacks    = rssattr.CategoryThreadStacks
	CategoryCHeap           = rssattr.CategoryCHeap
	CategoryBinary          = rssattr.CategoryBinary
	CategorySharedLibraries = rssattr.CategorySharedLibraries
	CategoryFileMappings    = rssattr.CategoryFileMappings
	CategorySharedMemory    = rssattr.CategorySharedMemory
	CategoryOtherAnonymous  = rssattr.CategoryOtherAnonymous
	CategoryKernel          = rssattr.CategoryKernel
)

// How a category's bytes were measured (RSSCategory.Method).
const (
	MethodSmaps        = rssattr.MethodSmaps
	MethodRuntimeShare = rssattr.MethodRuntimeShare
	MethodEstimate     = rssattr.MethodEstimate
	MethodNotMeasured  = rssattr.MethodNotMeasured
)

// Tiers of an RSS attribution (RSS.Tier).
const (
	TierFull  = rssattr.TierFull
	TierCheap = rssattr.TierCheap
)

// RSSCategoryNames lists every category name in report order.
func RSSCategoryNames() []string { return rssattr.CategoryNames() }

// rssReading is what the attribution reads of a full snapshot.
func rssReading(s *Snapshot) rssattr.Reading {
	r := rssCheapReading(s)
	r.StatmRead = s.Has(SourceStatm)
	r.Exe = s.Identity.Exe
	r.Mappings = s.Mappings
	r.MappingsHaveSizes = s.MappingsHaveSizes
	r.SmapsErr = s.Err(SourceSmaps)
	r.HeapAfterMappings = s.HeapAfterMappings
	return r
}

// rssCheapReading is what the attribution's estimate reads of a snapshot: a few words, so that
// the Monitor's summary line can take a copy from the tick without copying the whole Snapshot.
func rssCheapReading(s *Snapshot) rssattr.Reading {
	rt := &s.Runtime
	return rssattr.Reading{
		Time:          s.Time,
		ResidentBytes: s.Statm.ResidentBytes,
		SharedBytes:   s.Statm.SharedBytes,
		Runtime: rssattr.Runtime{
			HeapObjectsBytes:   rt.HeapObjectsBytes,
			HeapUnusedBytes:    rt.HeapUnusedBytes,
			HeapFreeBytes:      rt.HeapFreeBytes,
			HeapStacksBytes:    rt.HeapStacksBytes,
			HeapReleasedBytes:  rt.HeapReleasedBytes,
			GoRuntimeBytes:     rt.GoRuntimeBytes(),
			OSStacksBytes:      rt.OSStacksBytes,
			MetadataOtherBytes: rt.MetadataOtherBytes,
		},
	}
}
