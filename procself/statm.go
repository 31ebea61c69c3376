package procself

// statm is the hot path: the Monitor reads it every tick (1 s by default) inside a budget of 20 µs and
// zero allocations. procfs's Proc.Statm() opens, reads and closes the file on every call and allocates
// (the file's bytes, a string, a strings.Fields slice): on a 2-core VM (Linux 6.18, Go 1.26.8)
// BenchmarkProcfsStatm takes 4.5–7.3 µs and 12 allocations, against 0.8 µs and none for a pread on a
// descriptor kept open (BenchmarkStatmReaderRead); the open and close are most of the cost, and the
// allocations would make the tick's garbage. So statm has its own reader here: a
// [StatmReader] keeps the file open, reads it with one pread at offset 0 into an array it owns
// (os.File.ReadAt would make two: see preadFile), and parses the
// seven numbers without allocating. Reading /proc/<pid>/statm takes no mmap lock and walks no page
// tables: the kernel prints counters it already keeps, so the cost does not grow with memory.

import (
	"fmt"
	"math/bits"
	"os"
	"sync"
)

// Statm is /proc/<pid>/statm in bytes. The kernel counts in pages; each figure here is pages × the
// system page size. The file has two more columns, lib and dt, which have been 0 since Linux 2.6; they
// are left out rather than reported as a misleading zero.
//
// The resident counters are the same per-mm counters /proc/<pid>/status prints (VmRSS, RssFile,
// RssShmem); since Linux 6.2 they are per-CPU counters summed approximately, so two reads in a row
// can differ by a few pages per CPU even when nothing changed.
type Statm struct {
	// SizeBytes is the total virtual size: every mapping, resident or not, including reserved but
	// untouched address space (status VmSize). Large and mostly meaningless for Go programs, whose
	// heap reserves address space up front.
	SizeBytes uint64
	// ResidentBytes is the resident set: anonymous + file-backed + shmem pages currently in RAM
	// (status VmRSS = RssAnon + RssFile + RssShmem). This is what the OOM killer and most dashboards
	// call RSS.
	ResidentBytes uint64
	// SharedBytes is resident file-backed plus shmem pages (RssFile + RssShmem). The name is
	// historical: these pages can be shared but need not be; a private file mapping counts too.
	// ResidentBytes - SharedBytes is the resident anonymous memory (RssAnon).
	SharedBytes uint64
	// TextBytes is the size of the main executable's code segment (end_code - start_code, page
	// aligned; status VmExe). Virtual size, not resident; shared libraries are not included.
	TextBytes uint64
	// DataBytes is the virtual size of private writable non-stack mappings plus stack mappings
	// (status VmData + VmStk). It counts address space, not resident memory: a Go heap reservation
	// counts here in full once mapped read-write.
	DataBytes uint64
}

// statmBufSize holds the longest statm line possible: seven 20-digit numbers and their separators
// are 147 bytes.
const statmBufSize = 256

// Statm reads /proc/<pid>/statm once: open, read, close. For periodic reads use
// [FS.NewStatmReader], which keeps the file open.
func (fs FS) Statm() (Statm, error) {
	r, err := fs.NewStatmReader()
	if err != nil {
		return Statm{}, err
	}
	s, err := r.Read()
	cerr := r.Close()
	if err != nil {
		return s, err // s holds every field but those a *FieldErrors names; zero otherwise
	}
	if cerr != nil {
		return Statm{}, fmt.Errorf("close %s: %w", r.path, cerr)
	}
	return s, nil
}

// StatmReader reads /proc/<pid>/statm repeatedly through one open descriptor, allocating nothing per
// read. It is meant to be owned by one goroutine (the Monitor's tick); Read and Close are nonetheless
// safe to call concurrently, guarded by a mutex that costs ~25 ns uncontended (measured), so a Close racing the
// last Read is not a data race on the descriptor.
//
// For "self", the process is resolved when the file is opened: a reader opened before a fork keeps
// reading the parent.
type StatmReader struct {
	mu       sync.Mutex
	f        preadFile // zero once closed
	path     string
	pageSize uint64
	buf      [statmBufSize]byte
}

