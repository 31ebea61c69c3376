// Package procself reads the files under /proc/<pid> and the process's own cgroup that matter for
// memory work, without stopping the world and without needing the Go runtime's cooperation.
//
// # Overview
//
// Each file has one reader and one pure parser (parseX over bytes or an io.Reader), testable without a
// filesystem. github.com/prometheus/procfs backs exactly these readers: [FS.Cmdline], [FS.Comm],
// [FS.Wchan], [FS.Environ], [FS.FDs] (the descriptor count; the targets are read here),
// [FS.CgroupLocation] (cgroup and mountinfo) and [FS.Threads] (the task list and each thread's stat and
// wchan). Every other file is parsed here, by parsers of this package: statm, status, stat, limits,
// smaps_rollup, maps and per-mapping smaps, auxv, syscall, task/*/stack, latency, the cgroup memory
// controller files, and the cwd, exe and root links. procfs either has no reader for those files or
// loses what memory work needs (docs/architecture.md says what, file by file); a test in
// internal/docscheck fails when this list and the package's use of procfs drift.
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
