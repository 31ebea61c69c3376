package reporttext

import (
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// TestMappingTimeline: the text shows the newest changes of the timeline, each with its kind,
// category, name, size and resident bytes, and no block when there is no change.
func TestMappingTimeline(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var cs []runtimediag.MappingChange
	for i := range 12 {
		cs = append(cs, runtimediag.MappingChange{Time: at.Add(time.Duration(i) * time.Minute), Change: runtimediag.MappingAppeared,
			Class: rssattr.ClassThreadStack, Category: runtimediag.CategoryThreadStacks, Name: "(pthread stack)",
			SizeAfterBytes: 8 << 20, RssAfterBytes: 12 << 10, MappingsAfter: 2})
	}
	cs = append(cs, runtimediag.MappingChange{Time: at.Add(time.Hour), Change: runtimediag.MappingGrew, Class: rssattr.ClassFileMapping,
		Category: runtimediag.CategoryFileMappings, Name: "/var/lib/app/data.db",
		SizeBeforeBytes: 64 << 20, SizeAfterBytes: 256 << 20, RssBeforeBytes: 64 << 20, RssAfterBytes: 256 << 20, MappingsBefore: 1, MappingsAfter: 1})
	var b strings.Builder
	if err := Write(&b, &runtimediag.Report{Leaks: &runtimediag.Leaks{MappingChanges: cs}}, ""); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"MAPPING TIMELINE (the newest 10 of 13 changes", "04:04:05  grew", "file_mappings",
		"/var/lib/app/data.db", "size 64.0 MiB → 256 MiB", "appeared  thread_stacks  (pthread stack)", "size 8.0 MiB"} {
		if !strings.Contains(out, want) {
			t.Errorf("the text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "03:04:05") || strings.Contains(out, "03:05:05") {
		t.Errorf("the text shows more than the newest 10 changes:\n%s", out)
	}
	b.Reset()
	if err := Write(&b, &runtimediag.Report{Leaks: &runtimediag.Leaks{}}, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "MAPPING TIMELINE") {
		t.Errorf("a block without changes:\n%s", b.String())
	}
}
