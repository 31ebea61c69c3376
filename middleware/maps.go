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
	"github.com/memdiag/memdiag/runtimediag/reporttext"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
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
	// Unsized counts the mappings listed from maps when smaps could not be read (Mappings null):
	// their address ranges are known, their resident bytes are not. 0 when smaps was read.
	Unsized int `json:"unsized_count"`
	// UnsizedMappings are those mappings, classified from outside (kernel names, paths, shapes),
	// read when /maps was asked rather than with the report; absent when smaps was read.
	UnsizedMappings []unsizedMapping `json:"unsized_mappings,omitempty"`
	// Notes say why the table is empty or partial (no smaps on this system, for one).
	Notes []string `json:"notes,omitempty"`
}

// unsizedMapping is a mapping from maps: an address range, with no resident bytes to give.
type unsizedMapping struct {
	Start     uintptr                  `json:"start"`
	End       uintptr                  `json:"end"`
	Perms     string                   `json:"perms"`
	SizeBytes uint64                   `json:"size_bytes"`
	Class     runtimediag.MappingClass `json:"class"`
	Name      string                   `json:"name"`
}

// mapsFallbackSources are what /maps reads itself when the report has no per-mapping table.
var mapsFallbackSources = runtimediag.Set(runtimediag.SourceMaps, runtimediag.SourceIdentity)

// unsizedMappings reads maps now and classifies it from outside: what can be listed when smaps
// could not be read. It returns nil, with a note, when maps cannot be read either.
func (t *tree) unsizedMappings(r *http.Request) ([]unsizedMapping, string, error) {
	ctx := r.Context()
	select {
	case t.procSem <- struct{}{}:
	case <-ctx.Done():
		return nil, "", errClientGone
	}
	snap, err := t.mon.ReadSnapshot(ctx, mapsFallbackSources)
	<-t.procSem
	if err != nil {
		return nil, "", err
	}
	if ctx.Err() != nil {
		return nil, "", errClientGone
	}
	if err := snap.Err(runtimediag.SourceMaps); err != nil {
		return nil, "maps could not be read either: " + err.Error(), nil
	}
	c := rssattr.ClassifyMappings(snap.Mappings, rssattr.ExternalProcess{Exe: snap.Identity.Exe, GoProgram: true})
	out := make([]unsizedMapping, len(c.Mappings))
	for i, m := range c.Mappings {
		out[i] = unsizedMapping{Start: m.Start, End: m.End, Perms: m.Perms, SizeBytes: m.SizeBytes, Class: m.Class, Name: m.Name}
	}
	return out, fmt.Sprintf("%d mappings listed from maps, read at %s: address ranges and classes (from outside: no probes), no resident bytes",
		len(out), snap.Time.UTC().Format(time.RFC3339)), nil
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
		// List what maps can still tell, honestly unsized, rather than hiding the mappings.
		ums, note, err := t.unsizedMappings(r)
		if err != nil {
			return err
		}
		v.UnsizedMappings, v.Unsized = ums, len(ums)
		if note != "" {
			v.Notes = append(v.Notes, note)
		}
	}
	for _, c := range rssattr.SumByClass(v.Mappings) {
		v.ByClass = append(v.ByClass, mapsClassTotal{Class: c.Class, Mappings: c.Mappings, SizeBytes: c.SizeBytes, RssBytes: c.RssBytes})
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
	if v.Unsized > 0 {
		count += fmt.Sprintf("; %d unsized mappings from maps", v.Unsized)
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
		fmt.Fprintf(tw, "%012x\t%012x\t%s\t%s\t%s\t%s\t%s\n", m.Start, m.End, m.Perms, humanize.Bytes(m.SizeBytes), humanize.Bytes(m.RssBytes), m.Class, reporttext.OneLine(m.Name))
	}
	tw.Flush()
	if v.Unsized > 0 {
		fmt.Fprintf(&buf, "\nunsized: %d mappings from maps (address ranges only; resident bytes unknown)\n", v.Unsized)
		tw = tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "start\tend\tperms\tsize\trss\tclass\tname\n")
		for _, m := range v.UnsizedMappings {
			fmt.Fprintf(tw, "%012x\t%012x\t%s\t%s\tunsized\t%s\t%s\n", m.Start, m.End, m.Perms, humanize.Bytes(m.SizeBytes), m.Class, reporttext.OneLine(m.Name))
		}
		tw.Flush()
	}
	for _, n := range v.Notes {
		fmt.Fprintf(&buf, "note: %s\n", n)
	}
	return writeBody(w, contentTypeText, buf.Bytes())
}
