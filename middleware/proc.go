package middleware

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/memdiag/memdiag/procself"
	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

// procSources are the /proc files /proc serves: everything of the full tier except the page-table
// walks (smaps, smaps_rollup: /maps serves those) and maps.
var procSources = runtimediag.Set(
	runtimediag.SourceStatm, runtimediag.SourceStatus, runtimediag.SourceStat, runtimediag.SourceLimits,
	runtimediag.SourceAuxv, runtimediag.SourceIdentity, runtimediag.SourceEnviron, runtimediag.SourceFDs,
	runtimediag.SourceThreads, runtimediag.SourceSyscall, runtimediag.SourceLatency, runtimediag.SourceCgroups,
)

// procSection is one /proc file, or why it could not be read. Data has procself's field names in
// snake_case, which say their units (…_bytes, …_ticks, …_seconds): see snakeJSON.
type procSection[T any] struct {
	OK          bool    `json:"ok"`
	Reason      string  `json:"reason,omitempty"` // "permission denied", "not provided by this kernel", …
	Error       string  `json:"error,omitempty"`
	CostSeconds float64 `json:"cost_seconds"`
	Data        *T      `json:"data,omitempty"`
}

// procView is what /proc serves. Command-line values and environment values are redacted here,
// before anything is rendered: procself keeps them raw.
type procView struct {
	Time     time.Time                 `json:"time"`
	Limits   procSection[snakeJSON]    `json:"limits"` // each limit's soft and hard value, keyed by its unit
	Status   procSection[snakeJSON]    `json:"status"`
	Statm    procSection[snakeJSON]    `json:"statm"`
	Stat     procSection[snakeJSON]    `json:"stat"`
	Auxv     procSection[snakeJSON]    `json:"auxv"`
	Identity procSection[identityView] `json:"identity"` // cmdline, comm, cwd, exe, root, wchan
	Environ  procSection[environView]  `json:"environ"`
	FDs      procSection[fdsView]      `json:"fds"`
	Threads  procSection[threadsView]  `json:"threads"`
	Syscall  procSection[syscallView]  `json:"syscall"`
	Latency  procSection[snakeJSON]    `json:"latency"`
	Cgroup   procSection[snakeJSON]    `json:"cgroup"`
}

type identityView struct {
	// Cmdline has every secret-looking value replaced by "[redacted]" (see redactArgs).
	Cmdline    []string `json:"cmdline"`
	Comm       string   `json:"comm"`
	Cwd        string   `json:"cwd"`
	Exe        string   `json:"exe"`
	ExeDeleted bool     `json:"exe_deleted"`
	Root       string   `json:"root"`
	Wchan      string   `json:"wchan"`
}

type environView struct {
	// Keys are every variable's name; an entry without '=' (whose whole text would be its name) is
	// shown by its size only.
	Keys []string `json:"keys"`
	// Values are those of the allowlisted names (runtimediag.WithEnvAllowlist), secret-looking
	// names still redacted.
	Values map[string]string `json:"values"`
	Note   string            `json:"note"`
}

type fdsView struct {
	Count      int                          `json:"count"`
	Truncated  bool                         `json:"truncated"`
	ByKind     map[procself.FDKind]int      `json:"by_kind"`
	AnonInodes map[string]int               `json:"anon_inodes"`
	Targets    map[procself.FDKind][]fdView `json:"targets_by_kind"`
}

