package procself

// FS.CgroupMemory: one reading of every memory controller file of the process's cgroup (the types
// are in cgroup_memory_types.go), and the walk up the hierarchy for the effective limit. The
// tick's reader is in cgroup_memory_reader.go, the parsers in cgroup_memory_parse.go and
// cgroup_memory_stat.go.

import (
	"errors"
	iofs "io/fs"
	"path/filepath"
	"strings"
)

// CgroupMemory reads every memory controller file of the process's cgroup (see
// [FS.CgroupLocation]) and walks the ancestors up to the mount point for the effective limit.
// It costs a dozen file reads; for a periodic reading use [FS.NewCgroupMemoryReader].
//
// A file the kernel does not provide leaves its Present bit clear without an error. A file that
// exists but cannot be read or parsed also leaves its bit clear, and a malformed line of
// memory.stat clears just its key's bit; the returned error is then a *FieldErrors naming each
// such file or key, and the result holds everything that could be read. An error that is not a
// *FieldErrors (the cgroup could not be found) comes with a zero result.
func (fs FS) CgroupMemory() (CgroupMemory, error) {
	loc, err := fs.CgroupLocation()
	if err != nil {
		return CgroupMemory{}, err
	}
	return fs.readCgroupMemory(loc)
}

// cgroupFileNames are the files each version keeps its readings in.
type cgroupFileNames struct {
	usage, limit, stat string
}

func cgroupFiles(version int) cgroupFileNames {
	if version == 1 {
		return cgroupFileNames{usage: "memory.usage_in_bytes", limit: "memory.limit_in_bytes", stat: "memory.stat"}
	}
	return cgroupFileNames{usage: "memory.current", limit: "memory.max", stat: "memory.stat"}
}

func (fs FS) readCgroupMemory(loc CgroupLocation) (CgroupMemory, error) {
	m := CgroupMemory{CgroupLocation: loc}
	var bad cgroupErrs
	// read returns the file's bytes, or nil for a file the kernel does not provide; other
	// failures are collected.
	read := func(name string) []byte {
		p := filepath.Join(loc.Dir, name)
		b, err := fs.readFile(p)
		if err != nil {
			if !errors.Is(err, iofs.ErrNotExist) {
				bad.add(p, err)
			}
			return nil
		}
		return b
	}
	// value reads a single-value count file; ok is false when it is absent or bad.
	value := func(name string) (v uint64, ok bool) {
		b := read(name)
		if b == nil {
			return 0, false
		}
		v, max, err := parseCgroupValue(b)
		if err == nil && max {
			err = &ParseError{Line: 1, Msg: `"max" where a count was expected`}
		}
		if err != nil {
			bad.add(filepath.Join(loc.Dir, name), err)
			return 0, false
		}
		return v, true
	}
	count := func(name string, dst *uint64, bit CgroupFields) {
		if v, ok := value(name); ok {
			*dst = v
			m.Present |= bit
		}
	}
	limitFailed := false
	limit := func(name string, dst *CgroupLimit, bit CgroupFields) bool {
		n := len(bad)
		if b := read(name); b != nil {
			l, err := parseCgroupLimit(b, loc.Version)
			if err != nil {
				bad.add(filepath.Join(loc.Dir, name), err)
				return false
			}
			*dst = l
			m.Present |= bit
		}
		return len(bad) == n // absent is fine, unreadable is not
	}
	names := cgroupFiles(loc.Version)
	count(names.usage, &m.UsageBytes, CgroupHasUsage)
	limitFailed = !limit(names.limit, &m.Limit, CgroupHasLimit)
	if b := read(names.stat); b != nil {
		m.Stat.All = make(map[string]uint64, 64)
		switch err := parseMemoryStat(b, loc.Version, &m.Stat, m.Stat.All); {
		case IsPartial(err): // the malformed keys' bits are clear; the rest is a reading
			bad.add(filepath.Join(loc.Dir, names.stat), err)
			m.Present |= CgroupHasStat
		case err != nil:
			bad.add(filepath.Join(loc.Dir, names.stat), err)
			m.Stat = CgroupMemoryStat{} // not a memory.stat file: no half-parsed readings
		default:
			m.Present |= CgroupHasStat
		}
	}

	switch loc.Version {
	case 2:
		count("memory.peak", &m.PeakBytes, CgroupHasPeak)
		count("memory.swap.current", &m.SwapBytes, CgroupHasSwap)
		limit("memory.swap.max", &m.SwapLimit, CgroupHasSwapLimit)
		limit("memory.high", &m.High, CgroupHasHigh)
		limit("memory.low", &m.Low, CgroupHasLow)
		limit("memory.min", &m.Min, CgroupHasMin)
		if b := read("memory.events"); b != nil {
			err := parseMemoryEvents(b, &m.Events)
			if err != nil {
				bad.add(filepath.Join(loc.Dir, "memory.events"), err)
			}
			if err == nil || IsPartial(err) {
				m.Present |= CgroupHasEvents
			}
		}
	case 1:
		count("memory.max_usage_in_bytes", &m.PeakBytes, CgroupHasPeak)
		limit("memory.memsw.limit_in_bytes", &m.MemSwapLimit, CgroupHasMemSwapLimit)
		if m.Stat.Present.Has(CgroupStatSwap) {
			m.SwapBytes = m.Stat.SwapBytes
			m.Present |= CgroupHasSwap
		}
		// v1 memory.stat has no kernel total; kmem.usage_in_bytes is one (hierarchical, like
		// usage_in_bytes).
		if v, ok := value("memory.kmem.usage_in_bytes"); ok {
			m.Stat.KernelBytes = v
			m.Stat.Present |= CgroupStatKernel
		}
		if v, ok := value("memory.failcnt"); ok {
			m.Events.Max = v
			m.Present |= CgroupHasEvents
		}
		if b := read("memory.oom_control"); b != nil {
			err := parseOOMControl(b, &m.Events)
			if err != nil {
				bad.add(filepath.Join(loc.Dir, "memory.oom_control"), err)
			}
			if err == nil || IsPartial(err) {
				m.Present |= CgroupHasEvents
			}
		}
	}

	// Without this cgroup's own limit the strictest one cannot be known.
	if !limitFailed {
		anc, ancPath, err := fs.ancestorLimit(loc, names.limit)
		if err != nil {
			bad.add(filepath.Join(loc.Dir, "..", names.limit), err)
		} else {
			m.setEffectiveLimit(anc, ancPath)
		}
	}
	return m, bad.err(loc.Dir)
}

