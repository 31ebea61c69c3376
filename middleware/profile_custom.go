package middleware

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Profiles a service registered itself with pprof.NewProfile, served under {prefix}pprof/{name}
// as net/http/pprof serves them; the symbol endpoint; and the delta profiles (?seconds=N) of the
// runtime's and the service's profiles.

// customProfile is how a profile the service registered is served: reading one copies its
// records under its own lock, and never stops the world.
func customProfile(name string) snapshotProfile {
	return snapshotProfile{name: name, debugs: 1, stwFrom: -1, delta: true,
		what: "a profile the service registered with runtime/pprof.NewProfile: the stacks that added the objects it holds now",
		cost: "a copy of its records under its own lock, no stop-the-world"}
}

// isRuntimeProfile reports whether name is served by its own endpoint.
func isRuntimeProfile(name string) bool {
	if name == "trace" || name == "symbol" || name == "symbolz" {
		return true
	}
	for _, sp := range snapshotProfiles {
		if sp.name == name {
			return true
		}
	}
	return false
}

// customProfileNames lists the profiles the service registered, sorted.
func customProfileNames() []string {
	var names []string
	for _, p := range pprof.Profiles() {
		if !isRuntimeProfile(p.Name()) {
			names = append(names, p.Name())
		}
	}
	slices.Sort(names)
	return names
}

func (t *tree) customIndex() []pprofIndexEntry {
	var out []pprofIndexEntry
	for _, name := range customProfileNames() {
		p := pprof.Lookup(name)
		if p == nil {
			continue // removed since it was listed
		}
		sp := customProfile(name)
		n := p.Count()
		out = append(out, pprofIndexEntry{Name: name, Path: t.cfg.prefix + "pprof/" + name, What: sp.what, Cost: sp.cost, Count: &n,
			Parameters: fmt.Sprintf("debug=0..1, seconds=1..%d (a delta)", int(t.cfg.maxDuration/time.Second))})
	}
	return out
}

// serveCustomProfile serves {prefix}pprof/{name} for a profile the service registered; the
// runtime's own have their own patterns, which the ServeMux prefers.
func (t *tree) serveCustomProfile(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if pprof.Lookup(name) == nil || isRuntimeProfile(name) {
		known := customProfileNames()
		list := "none"
		if len(known) > 0 {
			list = strings.Join(known, ", ")
		}
		return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("path: not found: no profile %s is registered with runtime/pprof (the service's own: %s; the index at pprof/ lists every one)", quote(name), list)}
	}
	return t.serveSnapshotProfile(w, r, customProfile(name))
}

// serveDeltaProfile reads a profile, waits the window and reads it again, and serves the
// difference as one pprof profile whose duration is the window, as net/http/pprof does for
// ?seconds=N. Neither read stops the world for the profiles that allow it.
func (t *tree) serveDeltaProfile(w http.ResponseWriter, r *http.Request, sp snapshotProfile, p params, debug, gc int) error {
	d, err := p.seconds(0, t.cfg.maxDuration)
	if err != nil {
		return err
	}
	if debug != 0 {
		return badParam("seconds", "a delta is served as a pprof profile only: seconds and debug=%d cannot go together", debug)
	}
	if gc != 0 {
		return badParam("seconds", "seconds and gc=1 cannot go together: a delta of the in-use heap compares two reads, each as of the last completed GC")
	}
	if sp.needsRate != nil {
		if why := sp.needsRate(); why != "" {
			return &httpError{status: http.StatusConflict, msg: why}
		}
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(sp.name)+`-delta.pb.gz"`)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/octet-stream")
		return nil
	}
	// One delta of each kind at a time, apart from the snapshots of that kind: a delta holds its
	// slot for the whole window.
	release, ok, retry := t.pprof.slot(sp.name + "?seconds").acquire(d)
	if !ok {
		return busyError(sp.name+"?seconds", retry)
	}
	defer release()
	extendWriteDeadline(w, d)
	prof := pprof.Lookup(sp.name)
	if prof == nil {
		return fmt.Errorf("%s: the runtime has no such profile", sp.name)
	}
	// A profile that stops the world (the goroutine profile) keeps the tree's one-a-second limit
	// for each of its two reads: the first is refused as any other, the second waits its turn.
	stw := sp.stwFrom == 0
	if stw {
		if ok, retry := t.pprof.allowSTW(time.Now()); !ok {
			return stwLimited(sp.name, retry)
		}
	}
	p0, err := readProfile(prof)
	if err != nil {
		return err
	}
	if err := wait(r.Context(), d); err != nil {
		return err
	}
	for stw {
		ok, retry := t.pprof.allowSTW(time.Now())
		if ok {
			break
		}
		if err := wait(r.Context(), retry); err != nil {
			return err
		}
	}
	p1, err := readProfile(prof)
	if err != nil {
		return err
	}
	ts, dur := p1.TimeNanos, p1.TimeNanos-p0.TimeNanos
	p0.Scale(-1)
	delta, err := profile.Merge([]*profile.Profile{p0, p1})
	if err != nil {
		return fmt.Errorf("%s: the two reads do not merge: %w", sp.name, err)
	}
	delta.TimeNanos, delta.DurationNanos = ts, dur
	var buf bytes.Buffer
	if err := delta.Write(&buf); err != nil {
		return fmt.Errorf("%s: %w", sp.name, err)
	}
	note := fmt.Sprintf("a delta: the profile's difference between two reads %s apart (samples that did not change are absent)", d)
	if sp.name == "heap" || sp.name == "allocs" {
		note += "; the runtime publishes heap samples when a GC cycle ends, so the window counts the cycles completed in it"
	}
	w.Header().Set("X-Memdiag-Note", note)
	return writeBody(w, "application/octet-stream", buf.Bytes())
}

