package runtimediag

import (
	"context"
	"runtime"
	"testing"
)

// TestFullSnapshotFromRecordedRoot reads a full snapshot from files recorded from a real process
// (procself/testdata/proc-small): the sources that were recorded are read from the fixture, not
// from this process, and the ones that were not say so by name.
func TestFullSnapshotFromRecordedRoot(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the /proc readers are Linux-only")
	}
	c, err := NewCollector(WithRoot("../procself/testdata/proc-small"), WithFullSources(FullSources|Set(SourceSmapsRollup)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := c.Full(context.Background())
	for _, src := range []Source{SourceStatm, SourceStatus, SourceStat, SourceLimits, SourceSmapsRollup, SourceIdentity, SourceFDs} {
		if err := s.Err(src); err != nil {
			t.Errorf("%v from the fixture: %v", src, err)
		}
	}
	if s.Statm.ResidentBytes == 0 || s.Statm.ResidentBytes != s.Status.VmRSSBytes {
		t.Errorf("statm resident %d, status VmRSS %d: want the recorded, equal values", s.Statm.ResidentBytes, s.Status.VmRSSBytes)
	}
	if s.Identity.Exe != "/tmp/rec/rec" {
		t.Errorf("exe = %q, want the recorded /tmp/rec/rec", s.Identity.Exe)
	}
	if s.SmapsRollup.RssBytes == 0 {
		t.Error("smaps_rollup not read from the fixture")
	}
	for _, src := range []Source{SourceSmaps, SourceMaps, SourceAuxv, SourceThreads} {
		se := &SourceError{Source: src, Err: s.Err(src)}
		if se.Err == nil || se.Reason() != "no such file" {
			t.Errorf("%v: got %v, want a 'no such file' reason (not recorded in this fixture)", src, se.Err)
		}
	}
	if s.Runtime.TotalBytes == 0 {
		t.Error("the runtime sources must still describe this process")
	}
}
