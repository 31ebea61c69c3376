package runtimediag

import "context"

// ReadSnapshot reads the given sources now into a new snapshot, with the Monitor's own collector
// options (root, environment allowlist, thread and descriptor bounds), for callers that need raw
// readings the Report does not carry — the HTTP tree's /proc view, for one.
//
// It reads through a collector of its own, not the Monitor's: the Monitor's collector serialises
// its reads, and a caller's full read (threads, descriptors) must not delay a tick. So it opens
// and closes any file it needs on every call; the cheap tier's kept-open files are the Monitor's
// business. ctx cancels the read between sources, and sources not reached say so. Costs are those
// of Collector.Read for the same set; smaps and smaps_rollup walk page tables, so leave them out
// unless they are the point.
func (m *Monitor) ReadSnapshot(ctx context.Context, set SourceSet) (*Snapshot, error) {
	if m.closed() {
		return nil, errMonitorClosed
	}
	c := &Collector{cfg: m.col.cfg, fs: m.col.fs, runtimeErr: m.col.runtimeErr}
	defer c.Close()
	s := new(Snapshot)
	c.Read(ctx, s, set)
	return s, nil
}
