package procself

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Identity is what the process is and where it runs: its command line, name, working directory,
// executable, root directory and what it is blocked in.
//
// Security: Cmdline is returned as the kernel has it, with NO redaction; command lines often carry
// tokens and passwords. Redaction is the job of whatever serves it (the HTTP layer does it before
// anything leaves the process). Nothing in this package logs or prints it.
type Identity struct {
	// Cmdline is the argument vector, argv[0] first. A process that rewrote its argv (setproctitle)
	// shows what it wrote. Empty arguments at the end are not distinguishable from padding and are
	// lost.
	Cmdline []string
	Comm    string // the command name (at most 15 bytes), which threads and prctl may change
	Cwd     string // the current working directory, as the process's root directory sees it
	// Exe is the path of the running executable, without the kernel's " (deleted)" suffix.
	Exe string
	// ExeDeleted is true when the executable was deleted or replaced on disk after it started (an
	// upgrade in place): the process runs an image no longer on disk, and its text pages cannot be
	// dropped and re-read from the file.
	ExeDeleted bool
	Root       string // the root directory: "/" unless chrooted or in a mount namespace that differs
	// Wchan is the kernel function the process is sleeping in ("do_epoll_wait", "futex_wait_queue"),
	// or "" when it is running. Recent kernels print "0" (read here as "") to a reader that may not
	// ptrace the process.
	Wchan string
}

// Identity reads cmdline, comm, cwd, exe, root and wchan. Each that fails is left empty and its error
// joined into the returned one, so a partial identity comes back with the reason for each gap.
func (fs FS) Identity() (Identity, error) {
	var id Identity
	var errs [6]error
	id.Cmdline, errs[0] = fs.Cmdline()
	id.Comm, errs[1] = fs.Comm()
	id.Cwd, errs[2] = fs.Cwd()
	id.Exe, id.ExeDeleted, errs[3] = fs.Exe()
	id.Root, errs[4] = fs.ProcessRoot()
	id.Wchan, errs[5] = fs.Wchan()
	return id, errors.Join(errs[:]...)
}

// Cmdline reads /proc/<pid>/cmdline. See [Identity] on redaction.
func (fs FS) Cmdline() ([]string, error) {
	p, err := fs.procfs()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fs.ProcPath("cmdline"), err)
	}
	return p.CmdLine()
}

// Comm reads /proc/<pid>/comm.
func (fs FS) Comm() (string, error) {
	p, err := fs.procfs()
	if err != nil {
		return "", fmt.Errorf("%s: %w", fs.ProcPath("comm"), err)
	}
	return p.Comm()
}

// Wchan reads /proc/<pid>/wchan; "" means running (the kernel prints "0" or nothing).
func (fs FS) Wchan() (string, error) {
	p, err := fs.procfs()
	if err != nil {
		return "", fmt.Errorf("%s: %w", fs.ProcPath("wchan"), err)
	}
	return p.Wchan()
}

// Cwd reads the /proc/<pid>/cwd link.
func (fs FS) Cwd() (string, error) { return fs.readProcLink("cwd") }

// ProcessRoot reads the /proc/<pid>/root link.
func (fs FS) ProcessRoot() (string, error) { return fs.readProcLink("root") }

// Exe reads the /proc/<pid>/exe link and reports whether the executable has been deleted since the
// process started.
func (fs FS) Exe() (path string, deleted bool, err error) {
	target, err := fs.readProcLink("exe")
	if err != nil {
		return "", false, err
	}
	path, deleted = strings.CutSuffix(target, " (deleted)")
	return path, deleted, nil
}

// readProcLink reads a link of the process directly: procfs's Executable, Cwd and RootDir return ""
// with no error when the link does not exist, which would turn "unreadable" into a silent empty path.
func (fs FS) readProcLink(name string) (string, error) {
	path := fs.ProcPath(name)
	if !supported {
		return "", fmt.Errorf("%s: %w", path, errUnsupported)
	}
	return os.Readlink(path) // *fs.PathError names the path and wraps fs.ErrNotExist or fs.ErrPermission
}