func readProfile(p *pprof.Profile) (*profile.Profile, error) {
	var buf bytes.Buffer
	if err := p.WriteTo(&buf, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name(), err)
	}
	pr, err := profile.ParseData(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: reading the runtime's profile: %w", p.Name(), err)
	}
	return pr, nil
}

// maxSymbolBody bounds the addresses a symbol request may carry: go tool pprof sends every
// unsymbolized address of a profile in one POST.
const maxSymbolBody = 256 << 10

// maxSymbolAddrs bounds how many addresses one request may name.
const maxSymbolAddrs = 32 << 10

// parseSymbolAddrs reads addresses as net/http/pprof's symbol endpoint takes them: numbers joined
// by '+' (0x-prefixed hexadecimal, or decimal), from a query or a body. Empty words are skipped;
// a word that is not a number is an error naming it, as are more than max words.
func parseSymbolAddrs(s string, max int) ([]uint64, error) {
	var out []uint64
	for word := range strings.SplitSeq(strings.TrimSpace(s), "+") {
		if word == "" {
			continue
		}
		if len(out) == max {
			return nil, fmt.Errorf("more than %d addresses", max)
		}
		pc, err := strconv.ParseUint(word, 0, 64)
		if err != nil || word[0] == '+' || word[0] == '-' || strings.Contains(word, "_") {
			return nil, fmt.Errorf("%s is not an address (want 0x-prefixed hexadecimal or decimal numbers joined by +)", quote(word))
		}
		out = append(out, pc)
	}
	return out, nil
}

// serveSymbol answers pprof/symbol (and pprof/symbolz, the path go tool pprof asks of a profile
// URL outside /debug/pprof/) as net/http/pprof's Symbol does: GET without a query says that
// symbols are available; GET with addresses in the query, or POST with them in the body, names
// the function at each address this binary knows. The POST, like every POST of the tree, takes
// only a Content-Type that a page of another origin cannot send without a CORS preflight.
func (t *tree) serveSymbol(w http.ResponseWriter, r *http.Request) error {
	var in string
	if r.Method == http.MethodPost {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/octet-stream" {
			return &httpError{status: http.StatusUnsupportedMediaType,
				msg: "content-type: addresses are taken by POST only with Content-Type: application/octet-stream, as go tool pprof sends them (a cross-site form or no-cors fetch cannot send it), not " + quote(ct)}
		}
		if r.URL.RawQuery != "" {
			return badParam("query", "a POST carries its addresses in the body, not the query")
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxSymbolBody)); err != nil {
			return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body: longer than %d bytes, or unreadable", maxSymbolBody)}
		}
		in = buf.String()
	} else {
		in = r.URL.RawQuery
	}
	addrs, err := parseSymbolAddrs(in, maxSymbolAddrs)
	if err != nil {
		return badParam("addresses", "%s", err.Error())
	}
	var buf bytes.Buffer
	// pprof only asks whether this is above 0: the binary's symbol table is there.
	buf.WriteString("num_symbols: 1\n")
	for _, pc := range addrs {
		if f := runtime.FuncForPC(uintptr(pc)); pc != 0 && f != nil {
			fmt.Fprintf(&buf, "%#x %s\n", pc, f.Name())
		}
	}
	w.Header().Set("X-Go-Pprof", "1")
	return writeBody(w, contentTypeText, buf.Bytes())
}
