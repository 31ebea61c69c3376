package procself

// The pure parsers of the cgroup files that are not memory.stat (cgroup_memory_stat.go): limits
// and single values, v2 memory.events, v1 memory.oom_control, and the flat-keyed scanner they and
// memory.stat share.

import (
	"bytes"
	"fmt"
)

// v1UnlimitedBytes: v1 limit files print PAGE_COUNTER_MAX * PAGE_SIZE for "no limit", which
// depends on the page size (9223372036854771712 with 4 KiB pages, 9223372036854710272 with
// 64 KiB). Any value at or above MaxInt64 rounded down to 1 MiB is that sentinel, whatever the page
// size; no machine has 8 EiB to limit.
const v1UnlimitedBytes = (1<<63 - 1) &^ (1<<20 - 1)

// parseCgroupLimit parses a limit file: v2 "max" or bytes, v1 bytes with the unlimited sentinel.
func parseCgroupLimit(b []byte, version int) (CgroupLimit, error) {
	v, max, err := parseCgroupValue(b)
	switch {
	case err != nil:
		return CgroupLimit{}, err
	case max, version == 1 && v >= v1UnlimitedBytes:
		return CgroupLimit{Unlimited: true}, nil
	}
	return CgroupLimit{Bytes: v}, nil
}

// parseCgroupValue parses a single-value file: one unsigned decimal or "max", and a newline.
func parseCgroupValue(b []byte) (v uint64, max bool, err error) {
	s := bytes.TrimSpace(b)
	if len(s) == 0 {
		return 0, false, &ParseError{Msg: "empty file"}
	}
	if string(s) == "max" {
		return 0, true, nil
	}
	v, ok := parseDecimal(s)
	if !ok {
		return 0, false, &ParseError{Line: 1, Msg: fmt.Sprintf("value %q is not an unsigned integer or \"max\"", errorText(s))}
	}
	return v, false, nil
}

// parseMemoryEvents parses v2 memory.events; unknown keys are skipped.
func parseMemoryEvents(b []byte, ev *CgroupMemoryEvents) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &ParseError{Msg: "empty file"}
	}
	sc := kvScanner{b: b}
	for sc.scan() {
		switch string(sc.key) {
		case "low":
			ev.Low = sc.val
		case "high":
			ev.High = sc.val
		case "max":
			ev.Max = sc.val
		case "oom":
			ev.OOM = sc.val
		case "oom_kill":
			ev.OOMKill = sc.val
		case "oom_group_kill":
			ev.OOMGroupKill = sc.val
		}
	}
	return sc.result()
}

// parseOOMControl parses v1 memory.oom_control; unknown keys are skipped.
func parseOOMControl(b []byte, ev *CgroupMemoryEvents) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &ParseError{Msg: "empty file"}
	}
	sc := kvScanner{b: b}
	for sc.scan() {
		switch string(sc.key) {
		case "oom_kill_disable":
			ev.OOMKillDisable = sc.val != 0
		case "under_oom":
			ev.UnderOOM = sc.val != 0
		case "oom_kill":
			ev.OOMKill = sc.val
		}
	}
	return sc.result()
}

// kvScanner walks the "key value\n" lines of a flat-keyed cgroup file without allocating.
// Blank lines are skipped. A line that is not a key, one space and an unsigned decimal is that
// key's error (collected in bad, the scan goes on); past maxKVFieldErrors such lines the file is
// not a flat-keyed file at all and the scan stops with err set.
type kvScanner struct {
	b    []byte
	line int
	key  []byte
	val  uint64
	bad  fieldErrs
	err  error
}

// maxKVFieldErrors bounds how many malformed lines a flat-keyed file may have and still be read
// for the rest: a real kernel prints none, so more than a few means the file is something else.
const maxKVFieldErrors = 8

func (s *kvScanner) scan() bool {
	for len(s.b) > 0 && s.err == nil {
		s.line++
		var line []byte
		if i := bytes.IndexByte(s.b, '\n'); i >= 0 {
			line, s.b = s.b[:i], s.b[i+1:]
		} else {
			line, s.b = s.b, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			s.fail(line, "no value")
			continue
		}
		v, ok := parseDecimal(bytes.TrimSpace(line[sp+1:]))
		if !ok {
			s.fail(line[:sp], fmt.Sprintf("value %q is not an unsigned integer below 2^64", errorText(line[sp+1:])))
			continue
		}
		s.key, s.val = line[:sp], v
		return true
	}
	return false
}

func (s *kvScanner) fail(key []byte, msg string) {
	if len(s.bad) >= maxKVFieldErrors {
		s.err = &ParseError{Line: s.line, Msg: fmt.Sprintf("more than %d malformed lines: not a flat-keyed file", maxKVFieldErrors)}
		return
	}
	s.bad.add(s.line, errorText(key), msg)
}

// result is the scan's error: a whole-file *ParseError, a *FieldErrors naming the malformed keys,
// or nil.
func (s *kvScanner) result() error {
	if s.err != nil {
		return s.err
	}
	return s.bad.err()
}
