package procself

import (
	"bytes"
	"fmt"
	"sync"
)

// CgroupLocator finds the process's memory cgroup ([FS.CgroupLocation]) and keeps the answer: it
// resolves again only when <root>/proc/<pid>/cgroup reads differently, which is what changes
// when the process moves to another cgroup. Resolving parses mountinfo and allocates tens of
// kilobytes; comparing the cgroup file is one small read into a kept buffer.
//
// A failed resolution is not kept: the next Locate tries again, so a hierarchy mounted later is
// found. A cgroup that is moved or removed without the process changing cgroup (a remount) is
// not noticed until the files read from the kept location fail; callers that see that call
// Forget. It is safe for concurrent use.
type CgroupLocator struct {
	fs FS

	mu    sync.Mutex
	buf   []byte // the cgroup file as last read
	prev  []byte // the cgroup file the kept location was resolved from
	loc   CgroupLocation
	valid bool
}

// NewCgroupLocator returns a locator over fs. It reads nothing.
func (fs FS) NewCgroupLocator() *CgroupLocator { return &CgroupLocator{fs: fs} }

// Locate returns the memory cgroup's location: the kept one when the process's cgroup file is
// unchanged since it was resolved, else a fresh [FS.CgroupLocation].
func (l *CgroupLocator) Locate() (CgroupLocation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !supported {
		return CgroupLocation{}, fmt.Errorf("%s: %w", l.fs.ProcPath("cgroup"), errUnsupported)
	}
	b, _, err := readFileInto(l.fs.ProcPath("cgroup"), l.buf, 0)
	if err == nil {
		l.buf = b
	}
	if err == nil && l.valid && bytes.Equal(b, l.prev) {
		return l.loc, nil
	}
	// Unreadable or changed: resolve from scratch, which reports any error in full.
	l.valid = false
	loc, rerr := l.fs.CgroupLocation()
	if rerr != nil {
		return CgroupLocation{}, rerr
	}
	if err == nil {
		l.prev = append(l.prev[:0], b...)
		l.loc, l.valid = loc, true
	}
	return loc, nil
}

// Forget drops the kept location: the next Locate resolves again.
func (l *CgroupLocator) Forget() {
	l.mu.Lock()
	l.valid = false
	l.mu.Unlock()
}

// CgroupMemoryAt reads every memory controller file of the cgroup at loc (as [FS.CgroupMemory]
// does after finding it), for a caller that keeps the location: a [CgroupLocator]'s.
func (fs FS) CgroupMemoryAt(loc CgroupLocation) (CgroupMemory, error) {
	return fs.readCgroupMemory(loc)
}

// NewCgroupMemoryReader is [FS.NewCgroupMemoryReader] through the locator: the reader's Refresh
// takes the kept location when the process has not changed cgroup, so a tick's reader and a full read
// resolve the cgroup once between them. A reader whose files fail should be refreshed after
// Forget, in case the cgroup went away without the process moving.
func (l *CgroupLocator) NewCgroupMemoryReader() (*CgroupMemoryReader, error) {
	if !supported {
		return nil, fmt.Errorf("%s: %w", l.fs.ProcPath("cgroup"), errUnsupported)
	}
	r := &CgroupMemoryReader{fs: l.fs, statBuf: make([]byte, cgroupReadBufBytes), locator: l}
	if err := r.Refresh(); err != nil {
		return nil, err
	}
	return r, nil
}
