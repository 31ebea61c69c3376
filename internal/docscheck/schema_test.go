package docscheck

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/memdiag/memdiag/runtimediag"
)

const docsDir = "../../docs"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(docsDir, "report-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("docs/report-schema.json: %v", err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, name string, b []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s does not follow docs/report-schema.json:\n%v", name, err)
	}
}

// TestSchemaValidatesRealReports validates reports a real Monitor produces in this process (the
// first without a window, the second with one, both with the per-mapping table) and the reports
// recorded elsewhere in the repository.
func TestSchemaValidatesRealReports(t *testing.T) {
	sch := compileSchema(t)
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(10*time.Millisecond), runtimediag.WithFullInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		if i == 1 {
			// The second report has a window: the Monitor's own, once it has two readings.
			if err := mon.Start(ctx); err != nil {
				t.Fatal(err)
			}
			for mon.Stats().WindowReadings < 2 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		rep, err := mon.Report(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, sch, "a live report", b)
		if i == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	recorded, _ := filepath.Glob("../../runtimediag/testdata/analyze/golden/*.report.json")
	more, _ := filepath.Glob("../../cmd/memdiag/testdata/report-*.json")
	recorded = append(recorded, more...)
	if len(recorded) == 0 {
		t.Log("no recorded reports found: only live ones validated")
	}
	for _, p := range recorded {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, sch, p, b)
	}
}

// TestSchemaRejects proves the schema is not vacuous: a report with an unknown category, a
// missing contract key or an extra field fails.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	good, err := os.ReadFile("../../cmd/memdiag/testdata/report-b.json")
	if err != nil {
		t.Skip("no recorded report to mutate:", err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"unknown category", `"name": "go_heap_objects"`, `"name": "go_heap_things"`},
		{"missing key", `"resident_bytes"`, `"resident_bytez"`},
		{"bad severity", `"severity": "info"`, `"severity": "meh"`},
	} {
		b := []byte(strings.Replace(string(good), tc.from, tc.to, 1))
		if bytes.Equal(b, good) {
			t.Fatalf("%s: %q not in the recorded report", tc.name, tc.from)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if sch.Validate(v) == nil {
			t.Errorf("%s: the schema accepted it", tc.name)
		}
	}
}

// TestSchemaMatchesReportType walks the Report type's JSON fields and the schema's properties and
// fails on any field one has and the other lacks, so a field added to the code without the
// schema (or the other way round) is caught even when no recorded report carries it.
func TestSchemaMatchesReportType(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(docsDir, "report-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	fromType := map[string]bool{}
	typeFields(reflect.TypeFor[runtimediag.Report](), "", fromType)
	fromSchema := map[string]bool{}
	schemaFields(schema, schema, "", fromSchema, 0)
	for _, p := range sortedKeys(fromType) {
		if !fromSchema[p] {
			t.Errorf("Report has %s; docs/report-schema.json does not", p)
		}
	}
	for _, p := range sortedKeys(fromSchema) {
		if !fromType[p] {
			t.Errorf("docs/report-schema.json has %s; Report does not", p)
		}
	}
	// report-schema.md explains every field by its path's last element at least.
	md, err := os.ReadFile(filepath.Join(docsDir, "report-schema.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sortedKeys(fromType) {
		if !strings.Contains(string(md), "`"+p+"`") {
			t.Errorf("docs/report-schema.md does not explain `%s`", p)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// typeFields adds the JSON path of every field of t ("rss.categories[].name"), the way
// encoding/json names them.
func typeFields(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return
	}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			typeFields(f.Type, prefix, out)
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		out[p] = true
		typeFields(f.Type, p, out)
	}
}

// schemaFields adds the path of every property the schema describes, following $ref into $defs
// and items into arrays.
func schemaFields(root, s map[string]any, prefix string, out map[string]bool, depth int) {
	if depth > 20 {
		return
	}
	if r, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(r, "#/$defs/")
		def, _ := root["$defs"].(map[string]any)[name].(map[string]any)
		schemaFields(root, def, prefix, out, depth+1)
		return
	}
	if items, ok := s["items"].(map[string]any); ok {
		schemaFields(root, items, prefix+"[]", out, depth+1)
	}
	// An object or null is written {"oneOf": [{"type": "null"}, {"$ref": …}]}.
	for _, k := range []string{"oneOf", "anyOf"} {
		alts, _ := s[k].([]any)
		for _, a := range alts {
			if m, ok := a.(map[string]any); ok {
				schemaFields(root, m, prefix, out, depth+1)
			}
		}
	}
	props, _ := s["properties"].(map[string]any)
	for name, sub := range props {
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		out[p] = true
		if m, ok := sub.(map[string]any); ok {
			schemaFields(root, m, p, out, depth+1)
		}
	}
}

func reflectReport() reflect.Type { return reflect.TypeFor[runtimediag.Report]() }
