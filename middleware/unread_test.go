package middleware

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/runtimediag"
)

// unreadRoot is a /proc root where statm is malformed, smaps and maps are missing and status is a
// directory (unreadable as a file even for root), so that the resident set cannot be read.
func unreadRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	self := filepath.Join(root, "proc", "self")
	if err := os.MkdirAll(filepath.Join(self, "status"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(self, "statm"), []byte("not numbers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestUnreadFiguresAreAbsent: with statm malformed and smaps and maps missing, no surface prints the
// resident set or the unexplained remainder as a measured 0 (or as minus the Go categories):
// report.json has null, report.txt, the page and /maps say "not read", and /maps does not claim
// "0 mappings".
func TestUnreadFiguresAreAbsent(t *testing.T) {
	mon := newTestMonitor(t, runtimediag.WithRoot(unreadRoot(t)))
	h := newTestTree(t, mon)

	w := serve(h, "GET", testPrefix+"report.json", "")
	if w.Code != http.StatusOK {
		t.Fatalf("report.json: %d %s", w.Code, body(t, w))
	}
	var rep struct {
		RSS struct {
			ResidentBytes    *uint64 `json:"resident_bytes"`
			UnexplainedBytes *int64  `json:"unexplained_bytes"`
			NonGoBytes       *uint64 `json:"non_go_bytes"`
			Categories       []struct {
				Name   string  `json:"name"`
				Bytes  *uint64 `json:"bytes"`
				Method string  `json:"method"`
			} `json:"categories"`
		} `json:"rss"`
		Efficiency map[string]json.RawMessage `json:"efficiency"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.RSS.ResidentBytes != nil || rep.RSS.UnexplainedBytes != nil || rep.RSS.NonGoBytes != nil {
		t.Errorf("rss: resident %v, unexplained %v, non-Go %v; want null for each", deref(rep.RSS.ResidentBytes), deref(rep.RSS.UnexplainedBytes), deref(rep.RSS.NonGoBytes))
	}
	for _, c := range rep.RSS.Categories {
		if (c.Bytes == nil) != (c.Method == runtimediag.MethodNotMeasured) {
			t.Errorf("category %s: bytes %v with method %q", c.Name, deref(c.Bytes), c.Method)
		}
	}
	for _, k := range []string{"resident_bytes", "open_fds", "open_fds_limit", "cgroup_usage_bytes"} {
		if v := string(rep.Efficiency[k]); v != "null" {
			t.Errorf("efficiency.%s = %s, want null", k, v)
		}
	}

	txt := body(t, serve(h, "GET", testPrefix+"report.txt", ""))
	if !strings.Contains(txt, "RESIDENT not read") || !strings.Contains(txt, "unexplained not read") {
		t.Errorf("report.txt does not say the resident set was not read:\n%s", txt)
	}
	if strings.Contains(txt, "RESIDENT 0 B") || strings.Contains(txt, "unexplained -") {
		t.Errorf("report.txt prints an unread figure as measured:\n%s", txt)
	}

	maps := body(t, serve(h, "GET", testPrefix+"maps", ""))
	if strings.Contains(maps, "0 mappings") || !strings.Contains(maps, "no per-mapping table") || !strings.Contains(maps, "resident not read") {
		t.Errorf("/maps:\n%s", maps)
	}
	var mv map[string]json.RawMessage
	if err := json.Unmarshal(serve(h, "GET", testPrefix+"maps?format=json", "").Body.Bytes(), &mv); err != nil {
		t.Fatal(err)
	}
	if string(mv["resident_bytes"]) != "null" || string(mv["mappings"]) != "null" {
		t.Errorf("/maps?format=json: resident_bytes %s, mappings %s; want null", mv["resident_bytes"], mv["mappings"])
	}

	page := body(t, serve(h, "GET", testPrefix, ""))
	if !strings.Contains(page, "not read") {
		t.Errorf("the page never says a figure was not read")
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestMapsFallbackIsNotZeroMappings: with smaps unreadable but maps read, /maps says maps was
// read and why there is still no table, rather than "0 mappings".
func TestMapsFallbackIsNotZeroMappings(t *testing.T) {
	root := unreadRoot(t)
	maps := "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/app\n7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0 [stack]\n"
	if err := os.WriteFile(filepath.Join(root, "proc", "self", "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	mon := newTestMonitor(t, runtimediag.WithRoot(root))
	h := newTestTree(t, mon)
	got := body(t, serve(h, "GET", testPrefix+"maps", ""))
	if strings.Contains(got, "0 mappings") || !strings.Contains(got, "maps was, but it has no per-mapping sizes") {
		t.Errorf("/maps with only maps read:\n%s", got)
	}
	// The mappings maps holds are listed, counted as unsized, never with a resident 0.
	for _, want := range []string{"2 unsized mappings from maps", "unsized: 2 mappings", "/usr/bin/app", "[stack]"} {
		if !strings.Contains(got, want) {
			t.Errorf("/maps lacks %q:\n%s", want, got)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if strings.Contains(l, "/usr/bin/app") && (strings.Contains(l, " 0 B") || !strings.Contains(l, "unsized")) {
			t.Errorf("an unsized mapping shows a resident size: %q", l)
		}
	}
	var mv struct {
		Mappings        json.RawMessage              `json:"mappings"`
		Unsized         int                          `json:"unsized_count"`
		UnsizedMappings []map[string]json.RawMessage `json:"unsized_mappings"`
	}
	if err := json.Unmarshal(serve(h, "GET", testPrefix+"maps?format=json", "").Body.Bytes(), &mv); err != nil {
		t.Fatal(err)
	}
	if string(mv.Mappings) != "null" || mv.Unsized != 2 || len(mv.UnsizedMappings) != 2 {
		t.Fatalf("/maps?format=json: mappings %s, unsized %d, %d unsized rows; want null, 2, 2", mv.Mappings, mv.Unsized, len(mv.UnsizedMappings))
	}
	for _, m := range mv.UnsizedMappings {
		if _, ok := m["rss_bytes"]; ok || string(m["size_bytes"]) == "0" {
			t.Errorf("unsized row %v: has rss_bytes, or no size", m)
		}
	}
}
