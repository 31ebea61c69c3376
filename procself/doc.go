// Package procself reads the files under /proc/<pid> and the process's own cgroup that matter for
// memory work, without stopping the world and without needing the Go runtime's cooperation.
//
// # Start here
//
// [New] returns an [FS] for the calling process, [ForPID] one for another process; both take the
// root directory to read below ("/" in production). Every reader is a method on the FS, and every
// size it returns is in bytes and named ...Bytes: never kB, never pages.
//
//	fs := procself.New("/")
//	st, err := fs.Statm()
//	if err != nil {
//		return err
//	}
//	fmt.Println(st.ResidentBytes)
//
// # Readers
//
// A method named for its file reads that file once, opening and closing it: [FS.Statm],
// [FS.Status], [FS.Stat], [FS.Limits], [FS.SmapsRollup], [FS.Smaps] and [FS.Maps] (every mapping,
// with and without its sizes), [FS.Auxv], [FS.Syscall], [FS.Latency], [FS.Threads], [FS.FDs],
// [FS.Environ], and [FS.Identity] with its parts ([FS.Cmdline], [FS.Comm], [FS.Cwd], [FS.Exe],
// [FS.ProcessRoot], [FS.Wchan]). For the memory cgroup, [FS.CgroupLocation] says where it is and
// [FS.CgroupMemory] reads what it holds.
//
// A reader for reading the same file again and again (a periodic tick) is made by a New…Reader
// method and reused:
//
//   - [FS.NewStatmReader] and [FS.NewCgroupMemoryReader] keep their files open and read each with
//     one pread into a buffer they own, allocating nothing per read. Close them when done.
//   - [FS.NewSmapsReader] and [FS.NewMapsReader] keep the buffer the file is read into, so that a
//     periodic full reading does not turn megabytes into garbage; each Read opens the file, so
//     they need no Close.
//
// [FS.NewCgroupLocator] keeps the cgroup's location between readings and resolves it again only
// when the process changes cgroup: [FS.CgroupMemoryAt] reads the cgroup at the location it gives,
// and its [CgroupLocator.NewCgroupMemoryReader] makes a reader that shares it.
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
//
// # Parsers, and procfs
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
package procself
