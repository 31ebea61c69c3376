package middleware

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag"
)

// TestEndpoints fetches every endpoint of the tree once and checks that it answers with its
// declared type and the hygiene headers.
func TestEndpoints(t *testing.T) {
	if alonetest.Run(t) {
		return
	}
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	if _, err := mon.Capture(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	id := mon.Captures()[0].ID
	for _, tc := range []struct {
		target, contentType, contains string
	}{
		{"report.json", "application/json", `"rss"`},
		{"report.txt", "text/plain", "RESIDENT"},
		{"history.json", "application/json", `"resident_bytes"`},
		{"maps", "text/plain", "memdiag mappings"},
		{"maps?format=json", "application/json", `"mappings"`},
		{"proc", "application/json", `"limits"`},
		{"proc?format=text", "text/plain", "status."},
		{"allocs?seconds=1", "text/plain", "GC cycles completed in the window"},
		{"allocs?seconds=1&format=json&top=5", "application/json", `"sample_rate_bytes"`},
		{"fgprof?seconds=1&format=folded", "text/plain", ""},
		{"fgprof?seconds=1", "application/octet-stream", ""},
		{"leaks", "application/json", `"suspects"`},
		{"leaks.json", "application/json", `"suspects"`},
		{"leaks?format=text", "text/plain", "WHAT GROWS"},
		{"leaks.txt", "text/plain", "WHAT GROWS"},
		{"captures", "application/json", `"trigger": "manual"`},
		{"captures?format=text", "text/plain", "captures/" + itoa(id) + "/heap"},
		{"captures/" + itoa(id) + "/heap", "application/octet-stream", ""},
		{"captures/" + itoa(id) + "/goroutine", "application/octet-stream", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			w := serve(h, "GET", testPrefix+tc.target, "")
			checkHygiene(t, w)
			b := body(t, w)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, b)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.contentType)
			}
			if !strings.Contains(b, tc.contains) {
				t.Errorf("body lacks %q:\n%.2000s", tc.contains, b)
			}
			if len(b) == 0 {
				t.Errorf("empty body")
			}
		})
	}
}

func itoa(n uint64) string { return strings.TrimSpace(strings.Repeat(" ", 0) + uintText(n)) }

func uintText(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestProcSections checks that /proc decodes every file it names, and says why for any it could
// not read.
func TestProcSections(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	w := serve(h, "GET", testPrefix+"proc", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, body(t, w))
	}
	var v map[string]struct {
		OK     bool            `json:"ok"`
		Reason string          `json:"reason"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	raw := body(t, w)
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &top); err != nil {
		t.Fatal(err)
	}
	delete(top, "time")
	b, _ := json.Marshal(top)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"limits", "status", "statm", "stat", "auxv", "identity", "environ", "fds", "threads", "syscall", "latency", "cgroup"} {
		s, ok := v[name]
		switch {
		case !ok:
			t.Errorf("%s: missing", name)
		case !s.OK && (s.Reason == "" || s.Error == ""):
			t.Errorf("%s: not read and no reason given", name)
		case runtime.GOOS == "linux" && !s.OK && name != "latency" && name != "syscall" && name != "auxv" && name != "cgroup":
			t.Errorf("%s: not read on Linux: %s (%s)", name, s.Reason, s.Error)
		}
	}
	if runtime.GOOS == "linux" {
		for _, want := range []string{`"targets_by_kind"`, `"state_name"`, `"wchan"`, `"cmdline"`, `"open_files"`, `"soft_files"`, `"vm_rss_bytes"`, `"u_time_seconds"`} {
			if !strings.Contains(raw, want) {
				t.Errorf("/proc lacks %s", want)
			}
		}
	}
}

func TestHandlerOptionErrors(t *testing.T) {
	if _, err := NewHandler(nil); err == nil {
		t.Error("NewHandler(nil): no error")
	}
	mon := newTestMonitor(t)
	if _, err := NewHandler(mon, WithPrefix("nope")); err == nil {
		t.Error("NewHandler with a bad prefix: no error")
	}
	w := serve(Handler(mon, WithPrefix("nope")), "GET", testPrefix+"report.json", "")
	checkHygiene(t, w)
	if w.Code != http.StatusInternalServerError || !strings.Contains(body(t, w), "WithPrefix") {
		t.Errorf("misconfigured handler: %d %q", w.Code, body(t, w))
	}
}

func TestWithPrefix(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon, WithPrefix("/ops/mem/"))
	if w := serve(h, "GET", "/ops/mem/history.json", ""); w.Code != http.StatusOK {
		t.Errorf("under the prefix: %d %s", w.Code, body(t, w))
	}
	if w := serve(h, "GET", testPrefix+"history.json", ""); w.Code != http.StatusNotFound {
		t.Errorf("under the default prefix: %d, want 404", w.Code)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/mem/", h)
	if w := serve(mux, "HEAD", "/ops/mem/report.txt", ""); w.Code != http.StatusOK {
		t.Errorf("HEAD through a ServeMux: %d", w.Code)
	}
}

func TestMonitorClosed(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	mon.Close()
	w := serve(h, "GET", testPrefix+"report.json", "")
	checkHygiene(t, w)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("report after Close: %d %s, want 503", w.Code, body(t, w))
	}
	_ = runtimediag.ErrClosed
}

// TestSnakeCase: procself's Go field names become snake_case keys that keep their unit.
func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"VmRSSBytes": "vm_rss_bytes", "CPUTime": "cpu_time", "SoftUnlimited": "soft_unlimited", "UIDs": "uids",
		"NSPIDs": "nspids", "CPUsAllowed": "cpus_allowed", "TGID": "tgid", "PID": "pid", "UTimeTicks": "u_time_ticks",
		"FDSize": "fd_size", "HWCap": "hw_cap", "THPEnabled": "thp_enabled", "ExecFn": "exec_fn", "StringsErr": "strings_err",
		"NonVoluntaryCtxtSwitches": "non_voluntary_ctxt_switches", "MinSigStkSzBytes": "min_sig_stk_sz_bytes", "Version": "version",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
