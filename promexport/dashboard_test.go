package promexport

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const dashboardPath = "../docs/grafana-dashboard.json"

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	SchemaVersion int `json:"schemaVersion"`
	Inputs        []struct {
		Name     string `json:"name"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query struct {
				Query string `json:"query"`
			} `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboardMatchesCollector fails when a query of docs/grafana-dashboard.json names a metric
// the Collector does not export, and when an exported family is on no panel: a dashboard that
// drifts from the code shows empty panels, and a family no panel shows is one nobody looks at.
func TestDashboardMatchesCollector(t *testing.T) {
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want a current Grafana dashboard (≥ 36)", d.SchemaVersion)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs %+v: want one Prometheus datasource input DS_PROMETHEUS", d.Inputs)
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	walkDatasources(raw, func(uid any) {
		if uid != "${DS_PROMETHEUS}" {
			t.Errorf("datasource uid %v: every panel and variable must use ${DS_PROMETHEUS}, so the dashboard imports anywhere", uid)
		}
	})

	exported := map[string]bool{}
	for _, name := range familyNames(newFixtureCollector(t, &fixedSource{})) {
		exported[name] = true
	}
	shown := map[string]bool{}
	check := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s: %q names %s, which the Collector does not export", where, expr, n)
			}
			shown[n] = true
		}
	}
	for _, v := range d.Templating.List {
		m := labelValues.FindStringSubmatch(v.Query.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, v.Query.Query)
			continue
		}
		check("variable "+v.Name, m[1])
	}
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
			queries++
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %s has no query", p.Title)
		}
	}
	var unshown []string
	for n := range exported {
		if !shown[n] {
			unshown = append(unshown, n)
		}
	}
	slices.Sort(unshown)
	if len(unshown) > 0 {
		t.Errorf("exported families on no panel of %s: %v", filepath.Base(dashboardPath), unshown)
	}
	t.Logf("%d panels, %d queries, %d families", len(d.Panels), queries, len(exported))
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_]\w*\)$`)

// walkDatasources calls f with the uid of every "datasource" object in a decoded dashboard.
func walkDatasources(v any, f func(uid any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if ds, ok := e.(map[string]any); ok && k == "datasource" {
				f(ds["uid"])
			}
			walkDatasources(e, f)
		}
	case []any:
		for _, e := range v {
			walkDatasources(e, f)
		}
	}
}

var (
	promqlStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGroupings = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeywords  = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"bool": true, "offset": true, "and": true, "or": true, "unless": true, "atan2": true, "inf": true, "nan": true,
	}
)

// metricNames is a small PromQL identifier scan: what is left once strings, label matchers,
// ranges and grouping clauses are removed, neither a function (followed by "(") nor a keyword nor
// a number, is a metric name.
func metricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlGroupings.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		id := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] == '$' || s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // a Grafana variable or the exponent of a number
		}
		if promqlKeywords[strings.ToLower(id)] || strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " "), "(") {
			continue
		}
		if !slices.Contains(names, id) {
			names = append(names, id)
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`memdiag_resident_bytes`, []string{"memdiag_resident_bytes"}},
		{`sum by (category) (memdiag_rss_category_bytes{job=~"$job", category!="go_heap_free"})`, []string{"memdiag_rss_category_bytes"}},
		{`rate(a_total{x="b c"}[$__rate_interval]) / on(instance) group_left rate(b_total[5m]) > 1e3`, []string{"a_total", "b_total"}},
		{`histogram_quantile(0.99, sum without (le) (rate(x_bucket[1m]))) offset 5m`, []string{"x_bucket"}},
		{`count(up == bool 1) or vector(0)`, []string{"up"}},
	} {
		if diff := cmp.Diff(tc.want, metricNames(tc.expr)); diff != "" {
			t.Errorf("metricNames(%q) (-want +got):\n%s", tc.expr, diff)
		}
	}
}
