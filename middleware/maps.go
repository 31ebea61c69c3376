package middleware

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// mapsView is /maps?format=json: the full tier's per-mapping table and the totals by class.
type mapsView struct {
	Time time.Time `json:"time"`
	Tier string    `json:"tier"`
	// ResidentBytes is the report's resident set; null when it was not read.
	ResidentBytes *uint64          `json:"resident_bytes"`
	ByClass       []mapsClassTotal `json:"by_class"`
	// Mappings is the full tier's table; null when the report has none (smaps unread), which is
	// not a process without mappings.
	Mappings []runtimediag.ClassifiedMapping `json:"mappings"`
	// Notes say why the table is empty or partial (no smaps on this system, for one).
	Notes []string `json:"notes,omitempty"`
}

type mapsClassTotal struct {
	Class     runtimediag.MappingClass `json:"class"`
	Mappings  int                      `json:"mappings"`
	SizeBytes uint64                   `json:"size_bytes"`
	RssBytes  uint64                   `json:"rss_bytes"`
}

// serveMaps serves the classified mappings of a full report (shared with /report.json within
// reportReuse): the cost is the report's, a walk of every page table under the mmap lock.
func (t *tree) serveMaps(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "format")
	if err != nil {
		return err
	}
	format, err := p.format("text", "json")
	if err != nil {
		return err
	}
	rep, err := t.report(r.Context(), 0)
	if err != nil {
		return err
	}
	v := mapsView{
		Time:     rep.RSS.Time,
		Tier:     rep.RSS.Tier,
		ByClass:  []mapsClassTotal{},
		Mappings: rep.RSS.Mappings,
		Notes:    rep.RSS.Notes,
	}
	if rep.RSS.ResidentKnown() {
		v.ResidentBytes = &rep.RSS.ResidentBytes
	}
	if v.Mappings == nil {
		v.Notes = append(slices.Clone(v.Notes), "no per-mapping table: "+noMappingsReason(rep))
	}
	idx := map[runtimediag.MappingClass]int{}
	for _, m := range v.Mappings {
		i, ok := idx[m.Class]
		if !ok {
			i = len(v.ByClass)
			idx[m.Class] = i
			v.ByClass = append(v.ByClass, mapsClassTotal{Class: m.Class})
		}
		c := &v.ByClass[i]
		c.Mappings++
		c.SizeBytes += m.SizeBytes
		c.RssBytes += m.RssBytes
	}
	slices.SortFunc(v.ByClass, func(a, b mapsClassTotal) int {
		return cmp.Or(cmp.Compare(b.RssBytes, a.RssBytes), cmp.Compare(a.Class, b.Class))
	})
	if format == "json" {
		return writeJSON(w, v)
	}
	var buf bytes.Buffer
	count, resident := "no per-mapping table", "not read"
	if v.Mappings != nil {
		count = strconv.Itoa(len(v.Mappings)) + " mappings"
	}
	if v.ResidentBytes != nil {
		resident = humanize.Bytes(*v.ResidentBytes)
	}
	fmt.Fprintf(&buf, "memdiag mappings at %s: %s, resident %s (tier %s)\n\n",
		v.Time.UTC().Format(time.RFC3339), count, resident, v.Tier)
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "class\tmappings\tsize\trss\n")
	for _, c := range v.ByClass {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", c.Class, c.Mappings, humanize.Bytes(c.SizeBytes), humanize.Bytes(c.RssBytes))
	}
	tw.Flush()
	buf.WriteString("\n")
	tw = tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "start\tend\tperms\tsize\trss\tclass\tname\n")
	for _, m := range v.Mappings {
		fmt.Fprintf(tw, "%012x\t%012x\t%s\t%s\t%s\t%s\t%s\n", m.Start, m.End, m.Perms, humanize.Bytes(m.SizeBytes), humanize.Bytes(m.RssBytes), m.Class, oneLine(m.Name))
	}
	tw.Flush()
	for _, n := range v.Notes {
		fmt.Fprintf(&buf, "note: %s\n", n)
	}
	return writeBody(w, contentTypeText, buf.Bytes())
}
