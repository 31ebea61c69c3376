package procself

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// procfsFixtures extracts github.com/prometheus/procfs's own fixture tree (testdata/fixtures.ttar
// in the module this package already depends on; see testdata/README.md) into a temporary
// directory and returns its root, the directory holding proc/. The module is located with
// `go list -m`, so the tree is always the one of the procfs version go.mod pins.
func procfsFixtures(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to locate the procfs module: " + err.Error())
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/procfs").Output()
	if err != nil {
		t.Fatalf("locating the procfs module: %v", err)
	}
	dir := t.TempDir()
	if err := extractTtar(filepath.Join(strings.TrimSpace(string(out)), "testdata", "fixtures.ttar"), dir); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "fixtures")
}

// extractTtar writes the files of a ttar archive (the format of github.com/ideaship/ttar, which
// procfs uses for its fixtures) below dir: "Directory: p", "Path: p" followed by "Lines: n" and n
// lines of content (NULLBYTE for a zero byte, a trailing EOF for a last line without a newline)
// or by "SymlinkTo: target", and "Mode:" lines.
func extractTtar(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	lineNo := 0
	next := func() (string, bool) {
		ok := sc.Scan()
		lineNo++
		return sc.Text(), ok
	}
	bad := func(msg string) error { return fmt.Errorf("%s:%d: %s", path, lineNo, msg) }
	var cur string // the last Path or Directory, for Mode lines
	for {
		line, ok := next()
		if !ok {
			return sc.Err()
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "Directory: "):
			cur = filepath.Join(dir, strings.TrimPrefix(line, "Directory: "))
			if err := os.MkdirAll(cur, 0o755); err != nil {
				return err
			}
		case strings.HasPrefix(line, "Mode: "):
			mode, err := strconv.ParseUint(strings.TrimPrefix(line, "Mode: "), 8, 32)
			if err != nil || cur == "" {
				return bad("bad Mode line")
			}
			if err := os.Chmod(cur, os.FileMode(mode)); err != nil {
				return err
			}
		case strings.HasPrefix(line, "Path: "):
			cur = filepath.Join(dir, strings.TrimPrefix(line, "Path: "))
			if err := os.MkdirAll(filepath.Dir(cur), 0o755); err != nil {
				return err
			}
			kind, ok := next()
			if !ok {
				return bad("archive ends after Path")
			}
			switch {
			case strings.HasPrefix(kind, "SymlinkTo: "):
				if err := os.Symlink(strings.TrimPrefix(kind, "SymlinkTo: "), cur); err != nil {
					return err
				}
				cur = ""
			case strings.HasPrefix(kind, "Lines: "):
				n, err := strconv.Atoi(strings.TrimPrefix(kind, "Lines: "))
				if err != nil || n < 0 {
					return bad("bad Lines line")
				}
				var content bytes.Buffer
				for i := range n {
					l, ok := next()
					if !ok {
						return bad("archive ends inside a file")
					}
					l = strings.ReplaceAll(l, "NULLBYTE", "\x00")
					if i == n-1 && strings.HasSuffix(l, "EOF") {
						content.WriteString(strings.TrimSuffix(l, "EOF"))
						continue
					}
					content.WriteString(l)
					content.WriteByte('\n')
				}
				if err := os.WriteFile(cur, content.Bytes(), 0o644); err != nil {
					return err
				}
			default:
				return bad("want Lines or SymlinkTo after Path")
			}
		default:
			return bad(fmt.Sprintf("unexpected line %q", line))
		}
	}
}

