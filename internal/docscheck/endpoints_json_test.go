package docscheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/runtimediag"
)

// endpointSchemas names, for every endpoint that answers JSON, the definition of
// docs/report-schema.json its answer follows ("" for the root: the report).
var endpointSchemas = []struct{ path, def string }{
	{"report.json", ""},
	{"history.json", "History"},
	{"maps?format=json", "Maps"},
	{"proc", "Proc"},
	{"captures", "Captures"},
	{"allocs?seconds=1&format=json&top=5", "Allocs"},
	{"pprof/?format=json", "PprofIndex"},
	{"POST captures", "CaptureInfo"},
	{"leaks", "Leaks"},
	{"POST gc", "GCResult"},
	{"POST setgc", "SetGCResult"},
	{"events", "Point"}, // each server-sent event's data
}

// liveEndpoints fetches every JSON endpoint of a real Monitor's tree, through a real server, after
// a capture and with an instrumented route, so that routes, captures and events have content.
func liveEndpoints(t *testing.T) map[string][]byte {
	t.Helper()
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(20*time.Millisecond), runtimediag.WithFullInterval(0), runtimediag.WithLogInterval(0),
		// A series of the application's own, so that history.json and events carry its values.
		runtimediag.WithCustomSeries("queue depth", runtimediag.UnitCount, func() float64 { return 3 }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	if err := mon.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	tree, err := middleware.NewHandler(mon, middleware.WithRuntimeControl())
	if err != nil {
		t.Fatal(err)
	}
	// setgc sets GOGC to what it is: the test changes nothing.
	gogc := debug.SetGCPercent(100)
	debug.SetGCPercent(gogc)
	postBodies := map[string]string{"captures": `{"reason":"schema test"}`, "gc": `{}`, "setgc": fmt.Sprintf(`{"gogc":%d}`, gogc)}
	instrument, err := middleware.NewInstrument(mon)
	if err != nil {
		t.Fatal(err)
	}
	app := http.NewServeMux()
	app.HandleFunc("GET /app/{id}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("/debug/memdiag/", tree)
	mux.Handle("/app/", instrument(app))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for i := range 20 {
		resp, err := http.Get(srv.URL + "/app/" + string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := mon.Capture(ctx, "schema test"); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range endpointSchemas {
		if e.path == "events" {
			out[e.path] = firstEvent(t, ctx, srv.URL+"/debug/memdiag/events")
			continue
		}
		var resp *http.Response
		var err error
		if p, ok := strings.CutPrefix(e.path, "POST "); ok {
			resp, err = http.Post(srv.URL+"/debug/memdiag/"+p, "application/json", strings.NewReader(postBodies[p]))
		} else {
			resp, err = http.Get(srv.URL + "/debug/memdiag/" + e.path)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode/100 != 2 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s %v: %.300s", e.path, resp.StatusCode, resp.Header.Get("Content-Type"), err, b)
		}
		out[e.path] = b
	}
	return out
}

// firstEvent reads the data of the first server-sent event.
func firstEvent(t *testing.T, ctx context.Context, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			return []byte(data)
		}
	}
	t.Fatalf("events: no data before the stream ended: %v", sc.Err())
	return nil
}

// TestSchemaValidatesEveryEndpoint validates the live answer of every JSON endpoint against its
// definition in docs/report-schema.json.
func TestSchemaValidatesEveryEndpoint(t *testing.T) {
	live := liveEndpoints(t)
	path, err := filepath.Abs(filepath.Join(docsDir, "report-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, e := range endpointSchemas {
		ref := path
		if e.def != "" {
			ref += "#/$defs/" + e.def
		}
		sch, err := c.Compile(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		validate(t, sch, e.path, live[e.path])
		// Not vacuous: the same answer with its first key misspelt is refused.
		bad := firstKey.ReplaceAll(live[e.path], []byte(`"${1}_misspelt":`))
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(bad, live[e.path]) || sch.Validate(v) == nil {
			t.Errorf("%s: the schema accepts a misspelt key", e.path)
		}
	}
}

var firstKey = regexp.MustCompile(`"([a-z_]+)":`)

// TestSchemaMatchesEndpointTypes: the exported types other endpoints marshal have exactly the
// fields their definitions describe, as TestSchemaMatchesReportType checks the report.
func TestSchemaMatchesEndpointTypes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(docsDir, "report-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	defs := schema["$defs"].(map[string]any)
	for _, tc := range []struct {
		def string
		typ reflect.Type
	}{
		{"Point", reflect.TypeFor[runtimediag.Point]()},
		{"CaptureInfo", reflect.TypeFor[runtimediag.CaptureInfo]()},
	} {
		fromType, fromSchema := map[string]bool{}, map[string]bool{}
		typeFields(tc.typ, "", fromType)
		// A MarshalJSON may write keys no field is tagged with: take those from a marshalled value.
		if m, ok := reflect.New(tc.typ).Interface().(json.Marshaler); ok {
			b, err := m.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := json.Unmarshal(b, &obj); err != nil {
				t.Fatal(err)
			}
			for k := range obj {
				fromType[k] = true
			}
		}
		def, _ := defs[tc.def].(map[string]any)
		props, _ := def["properties"].(map[string]any)
		for k := range props {
			fromSchema[k] = true
		}
		for k := range fromType {
			if !strings.Contains(k, ".") && !fromSchema[k] {
				t.Errorf("%s has %s; $defs/%s does not", tc.typ, k, tc.def)
			}
		}
		for k := range fromSchema {
			if !fromType[k] {
				t.Errorf("$defs/%s has %s; %s does not", tc.def, k, tc.typ)
			}
		}
	}
}

// Key rules for every JSON endpoint: keys are snake_case, and a key whose value is a number names
// its unit — it ends in one of unitSuffixes — or is one of countKeys (a count of the thing it
// names, or an identifier). docs/report-schema.md documents both lists; dataMaps are objects whose
// keys are data (environment names, descriptor kinds), not field names.
var (
	snakeKey     = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	unitSuffixes = []string{"bytes", "seconds", "microseconds", "ticks", "per_second", "fraction", "share", "ratio",
		"cores", "total", "count", "addr", "files", "processes", "locks", "signals", "priority"}
	countKeys = []string{
		// counts of the thing named
		"goroutines", "threads", "requests", "delayed_requests", "samples", "probes", "attempts", "mappings", "listed",
		"gc_cycles", "finalizer_backlog", "cleanup_backlog", "open_fds", "open_fds_limit", "minor_faults", "major_faults",
		"minor_faults_children", "major_faults_children", "voluntary_ctxt_switches", "non_voluntary_ctxt_switches",
		"num_threads", "fd_size", "phnum", "in_flight",
		// identifiers, positions and settings that have no unit
		"id", "tid", "pid", "ppid", "tgid", "pgrp", "session", "tty", "tpgid", "tracer_pid", "uids", "gids", "nspids",
		"uid", "euid", "gid", "egid", "line", "number", "version", "processor", "cpus_allowed", "priority", "nice",
		"rt_priority", "policy", "flags", "gogc", "gomaxprocs", "type", "value", "args", "hw_cap", "hw_cap2",
		// addresses
		"start", "end", "entry", "base", "phdr", "sysinfo_ehdr", "stack_pointer", "program_counter",
		"start_code", "end_code", "start_stack", "start_data", "end_data", "start_brk",
		// ratios without the word (documented in report-schema.md)
		"churn", "relative_error",
		// the application's own series, each in the unit it was declared with (WithCustomSeries)
		"custom_series_values",
	}
	dataMaps = []string{"proc.environ.data.values", "proc.fds.data.by_kind", "proc.fds.data.anon_inodes",
		"proc.fds.data.targets_by_kind", "proc.threads.data.by_state", "proc.threads.data.by_wchan"}
)

// TestEveryJSONKeyIsSnakeCaseWithUnit walks every key of every JSON endpoint's live answer.
func TestEveryJSONKeyIsSnakeCaseWithUnit(t *testing.T) {
	live := liveEndpoints(t)
	problems := map[string]bool{}
	for _, e := range endpointSchemas {
		dec := json.NewDecoder(bytes.NewReader(live[e.path]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", e.path, err)
		}
		root := strings.TrimSuffix(strings.SplitN(e.path, "?", 2)[0], ".json")
		walkKeys(root, v, problems)
	}
	var list []string
	for p := range problems {
		list = append(list, p)
	}
	sort.Strings(list)
	for _, p := range list {
		t.Error(p)
	}
}

func walkKeys(path string, v any, problems map[string]bool) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			walkKeys(path+"[]", x, problems)
		}
	case map[string]any:
		if slices.Contains(dataMaps, path) {
			return
		}
		for k, x := range v {
			p := path + "." + k
			if !snakeKey.MatchString(k) {
				problems[p+": not snake_case"] = true
			}
			if isNumeric(x) && !hasUnit(k) {
				problems[p+": a number without a unit suffix ("+strings.Join(unitSuffixes, ", ")+") and not a documented count"] = true
			}
			walkKeys(p, x, problems)
		}
	}
}

// isNumeric reports a number, or an array of numbers (the values of one field).
func isNumeric(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return true
	case []any:
		return len(v) > 0 && isNumeric(v[0])
	}
	return false
}

func hasUnit(k string) bool {
	if slices.Contains(countKeys, k) {
		return true
	}
	for _, u := range unitSuffixes {
		if k == u || strings.HasSuffix(k, "_"+u) {
			return true
		}
	}
	return false
}
