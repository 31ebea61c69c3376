package procself

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/procfs"
)

// CgroupLocation is where the process's memory cgroup lives: which hierarchy, its path as the
// process sees it and the directory holding its memory.* files.
type CgroupLocation struct {
	// Version is 1 when the memory controller is on a cgroup v1 hierarchy (including hybrid hosts,
	// which also mount an empty cgroup2 hierarchy) and 2 on the unified hierarchy.
	Version int
	// Path is the cgroup as /proc/<pid>/cgroup shows it, relative to the reader's cgroup namespace,
	// e.g. /kubepods/burstable/pod1/ctr, or / inside a container with its own cgroup namespace.
	Path string
	// MountPoint is the directory, below the FS root, where the hierarchy holding Path is mounted.
	// It is the top of the hierarchy visible to this process: limits set above it cannot be seen.
	MountPoint string
	// MountRoot is the cgroup mounted at MountPoint, as mountinfo's root field shows it.
	MountRoot string
	// Dir is the directory, below the FS root, holding the memory.* files of Path.
	Dir string
}

// CgroupLocation returns where the process's memory cgroup is, found from <root>/proc/<pid>/cgroup
// and <root>/proc/<pid>/mountinfo; [FS.CgroupMemory] reads what is there. It prefers a cgroup v1 memory hierarchy when the process has one,
// because on hybrid hosts the cgroup2 mount exists but carries no memory controller.
// When neither hierarchy has a memory controller the error wraps [ErrAbsent].
func (fs FS) CgroupLocation() (CgroupLocation, error) {
	p, err := fs.procfs()
	if err != nil {
		return CgroupLocation{}, err
	}
	cgroupPath := fs.ProcPath("cgroup")
	cgroups, err := p.Cgroups()
	if err != nil {
		return CgroupLocation{}, fmt.Errorf("%s: %w", cgroupPath, err)
	}
	mountinfoPath := fs.ProcPath("mountinfo")
	mounts, err := p.MountInfo()
	if err != nil {
		return CgroupLocation{}, fmt.Errorf("%s: %w", mountinfoPath, err)
	}
	loc, err := resolveMemoryCgroup(cgroups, mounts)
	if err != nil {
		return CgroupLocation{}, fmt.Errorf("%s, %s: %w", cgroupPath, mountinfoPath, err)
	}
	loc.MountPoint = fs.hostPath(loc.MountPoint)
	loc.Dir = fs.hostPath(loc.Dir)
	if loc.Version == 2 {
		// A cgroup2 mount exists on every modern host, but the memory controller may be bound to a
		// v1 hierarchy the process is not in, or not enabled in this subtree: only the files tell.
		if !fileExists(filepath.Join(loc.Dir, "memory.stat")) && !fileExists(filepath.Join(loc.Dir, "memory.current")) {
			return CgroupLocation{}, fmt.Errorf("%s: no memory controller in cgroup %s (no memory.current or memory.stat): %w",
				loc.Dir, loc.Path, ErrAbsent)
		}
	}
	return loc, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// errNoMemoryCgroup is wrapped with ErrAbsent: the kernel has no memory controller the process
// can see (CONFIG_MEMCG off, or a hierarchy that is not mounted).
var errNoMemoryCgroup = fmt.Errorf("no memory cgroup: neither a v1 memory hierarchy nor a cgroup2 hierarchy: %w", ErrAbsent)

// resolveMemoryCgroup picks the memory controller's cgroup and the mount that reaches it. Paths in
// the result are not yet joined to an FS root.
func resolveMemoryCgroup(cgroups []procfs.Cgroup, mounts []*procfs.MountInfo) (CgroupLocation, error) {
	var v1, v2 *procfs.Cgroup
	for i := range cgroups {
		c := &cgroups[i]
		switch {
		case slices.Contains(c.Controllers, "memory"):
			v1 = c
		case c.HierarchyID == 0 && len(c.Controllers) == 0:
			v2 = c
		}
	}
	switch {
	case v1 != nil:
		loc, err := findMount(mounts, v1.Path, func(m *procfs.MountInfo) bool {
			_, ok := m.SuperOptions["memory"]
			return m.FSType == "cgroup" && ok
		})
		if err != nil {
			return CgroupLocation{}, fmt.Errorf("memory cgroup %s (v1): %w", v1.Path, err)
		}
		loc.Version = 1
		return loc, nil
	case v2 != nil:
		loc, err := findMount(mounts, v2.Path, func(m *procfs.MountInfo) bool { return m.FSType == "cgroup2" })
		if err != nil {
			if errors.Is(err, errNoMount) {
				return CgroupLocation{}, fmt.Errorf("cgroup %s (v2): %w", v2.Path, errNoMemoryCgroup)
			}
			return CgroupLocation{}, fmt.Errorf("cgroup %s (v2): %w", v2.Path, err)
		}
		loc.Version = 2
		return loc, nil
	}
	return CgroupLocation{}, errNoMemoryCgroup
}

var errNoMount = fmt.Errorf("no mount of its hierarchy: %w", ErrAbsent)

// findMount maps a cgroup path onto the first matching mount whose root contains it, as the Go
// runtime does for the CPU controller (internal/runtime/cgroup): a mount of root /kubepods/x reaches
// cgroup /kubepods/x/y at <mountpoint>/y; a mount of root / reaches everything by its full path.
// Paths beginning with /.. name a cgroup outside the reader's cgroup namespace; only a mount whose
// root also begins with those /.. components can reach them.
func findMount(mounts []*procfs.MountInfo, cgroup string, match func(*procfs.MountInfo) bool) (CgroupLocation, error) {
	cgroup = unescapeMountPath(cgroup)
	unreachable := false
	for _, m := range mounts {
		if !match(m) {
			continue
		}
		root := unescapeMountPath(m.Root)
		if !hasPathPrefix(cgroup, root) {
			continue
		}
		rel := cgroup
		if root != "/" {
			rel = cgroup[len(root):]
		}
		if rel == "/.." || strings.HasPrefix(rel, "/../") {
			unreachable = true
			continue
		}
		mp := unescapeMountPath(m.MountPoint)
		dir := path.Join(mp, rel)
		if !hasPathPrefix(dir, path.Clean(mp)) {
			// ".." inside the path would climb out of the mount: not a path the kernel writes.
			return CgroupLocation{}, fmt.Errorf("cgroup path %q leaves its mount %s", cgroup, mp)
		}
		return CgroupLocation{
			Path:       cgroup,
			MountPoint: mp,
			MountRoot:  root,
			Dir:        dir,
		}, nil
	}
	if unreachable {
		return CgroupLocation{}, fmt.Errorf("cgroup is outside this cgroup namespace and no mount reaches it: %w", errNoMount)
	}
	return CgroupLocation{}, errNoMount
}

// hasPathPrefix reports whether p is prefix or below it, matching whole path elements.
func hasPathPrefix(p, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '/'
}

// unescapeMountPath undoes the kernel's show_path escaping (space, tab, newline and backslash
// become \040, \011, \012 and \134) that procfs leaves in mountinfo paths. A malformed escape is
// kept as it stands: such a path cannot name a directory we could open anyway.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (int(s[i+1]-'0') << 6) | (int(s[i+2]-'0') << 3) | int(s[i+3]-'0')
			if v <= 0xff {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
