package procself

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// FDKind is what an open file descriptor refers to, judged from its /proc/<pid>/fd link target.
type FDKind string

const (
	FDFile      FDKind = "file"       // a path on a filesystem, including /dev/shm and other tmpfs files
	FDSocket    FDKind = "socket"     // socket:[inode]
	FDPipe      FDKind = "pipe"       // pipe:[inode], either end
	FDAnonInode FDKind = "anon_inode" // anon_inode:[eventpoll], [eventfd], [timerfd], [pidfd], [io_uring], inotify, …
	FDDevice    FDKind = "device"     // a path under /dev other than /dev/shm and /dev/mqueue
	FDMemfd     FDKind = "memfd"      // /memfd:name (deleted): anonymous memory with a file descriptor
	FDOther     FDKind = "other"      // anything else: namespaces (net:[…]), an unreadable link
)

// DefaultMaxFDTargets is how many descriptor targets [FS.FDs] inspects when given 0.
const DefaultMaxFDTargets = 4096

// FDTarget is one open descriptor and what it points to.
type FDTarget struct {
	FD     int
	Target string // the link target as ls -l /proc/<pid>/fd shows it
	Kind   FDKind
	// AnonType is the anon_inode type as the kernel names it ("[eventpoll]", "[eventfd]", "inotify");
	// empty for other kinds.
	AnonType string
	// Deleted is true when the target ends in " (deleted)": a file unlinked while open, which keeps
	// its disk space (and, for memfd or tmpfs, its memory) until closed. A file whose real name ends
	// in " (deleted)" reads the same; the kernel does not tell them apart.
	Deleted bool
}

// FDs is the process's open file descriptors.
//
// Security: Targets hold file paths the process has open, as ls -l /proc/<pid>/fd shows them to
// anyone with the same access; they can reveal directory layout, user names and temporary file names.
// Anything serving FDs to a network client must treat them as it treats the command line.
type FDs struct {
	// Count is the number of open descriptors. On kernels before 6.2 it is found by listing the
	// directory, and may include the descriptor used to list it.
	Count int
	// Targets are the inspected descriptors, sorted by number: all of them unless Truncated.
	Targets []FDTarget
	// ByKind counts Targets by kind; every FDKind has an entry, possibly 0.
	ByKind map[FDKind]int
	// AnonInodes counts anon_inode targets by AnonType.
	AnonInodes map[string]int
	// Truncated is true when the process had more descriptors than the limit given to [FS.FDs], so
	// Targets, ByKind and AnonInodes describe only the first ones listed: the lowest-numbered, as
	// /proc lists them in ascending order.
	Truncated bool
}

// FDs counts the process's open descriptors and reads up to maxTargets of their link targets (0 means
// [DefaultMaxFDTargets]). Each target is one readlink system call, so the bound is on time as well as
// memory: ~1 µs per descriptor. Descriptors closed while it runs are left out.
func (fs FS) FDs(maxTargets int) (FDs, error) {
	dir := fs.ProcPath("fd")
	if !supported {
		return FDs{}, fmt.Errorf("%s: %w", dir, errUnsupported)
	}
	if maxTargets <= 0 {
		maxTargets = DefaultMaxFDTargets
	}
	p, err := fs.procfs()
	if err != nil {
		return FDs{}, err
	}
	// procfs's count uses the size of the fd directory on Linux 6.2+, which is O(1) however many
	// descriptors are open.
	count, err := p.FileDescriptorsLen()
	if err != nil {
		return FDs{}, fmt.Errorf("count descriptors: %w", err)
	}
	names, truncated, err := listFDNames(dir, maxTargets)
	if err != nil {
		return FDs{}, err
	}
	out := FDs{
		Count:      count,
		Targets:    make([]FDTarget, 0, len(names)),
		ByKind:     make(map[FDKind]int, 7),
		AnonInodes: make(map[string]int),
		Truncated:  truncated,
	}
	for _, k := range []FDKind{FDFile, FDSocket, FDPipe, FDAnonInode, FDDevice, FDMemfd, FDOther} {
		out.ByKind[k] = 0
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < 0 {
			return FDs{}, fmt.Errorf("%s: unexpected entry %q", dir, name)
		}
		target, err := os.Readlink(dir + string(os.PathSeparator) + name)
		switch {
		case errors.Is(err, iofs.ErrNotExist):
			continue // closed since the listing, such as the one listFDNames listed with
		case err != nil:
			return FDs{}, err // *fs.PathError names the link
		}
		t := classifyFDTarget(fd, target)
		out.Targets = append(out.Targets, t)
		out.ByKind[t.Kind]++
		if t.Kind == FDAnonInode {
			out.AnonInodes[t.AnonType]++
		}
	}
	slices.SortFunc(out.Targets, func(a, b FDTarget) int { return a.FD - b.FD })
	return out, nil
}

// listFDNames lists up to max entries of the fd directory and closes it before any link is read, so
// its own descriptor is gone (and skipped as closed) by then.
func listFDNames(dir string, max int) (names []string, truncated bool, err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	defer d.Close()
	names, err = d.Readdirnames(max + 1)
	if err != nil && len(names) == 0 {
		return nil, false, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(names) > max {
		// /proc lists descriptors in ascending order, so these are the lowest-numbered.
		return names[:max], true, nil
	}
	return names, false, nil
}

// classifyFDTarget sorts a link target into an FDKind.
func classifyFDTarget(fd int, target string) FDTarget {
	t := FDTarget{FD: fd, Target: target, Kind: FDOther}
	path, deleted := strings.CutSuffix(target, " (deleted)")
	t.Deleted = deleted
	switch {
	case strings.HasPrefix(target, "socket:["):
		t.Kind = FDSocket
	case strings.HasPrefix(target, "pipe:["):
		t.Kind = FDPipe
	case strings.HasPrefix(target, "anon_inode:"):
		t.Kind, t.AnonType = FDAnonInode, strings.TrimPrefix(target, "anon_inode:")
	case strings.HasPrefix(path, "/memfd:"):
		t.Kind = FDMemfd
	case strings.HasPrefix(path, "/dev/shm/"), strings.HasPrefix(path, "/dev/mqueue/"):
		t.Kind = FDFile // tmpfs and mqueue files, not devices: they hold memory, not a driver
	case strings.HasPrefix(path, "/dev/"):
		t.Kind = FDDevice
	case strings.HasPrefix(path, "/"):
		t.Kind = FDFile
	}
	return t
}
