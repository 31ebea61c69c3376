package reporttext

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// mappingChangesShown is how many of the mapping timeline's newest changes the text shows; the
// JSON has all that are kept.
const mappingChangesShown = 10

// writeMappingChanges writes the newest changes of the mapping timeline (leaks.mapping_changes),
// newest last; nothing when there is none.
func writeMappingChanges(w io.Writer, l *runtimediag.Leaks) {
	if l == nil || len(l.MappingChanges) == 0 {
		return
	}
	cs := l.MappingChanges
	shown := cs[max(len(cs)-mappingChangesShown, 0):]
	fmt.Fprintf(w, "\nMAPPING TIMELINE (the newest %d of %d changes between full reports)\n", len(shown), len(cs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := range shown {
		c := &shown[i]
		name := OneLine(c.Name)
		if name == "" {
			name = "(unnamed)"
		}
		cat := c.Category
		if cat == "" {
			cat = string(c.Class)
		}
		var size, rss string
		switch c.Change {
		case runtimediag.MappingAppeared:
			size, rss = humanize.Bytes(c.SizeAfterBytes), humanize.Bytes(c.RssAfterBytes)
		case runtimediag.MappingWentAway:
			size, rss = humanize.Bytes(c.SizeBeforeBytes), humanize.Bytes(c.RssBeforeBytes)
		default:
			size = humanize.Bytes(c.SizeBeforeBytes) + " → " + humanize.Bytes(c.SizeAfterBytes)
			rss = humanize.Bytes(c.RssBeforeBytes) + " → " + humanize.Bytes(c.RssAfterBytes)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\tsize %s\tresident %s\n", c.Time.UTC().Format(time.TimeOnly), c.Change, cat, name, size, rss)
	}
	tw.Flush()
}
