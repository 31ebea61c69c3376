package procself

// This file reads /proc/<pid>/smaps (every mapping with its page-level sizes) and /proc/<pid>/maps
// (the same header lines without sizes: the cheap fallback when smaps is denied or too slow). The
// parser is in smaps_parse.go (the loop and its fixed-width fast path) and smaps_lines.go (one line
// at a time, the path that decides what is an error).

import "time"

// Smaps reads /proc/<pid>/smaps: every mapping with its sizes. Reading it makes the kernel walk the
// page tables of the whole address space with the mmap lock held, so it costs milliseconds per
// hundred MiB resident (see the package's Overhead notes); read it on demand, not on every tick.
// A kernel thread has an empty smaps: no mappings, no error. To read it repeatedly without
// allocating a new buffer each time, use [FS.NewSmapsReader].
func (fs FS) Smaps() ([]Mapping, error) { return fs.NewSmapsReader().Read(nil) }

// Maps reads /proc/<pid>/maps: every mapping without sizes. It does not walk page tables, so it is
// much cheaper than [FS.Smaps] and is the fallback when smaps is denied.
func (fs FS) Maps() ([]Mapping, error) {
	path := fs.ProcPath("maps")
	b, err := fs.readFile(path)
	if err != nil {
		return nil, err
	}
	ms, err := parseMaps(b)
	return ms, withFile(err, path)
}

// MappingsReader reads /proc/<pid>/smaps or /proc/<pid>/maps again and again, keeping the buffer
// it reads the file into, so that a periodic full snapshot does not turn megabytes of file into
// garbage each time (smaps of 10,000 mappings is about 7 MB). It holds no open file: each Read opens,
// reads and closes the file, so nothing needs closing. A MappingsReader is not safe for concurrent
// use; give each goroutine its own, or guard it.
type MappingsReader struct {
	path      string
	withSizes bool
	buf       []byte // the last file read; kept for the next Read unless larger than maxRetainedBytes
	stats     MappingsReadStats
}

// MappingsReadStats splits the cost of the last [MappingsReader.Read] between the kernel and this
// package, measured with two clock reads per Read.
type MappingsReadStats struct {
	// Bytes is the size of the file read.
	Bytes int
	// Syscalls is the number of read calls it took; see smapsReadChunk for their size.
	Syscalls int
	// ReadTime is the time to open, read and close the file: for smaps, the kernel's page-table
	// walk and formatting, which grow with resident memory and the number of mappings.
	ReadTime time.Duration
	// ParseTime is the time this package spent parsing the bytes into mappings.
	ParseTime time.Duration
}

// smapsReaderInitialBytes fits smaps of ~90 mappings, a small Go program's, in one buffer.
const smapsReaderInitialBytes = 64 << 10

// smapsReadChunk caps each read call. The kernel's seq_file (seq_read_iter) fills a page-sized
// buffer with records while the caller asks for more than it holds; a record that does not fit is
// printed, thrown away and printed again by the next call. For smaps, printing a record is the
// walk of that mapping's page tables, so reads of a page or more walk one mapping twice per call:
// a 1 GiB resident mapping took 8 ms to read instead of 4 (measured, Linux 6.18). Asking for at
// most 2 KiB leaves room in the page for any record up to 2 KiB (a typical one is 700 bytes), so
// none is thrown away; the extra read calls cost less than the walks they save (10,000 mappings:
// 3,500 calls instead of 2,000, no slower).
const smapsReadChunk = 2 << 10

// maxRetainedBytes bounds the buffer a MappingsReader keeps between reads (smaps of ~90,000
// mappings); a larger file is read into a buffer that is dropped afterwards, so that one
// pathological moment does not pin its size for the life of the reader.
const maxRetainedBytes = 64 << 20

// NewSmapsReader returns a reader of /proc/<pid>/smaps that reuses its buffer between reads.
func (fs FS) NewSmapsReader() *MappingsReader {
	return &MappingsReader{path: fs.ProcPath("smaps"), withSizes: true}
}

// NewMapsReader returns a reader of /proc/<pid>/maps that reuses its buffer between reads.
func (fs FS) NewMapsReader() *MappingsReader {
	return &MappingsReader{path: fs.ProcPath("maps")}
}

// Read reads the file again and parses it into dst[:0], reusing dst's capacity when it is enough
// (as [runtime/metrics.Read] fills the caller's slice), and returns the mappings. The result
// aliases dst: mappings a caller kept from an earlier Read with the same dst are overwritten, so
// pass nil to get a slice of one's own. Pathnames are new strings, never views of the reader's
// buffer. A value that cannot be parsed is that field's error: the mappings come back with it
// zero, and the error is a *FieldErrors naming the key, its line and the mapping. On any other
// error it returns nil and the error, and dst's contents are undefined.
func (r *MappingsReader) Read(dst []Mapping) ([]Mapping, error) {
	if r.buf == nil {
		r.buf = make([]byte, 0, smapsReaderInitialBytes)
	}
	t0 := time.Now()
	b, reads, err := readFileInto(r.path, r.buf, smapsReadChunk)
	t1 := time.Now()
	r.stats = MappingsReadStats{Bytes: len(b), Syscalls: reads, ReadTime: t1.Sub(t0)}
	if err != nil {
		return nil, err
	}
	if cap(b) <= maxRetainedBytes {
		r.buf = b[:0]
	} else {
		r.buf = nil
	}
	ms, err := parseMappingsInto(dst, b, r.withSizes, true)
	r.stats.ParseTime = time.Since(t1)
	return ms, withFile(err, r.path)
}

// Stats is what the last Read cost; zero before the first.
func (r *MappingsReader) Stats() MappingsReadStats { return r.stats }

// parseSmaps parses the contents of an smaps file.
func parseSmaps(b []byte) ([]Mapping, error) { return parseMappingsInto(nil, b, true, true) }

// parseMaps parses the contents of a maps file.
func parseMaps(b []byte) ([]Mapping, error) { return parseMappingsInto(nil, b, false, true) }