type fdView struct {
	FD       int    `json:"fd"`
	Target   string `json:"target"`
	AnonType string `json:"anon_type,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
}

type threadsView struct {
	Listed    int            `json:"listed"`
	Truncated bool           `json:"truncated"`
	ByState   map[string]int `json:"by_state"`
	ByWchan   map[string]int `json:"by_wchan"`
	Threads   []threadView   `json:"threads"`
}

type threadView struct {
	TID           int          `json:"tid"`
	Name          string       `json:"name"`
	State         string       `json:"state"`
	StateName     string       `json:"state_name"`
	UserSeconds   float64      `json:"user_seconds"`
	SystemSeconds float64      `json:"system_seconds"`
	MinorFaults   uint64       `json:"minor_faults"`
	MajorFaults   uint64       `json:"major_faults"`
	Processor     int          `json:"processor"`
	WChan         string       `json:"wchan"`
	WChanError    string       `json:"wchan_error,omitempty"`
	Stack         []string     `json:"kernel_stack,omitempty"`
	StackError    string       `json:"kernel_stack_error,omitempty"`
	Syscall       *syscallView `json:"syscall,omitempty"`
	SyscallError  string       `json:"syscall_error,omitempty"`
}

type syscallView struct {
	State          string    `json:"state"` // running, not in a syscall, in a syscall
	Number         int64     `json:"number"`
	Args           [6]uint64 `json:"args"`
	StackPointer   uint64    `json:"stack_pointer"`
	ProgramCounter uint64    `json:"program_counter"`
}

func newSyscallView(s procself.Syscall) syscallView {
	return syscallView{State: s.State.String(), Number: s.Number, Args: s.Args, StackPointer: s.StackPointer, ProgramCounter: s.ProgramCounter}
}

func section[T any](s *runtimediag.Snapshot, src runtimediag.Source, data func() T) procSection[T] {
	sec := procSection[T]{CostSeconds: s.Cost(src).Seconds()}
	if err := s.Err(src); err != nil {
		se := runtimediag.SourceError{Source: src, Err: err}
		sec.Reason, sec.Error = se.Reason(), err.Error()
		// Identity comes back partial, with the reason for each gap; a source with unparseable
		// fields keeps the others (the error names the unread ones, which are zero).
		if src != runtimediag.SourceIdentity && s.Unread(src) == nil {
			return sec
		}
	} else {
		sec.OK = true
	}
	d := data()
	sec.Data = &d
	return sec
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func newProcView(s *runtimediag.Snapshot) *procView {
	v := &procView{Time: s.Time}
	v.Limits = section(s, runtimediag.SourceLimits, func() snakeJSON { return snakeJSON{s.Limits} })
	v.Status = section(s, runtimediag.SourceStatus, func() snakeJSON { return snakeJSON{s.Status} })
	v.Statm = section(s, runtimediag.SourceStatm, func() snakeJSON { return snakeJSON{s.Statm} })
	v.Stat = section(s, runtimediag.SourceStat, func() snakeJSON { return snakeJSON{s.Stat} })
	v.Auxv = section(s, runtimediag.SourceAuxv, func() snakeJSON { return snakeJSON{s.Auxv} })
	v.Identity = section(s, runtimediag.SourceIdentity, func() identityView {
		id := &s.Identity
		return identityView{Cmdline: redactArgs(id.Cmdline), Comm: id.Comm, Cwd: id.Cwd, Exe: id.Exe, ExeDeleted: id.ExeDeleted, Root: id.Root, Wchan: id.Wchan}
	})
	v.Environ = section(s, runtimediag.SourceEnviron, func() environView {
		env := &s.Environ
		ev := environView{
			Keys:   make([]string, len(env.Keys)),
			Values: make(map[string]string, len(env.Values)),
			Note:   "the environment the process started with (/proc/self/environ): values only for allowlisted names (runtimediag.WithEnvAllowlist), never for names that look secret",
		}
		copy(ev.Keys, env.Keys)
		for _, i := range env.NoValue {
			if i >= 0 && i < len(ev.Keys) {
				ev.Keys[i] = "(an entry without '=', " + strconv.Itoa(len(ev.Keys[i])) + " bytes)"
			}
		}
		for k, val := range env.Values {
			ev.Values[k] = redactEnvValue(k, val)
		}
		return ev
	})
	v.FDs = section(s, runtimediag.SourceFDs, func() fdsView {
		f := &s.FDs
		fv := fdsView{Count: f.Count, Truncated: f.Truncated, ByKind: f.ByKind, AnonInodes: f.AnonInodes, Targets: map[procself.FDKind][]fdView{}}
		for _, t := range f.Targets {
			fv.Targets[t.Kind] = append(fv.Targets[t.Kind], fdView{FD: t.FD, Target: t.Target, AnonType: t.AnonType, Deleted: t.Deleted})
		}
		return fv
	})
	v.Threads = section(s, runtimediag.SourceThreads, func() threadsView {
		th := &s.Threads
		tv := threadsView{Listed: th.Listed, Truncated: th.Truncated, ByState: map[string]int{}, ByWchan: map[string]int{}, Threads: make([]threadView, 0, len(th.Threads))}
		for i := range th.Threads {
			t := &th.Threads[i]
			tv.ByState[t.StateName]++
			if t.WChan != "" {
				tv.ByWchan[t.WChan]++
			}
			x := threadView{
				TID: t.TID, Name: t.Name, State: t.State, StateName: t.StateName,
				UserSeconds: t.UserTime.Seconds(), SystemSeconds: t.SystemTime.Seconds(),
				MinorFaults: t.MinorFaults, MajorFaults: t.MajorFaults, Processor: t.Processor,
				WChan: t.WChan, WChanError: errText(t.WChanErr),
				Stack: t.Stack, StackError: errText(t.StackErr), SyscallError: errText(t.SyscallErr),
			}
			if t.SyscallErr == nil {
				sc := newSyscallView(t.Syscall)
				x.Syscall = &sc
			}
			tv.Threads = append(tv.Threads, x)
		}
		return tv
	})
	v.Syscall = section(s, runtimediag.SourceSyscall, func() syscallView { return newSyscallView(s.Syscall) })
	v.Latency = section(s, runtimediag.SourceLatency, func() snakeJSON { return snakeJSON{s.Latency} })
	v.Cgroup = section(s, runtimediag.SourceCgroups, func() snakeJSON { return snakeJSON{s.Cgroups} })
	return v
}

// serveProc reads the process's own /proc files now — a few dozen small reads plus four per
// thread and one per descriptor, no page-table walk — one request at a time.
func (t *tree) serveProc(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "format")
	if err != nil {
		return err
	}
	format, err := p.format("json", "text")
	if err != nil {
		return err
	}
	ctx := r.Context()
	select {
	case t.procSem <- struct{}{}:
	case <-ctx.Done():
		return errClientGone
	}
	snap, err := t.mon.ReadSnapshot(ctx, procSources)
	<-t.procSem
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errClientGone
	}
	v := newProcView(snap)
	if format == "json" {
		return writeJSON(w, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding /proc: %w", err)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "memdiag /proc/self at %s (format=json has the same content, structured)\n", v.Time.UTC().Format(time.RFC3339))
	if err := flattenJSON(&buf, b); err != nil {
		return fmt.Errorf("rendering /proc: %w", err)
	}
	return writeBody(w, contentTypeText, buf.Bytes())
}

// flattenJSON writes a JSON document as one "path = value" line per scalar, in document order,
// which greps well: "threads.threads.3.wchan = futex_do_wait".
func flattenJSON(w io.Writer, doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type frame struct {
		array   bool
		index   int
		key     string
		haveKey bool
	}
	var stack []frame
	expectKey := func() bool { return len(stack) > 0 && !stack[len(stack)-1].array && !stack[len(stack)-1].haveKey }
	pathOf := func() string {
		parts := make([]string, 0, len(stack))
		for _, f := range stack {
			if f.array {
				parts = append(parts, strconv.Itoa(f.index))
			} else {
				parts = append(parts, f.key)
			}
		}
		return strings.Join(parts, ".")
	}
	// advance moves past a finished value: the next array index, or back to awaiting a key.
	advance := func() {
		if len(stack) == 0 {
			return
		}
		if f := &stack[len(stack)-1]; f.array {
			f.index++
		} else {
			f.haveKey = false
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, frame{})
			case '[':
				stack = append(stack, frame{array: true})
			default:
				stack = stack[:len(stack)-1]
				advance()
			}
		case string:
			if expectKey() {
				stack[len(stack)-1].key, stack[len(stack)-1].haveKey = tok, true
				continue
			}
			fmt.Fprintf(w, "%s = %s\n", pathOf(), reporttext.OneLine(tok))
			advance()
		default:
			fmt.Fprintf(w, "%s = %v\n", pathOf(), tok)
			advance()
		}
	}
}
