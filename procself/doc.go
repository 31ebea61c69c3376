// Package procself reads the files under /proc/<pid> and the process's own cgroup that matter for
// memory work, without stopping the world and without needing the Go runtime's cooperation.
//
// # Overview
//
// Each file has one reader and one pure parser (parseX over bytes or an io.Reader), testable without a
// filesystem. Where github.com/prometheus/procfs already reads a file well (status, stat, limits,
// smaps_rollup, maps, fd, cgroup, mountinfo, wchan, cmdline, comm, cwd, exe, root, environ) the reader
// is a thin conversion of its result into bytes-everywhere types; files procfs does not read
// (per-mapping smaps, auxv, syscall, task/*/stack, latency, the cgroup memory controller files) and
// the hot-path statm reader are parsed here.
//
// Every size in this package is in bytes and named ...Bytes: never kB, never pages.
//
// # Roots
//
// An [FS] reads below a root directory: "/" in production, a directory of recorded files in tests.
// Process files are read from <root>/proc/<pid>/ (pid "self" by default) and cgroup files from the
// mount points that <root>/proc/<pid>/mountinfo names, resolved below the same root.
//
// # Errors
//
// A file that cannot be read gives an error that wraps the operating system's (errors.Is with
// fs.ErrNotExist and fs.ErrPermission work) and names the path. A file that is read but malformed
// gives a [*ParseError] naming the file and line, and a zero value. A file that has the expected
// shape but some values that cannot be parsed (out of range, not a number) is read for the rest:
// the reader returns the value with those fields zero and a [*FieldErrors] naming each of them
// ([IsPartial] tells the two apart), so a caller shows the rest and marks just those fields
// unread. Off Linux every reader returns an error wrapping
// errors.ErrUnsupported. Nothing in this package panics on bad input; every hand-written parser has a
// fuzz test.
package procself