// NewStatmReader opens /proc/<pid>/statm for repeated reads with [StatmReader.Read]. Close it when
// done.
func (fs FS) NewStatmReader() (*StatmReader, error) {
	path := fs.ProcPath("statm")
	if !supported {
		return nil, fmt.Errorf("%s: %w", path, errUnsupported)
	}
	f, err := openPread(path)
	if err != nil {
		return nil, err // *fs.PathError names the path and wraps fs.ErrNotExist or fs.ErrPermission
	}
	return &StatmReader{f: f, path: path, pageSize: uint64(os.Getpagesize())}, nil
}

// Read reads and parses the file again. It allocates nothing unless it fails. A *FieldErrors comes
// with a filled Statm whose named fields are zero (see [FieldErrors]).
func (r *StatmReader) Read() (Statm, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.f.isOpen() {
		return Statm{}, fmt.Errorf("read %s: %w", r.path, os.ErrClosed)
	}
	// One pread at offset 0 rewinds the kernel's seq_file, so each call sees fresh counters, and
	// returns the whole line, which is far shorter than the buffer (see preadFile).
	n, err := r.f.readAt0(r.buf[:])
	if err != nil {
		return Statm{}, fmt.Errorf("read %s: %w", r.path, err)
	}
	if n == len(r.buf) {
		return Statm{}, &ParseError{File: r.path, Line: 1, Msg: fmt.Sprintf("longer than %d bytes", len(r.buf))}
	}
	s, err := parseStatm(r.buf[:n], r.pageSize)
	return s, withFile(err, r.path)
}

// Close closes the file. Calling it again, or on a reader that failed, returns nil.
func (r *StatmReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.f.isOpen() {
		return nil
	}
	err := r.f.close()
	r.f = preadFile{}
	return err
}

// parseStatm parses the one line of statm: "size resident shared text lib data dt\n", all in pages.
// A column that is not a decimal, or whose pages overflow 64 bits of bytes, is that column's error
// (a *FieldErrors naming it; the field is zero) and the others are kept: procfs's own fixture has
// shared = 2^64-1. A line that does not have seven columns is not a statm line and fails whole.
// It allocates only when it returns an error.
func parseStatm(b []byte, pageSize uint64) (Statm, error) {
	if len(b) == 0 {
		return Statm{}, &ParseError{Msg: "empty file"}
	}
	if b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	for i, c := range b {
		if c == '\n' {
			return Statm{}, &ParseError{Line: 2, Msg: fmt.Sprintf("more than one line: %q", errorText(b[i:]))}
		}
	}
	var (
		bytes [7]uint64
		bad   fieldErrs
	)
	for i := range bytes {
		end := 0
		for end < len(b) && b[end] != ' ' {
			end++
		}
		p, ok := parseDecimal(b[:end])
		switch {
		case !ok && end == 0:
			bad.add(1, statmFieldNames[i], "empty")
		case !ok:
			bad.add(1, statmFieldNames[i], fmt.Sprintf("not a decimal number: %q", errorText(b[:end])))
		default:
			hi, lo := bits.Mul64(p, pageSize)
			if hi != 0 {
				bad.add(1, statmFieldNames[i], fmt.Sprintf("%d pages overflow 64 bits of bytes", p))
			} else {
				bytes[i] = lo
			}
		}
		b = b[end:]
		if i < len(bytes)-1 {
			if len(b) == 0 {
				return Statm{}, &ParseError{Line: 1, Msg: fmt.Sprintf("truncated: %d of 7 fields", i+1)}
			}
			b = b[1:] // the single space the kernel prints between fields
		}
	}
	if len(b) != 0 {
		return Statm{}, &ParseError{Line: 1, Msg: fmt.Sprintf("unexpected text after 7 fields: %q", errorText(b))}
	}
	// bytes[4] (lib) and bytes[6] (dt) are always 0 since Linux 2.6 and are dropped.
	return Statm{
		SizeBytes:     bytes[0],
		ResidentBytes: bytes[1],
		SharedBytes:   bytes[2],
		TextBytes:     bytes[3],
		DataBytes:     bytes[5],
	}, bad.err()
}

var statmFieldNames = [7]string{"size", "resident", "shared", "text", "lib", "data", "dt"}