// TestProcfsFixtureTree runs every reader of a /proc/<pid> file over each process directory of
// procfs's fixture tree. procfs's fixtures are valid content (some deliberately extreme: statm's
// shared column is 2^64-1 pages, a kernel thread's stat prints cutime as -2^63 and processor as
// 2^63-1, a status file starts with a blank line), so no reader may fail on a file as a whole:
// each file present is read, values out of range are field errors naming just those fields, and
// a file absent from the fixture is reported as not existing.
func TestProcfsFixtureTree(t *testing.T) {
	needProc(t)
	root := procfsFixtures(t)
	// The only unread fields in the whole tree, each out of range for what it measures.
	wantFields := map[string][]string{
		"26231/statm": {"shared"},              // 18446744073709551615 pages overflow 64 bits of bytes
		"26232/stat":  {"cutime", "processor"}, // -9223372036854775808 ticks; CPU 9223372036854775807
	}
	readers := []struct {
		file string
		read func(FS) (any, error)
	}{
		{"statm", func(fs FS) (any, error) { return fs.Statm() }},
		{"status", func(fs FS) (any, error) { return fs.Status() }},
		{"stat", func(fs FS) (any, error) { return fs.Stat() }},
		{"limits", func(fs FS) (any, error) { return fs.Limits() }},
		{"smaps_rollup", func(fs FS) (any, error) { return fs.SmapsRollup() }},
		{"smaps", func(fs FS) (any, error) { return fs.Smaps() }},
		{"maps", func(fs FS) (any, error) { return fs.Maps() }},
		{"auxv", func(fs FS) (any, error) { return fs.Auxv() }},
		{"syscall", func(fs FS) (any, error) { return fs.Syscall() }},
		{"latency", func(fs FS) (any, error) { return fs.Latency() }},
		{"environ", func(fs FS) (any, error) { return fs.Environ(nil) }},
		{"cmdline", func(fs FS) (any, error) { return fs.Cmdline() }},
		{"comm", func(fs FS) (any, error) { return fs.Comm() }},
		{"wchan", func(fs FS) (any, error) { return fs.Wchan() }},
	}
	entries, err := os.ReadDir(filepath.Join(root, "proc"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			pids = append(pids, pid)
		}
	}
	if len(pids) < 6 {
		t.Fatalf("%d process directories in the procfs fixtures, want the 7 of procfs v0.23.0", len(pids))
	}
	read := 0
	for _, pid := range pids {
		fs := ForPID(root, pid)
		for _, r := range readers {
			name := fmt.Sprintf("%d/%s", pid, r.file)
			t.Run(name, func(t *testing.T) {
				_, statErr := os.Stat(fs.ProcPath(r.file))
				v, err := r.read(fs)
				switch {
				case errors.Is(statErr, iofs.ErrNotExist):
					if !errors.Is(err, iofs.ErrNotExist) {
						t.Errorf("absent file: error %v, want one wrapping fs.ErrNotExist", err)
					}
				case wantFields[name] != nil:
					read++
					checkFieldErrors(t, err, "", wantFields[name]...)
				default:
					read++
					if err != nil {
						t.Errorf("error %v; the file is valid procfs fixture content", err)
					}
				}
				_ = v
			})
		}
		// The readers that list a directory (fds, threads) must not fail on a fixture either.
		t.Run(fmt.Sprintf("%d/fd", pid), func(t *testing.T) {
			_, statErr := os.Stat(fs.ProcPath("fd"))
			_, err := fs.FDs(16)
			if statErr == nil && err != nil {
				t.Errorf("FDs: %v", err)
			}
		})
		t.Run(fmt.Sprintf("%d/task", pid), func(t *testing.T) {
			_, statErr := os.Stat(fs.ProcPath("task"))
			_, err := fs.Threads(16)
			if statErr == nil && err != nil {
				t.Errorf("Threads: %v", err)
			}
		})
	}
	if read < 15 {
		t.Errorf("only %d fixture files read", read)
	}
}

// TestProcfsFixtureValues pins what the field-level errors keep: the rest of each file that has an
// out-of-range value, and the status whose first line is blank.
func TestProcfsFixtureValues(t *testing.T) {
	needProc(t)
	if os.Getpagesize() != testPageSize {
		t.Skipf("page counts below assume %d-byte pages", testPageSize)
	}
	root := procfsFixtures(t)
	statm, err := ForPID(root, 26231).Statm()
	checkFieldErrors(t, err, "shared (line 1): 18446744073709551615 pages overflow 64 bits of bytes", "shared")
	if want := (Statm{SizeBytes: 149919 * testPageSize, ResidentBytes: 12547 * testPageSize, TextBytes: 19864 * testPageSize, DataBytes: 14531 * testPageSize}); statm != want {
		t.Errorf("26231/statm = %+v, want %+v", statm, want)
	}
	stat, err := ForPID(root, 26232).Stat()
	checkFieldErrors(t, err, "negative (-9223372036854775808)", "cutime", "processor")
	if stat.PID != 33 || stat.Comm != "ata_sff" || stat.Nice != -20 || stat.TTY != 0 || stat.TPGID != -1 ||
		stat.CUTimeTicks != 0 || stat.CSTimeTicks != 1<<63-1 || stat.Processor != 0 || !stat.RSSLimitUnlimited || stat.StartTimeTicks != 5 {
		t.Errorf("26232/stat = %+v", stat)
	}
	status, err := ForPID(root, 26231).Status()
	if err != nil {
		t.Fatal(err)
	}
	if status.Name != "prometheus" || status.UIDs != [4]uint32{1000, 1000, 1000, 0} || status.VmRSSBytes != 6716<<10 || status.Threads != 1 {
		t.Errorf("26231/status = %+v", status)
	}
	// The procfs fixture's rows are kept as printed: 2^64 - 2^20 is a number, not "unlimited".
	limits, err := ForPID(root, 26231).Limits()
	if err != nil || limits.LockedMemory.Soft != 18446744073708503040 || limits.LockedMemory.SoftUnlimited {
		t.Errorf("26231/limits: %+v, %v", limits.LockedMemory, err)
	}
	if ms, err := ForPID(root, 26232).Maps(); err != nil || len(ms) != 9 || !slices.ContainsFunc(ms, func(m Mapping) bool { return m.Path == "[vsyscall]" }) {
		t.Errorf("26232/maps: %d mappings, %v", len(ms), err)
	}
}