// cgroupErrs collects what could not be read of a cgroup reading made of several files. Each file
// is one field of the reading (its Present bit stays clear): a file that failed whole becomes a
// *ParseError whose Field is the file's name and whose Err is why; a file with malformed lines
// contributes one *ParseError per line, with the key as Field.
type cgroupErrs fieldErrs

func (c *cgroupErrs) add(path string, err error) {
	var fe *FieldErrors
	if errors.As(err, &fe) {
		for _, pe := range fe.Errs {
			if pe.File == "" {
				pe.File = path
			}
			*c = append(*c, pe)
		}
		return
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.File == "" {
			pe.File = path
		}
		if pe.Field == "" {
			pe.Field = filepath.Base(path)
		}
		*c = append(*c, pe)
		return
	}
	*c = append(*c, &ParseError{File: path, Field: filepath.Base(path), Msg: "not read", Err: err})
}

// err is nil when everything was read, else a *FieldErrors for the cgroup directory dir.
func (c cgroupErrs) err(dir string) error {
	if len(c) == 0 {
		return nil
	}
	return &FieldErrors{File: dir, Errs: c}
}

// setEffectiveLimit combines this cgroup's limit (and on v1 the kernel's hierarchical limit) with
// the strictest ancestor limit, anc, set at ancPath.
func (m *CgroupMemory) setEffectiveLimit(anc CgroupLimit, ancPath string) {
	eff, effPath := CgroupLimit{Unlimited: true}, ""
	if m.Present.Has(CgroupHasLimit) && !m.Limit.Unlimited {
		eff, effPath = m.Limit, m.Path
	}
	if anc.stricter(eff) {
		eff, effPath = anc, ancPath
	}
	if m.Stat.Present.Has(CgroupStatHierarchicalMemoryLimit) {
		// The kernel's own answer wins; the walk only tells which level set it, when visible.
		h := m.Stat.HierarchicalMemoryLimit
		if h != eff {
			switch {
			case h.Unlimited:
				effPath = ""
			case m.Present.Has(CgroupHasLimit) && h == m.Limit:
				effPath = m.Path
			case h == anc:
				effPath = ancPath
			default:
				effPath = ""
			}
			eff = h
		}
	}
	if eff.Unlimited {
		effPath = ""
	}
	m.EffectiveLimit, m.EffectiveLimitPath = eff, effPath
	m.Present |= CgroupHasEffectiveLimit
}

// ancestorLimit walks from loc.Dir's parent up to the mount point and returns the strictest limit
// found in the file named limitFile, and the cgroup path of the level that set it. Levels without
// the file (the root cgroup) are skipped.
func (fs FS) ancestorLimit(loc CgroupLocation, limitFile string) (CgroupLimit, string, error) {
	best, bestPath := CgroupLimit{Unlimited: true}, ""
	dir, cg := filepath.Clean(loc.Dir), loc.Path
	mp := filepath.Clean(loc.MountPoint)
	for dir != mp && hasPathPrefix(dir, mp) {
		dir, cg = filepath.Dir(dir), parentCgroupPath(cg)
		p := filepath.Join(dir, limitFile)
		b, err := fs.readFile(p)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return CgroupLimit{}, "", err
		}
		l, err := parseCgroupLimit(b, loc.Version)
		if err != nil {
			return CgroupLimit{}, "", withFile(err, p)
		}
		if l.stricter(best) {
			best, bestPath = l, cg
		}
	}
	return best, bestPath, nil
}

// parentCgroupPath drops the last element of a cgroup path; "/" stays "/".
func parentCgroupPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}
