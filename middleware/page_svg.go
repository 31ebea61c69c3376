package middleware

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// The page's charts are SVG computed here, on the server, so that the page needs no script to be
// read and no library to be fetched. Every string that reaches the markup goes through
// html.EscapeString: mapping names, function names and finding text come from the process and may
// hold anything.

// svgWriter builds markup with every attribute value and text escaped.
type svgWriter struct{ b strings.Builder }

// open writes <tag k="v" …>; attrs are name, value pairs.
func (s *svgWriter) open(tag string, attrs ...string) {
	s.b.WriteByte('<')
	s.b.WriteString(tag)
	s.attrs(attrs)
	s.b.WriteByte('>')
}

// void writes <tag … />.
func (s *svgWriter) void(tag string, attrs ...string) {
	s.b.WriteByte('<')
	s.b.WriteString(tag)
	s.attrs(attrs)
	s.b.WriteString("/>")
}

func (s *svgWriter) attrs(attrs []string) {
	for i := 0; i+1 < len(attrs); i += 2 {
		s.b.WriteByte(' ')
		s.b.WriteString(attrs[i])
		s.b.WriteString(`="`)
		s.b.WriteString(html.EscapeString(attrs[i+1]))
		s.b.WriteByte('"')
	}
}

func (s *svgWriter) close(tag string) {
	s.b.WriteString("</")
	s.b.WriteString(tag)
	s.b.WriteByte('>')
}

// text writes escaped character data.
func (s *svgWriter) text(t string) { s.b.WriteString(html.EscapeString(t)) }

// elem writes <tag …>text</tag>.
func (s *svgWriter) elem(tag, text string, attrs ...string) {
	s.open(tag, attrs...)
	s.text(text)
	s.close(tag)
}

// html returns the markup; safe because every piece of it was escaped on the way in.
func (s *svgWriter) html() template.HTML { return template.HTML(s.b.String()) } //nolint:gosec // escaped above

// num formats a coordinate compactly: two decimals are finer than any screen.
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

// categoryColours gives each RSS category one colour, used by the bar, the address-space strip,
// the legends and the script. Go-managed memory is in blues and purples, the rest warm or green,
// so that "how much is Go" reads at a glance.
var categoryColours = map[string]string{
	runtimediag.CategoryGoHeapObjects:   "#1f5fa8",
	runtimediag.CategoryGoHeapUnused:    "#4f93d6",
	runtimediag.CategoryGoHeapFree:      "#9cc3ec",
	runtimediag.CategoryGoStacks:        "#17a2b8",
	runtimediag.CategoryGoRuntime:       "#7b5cc4",
	runtimediag.CategoryThreadStacks:    "#f08c2e",
	runtimediag.CategoryCHeap:           "#d43f3a",
	runtimediag.CategoryBinary:          "#3a9a3a",
	runtimediag.CategorySharedLibraries: "#8fcf7a",
	runtimediag.CategoryFileMappings:    "#b8b228",
	runtimediag.CategorySharedMemory:    "#d46aa8",
	runtimediag.CategoryOtherAnonymous:  "#8c5a3c",
	runtimediag.CategoryKernel:          "#8a8a8a",
}

const unexplainedColour = "#d8d8d8"

// classColours maps mapping classes onto the colour of the category their bytes go to. Anonymous
// mappings are split between go_runtime and other_anonymous, so they get a colour of their own.
var classColours = map[runtimediag.MappingClass]string{
	rssattr.ClassGoHeap:         categoryColours[runtimediag.CategoryGoHeapObjects],
	rssattr.ClassGoRuntime:      categoryColours[runtimediag.CategoryGoRuntime],
	rssattr.ClassThreadStack:    categoryColours[runtimediag.CategoryThreadStacks],
	rssattr.ClassCHeap:          categoryColours[runtimediag.CategoryCHeap],
	rssattr.ClassBinary:         categoryColours[runtimediag.CategoryBinary],
	rssattr.ClassSharedLibrary:  categoryColours[runtimediag.CategorySharedLibraries],
	rssattr.ClassFileMapping:    categoryColours[runtimediag.CategoryFileMappings],
	rssattr.ClassSharedMemory:   categoryColours[runtimediag.CategorySharedMemory],
	rssattr.ClassKernel:         categoryColours[runtimediag.CategoryKernel],
	rssattr.ClassAnonymous:      "#b9a6dd",
	rssattr.ClassOtherAnonymous: categoryColours[runtimediag.CategoryOtherAnonymous],
}

func categoryColour(name string) string {
	if c, ok := categoryColours[name]; ok {
		return c
	}
	return unexplainedColour
}

func classColour(c runtimediag.MappingClass) string {
	if col, ok := classColours[c]; ok {
		return col
	}
	return unexplainedColour
}

// rssBar is the stacked horizontal bar of resident memory: one <rect> per non-empty category,
// carrying data-category, then the unexplained remainder when positive.
func rssBar(rss *runtimediag.RSS) template.HTML {
	const w, h = 1000.0, 40.0
	var total float64
	for _, c := range rss.Categories {
		total += float64(c.Bytes)
	}
	if rss.UnexplainedBytes > 0 {
		total += float64(rss.UnexplainedBytes)
	}
	var s svgWriter
	s.open("svg", "class", "bar", "viewBox", "0 0 1000 40", "preserveAspectRatio", "none",
		"role", "img", "aria-label", "resident memory by category")
	if total == 0 {
		s.close("svg")
		return s.html()
	}
	x := 0.0
	for _, c := range rss.Categories {
		if c.Bytes == 0 {
			continue
		}
		cw := float64(c.Bytes) / total * w
		s.open("rect", "x", num(x), "y", "0", "width", num(cw), "height", num(h),
			"fill", categoryColour(c.Name), "data-category", c.Name, "data-bytes", strconv.FormatUint(c.Bytes, 10))
		s.elem("title", fmt.Sprintf("%s: %s (%s bytes, %s of resident) — %s",
			c.Name, humanize.Bytes(c.Bytes), humanize.Comma(c.Bytes), humanize.Percent(float64(c.Bytes)/float64(max(rss.ResidentBytes, 1))), c.Method))
		s.close("rect")
		x += cw
	}
	if rss.UnexplainedBytes > 0 {
		u := uint64(rss.UnexplainedBytes)
		s.open("rect", "x", num(x), "y", "0", "width", num(w-x), "height", num(h),
			"fill", unexplainedColour, "data-unexplained", strconv.FormatUint(u, 10))
		s.elem("title", fmt.Sprintf("unexplained: %s (%s bytes)", humanize.Bytes(u), humanize.Comma(u)))
		s.close("rect")
	}
	s.close("svg")
	return s.html()
}

// mappingGroup is a run of mappings, in address order, of one class.
type mappingGroup struct {
	Class      runtimediag.MappingClass
	Start, End uintptr
	Count      int
	SizeBytes  uint64
	RssBytes   uint64
	Names      []string // distinct names, at most maxGroupNames
}

const maxGroupNames = 3

func groupMappings(ms []runtimediag.ClassifiedMapping) []mappingGroup {
	var gs []mappingGroup
	for i := range ms {
		m := &ms[i]
		if n := len(gs); n > 0 && gs[n-1].Class == m.Class {
			g := &gs[n-1]
			g.End = m.End
			g.Count++
			g.SizeBytes += m.SizeBytes
			g.RssBytes += m.RssBytes
			g.addName(m.Name)
			continue
		}
		g := mappingGroup{Class: m.Class, Start: m.Start, End: m.End, Count: 1, SizeBytes: m.SizeBytes, RssBytes: m.RssBytes}
		g.addName(m.Name)
		gs = append(gs, g)
	}
	return gs
}

func (g *mappingGroup) addName(n string) {
	if n == "" || len(g.Names) >= maxGroupNames {
		return
	}
	for _, have := range g.Names {
		if have == n {
			return
		}
	}
	g.Names = append(g.Names, n)
}

// addressStrip pictures the address space: one block per group of mappings in address order,
// its width log-scaled from its virtual size (sizes span from a 4 KiB page to terabytes of
// reservation, which no linear scale shows), its filled height the resident share.
func addressStrip(ms []runtimediag.ClassifiedMapping) template.HTML {
	const w, h, gap = 1000.0, 56.0, 1.0
	gs := groupMappings(ms)
	units := make([]float64, len(gs))
	var sum float64
	for i, g := range gs {
		units[i] = 1 + math.Log2(math.Max(float64(g.SizeBytes)/4096, 1))
		sum += units[i]
	}
	var s svgWriter
	s.open("svg", "class", "strip", "viewBox", "0 0 1000 56", "preserveAspectRatio", "none",
		"role", "img", "aria-label", "address space, log-scaled")
	if sum == 0 {
		s.close("svg")
		return s.html()
	}
	scale := (w - gap*float64(len(gs))) / sum
	x := 0.0
	for i, g := range gs {
		gw := units[i] * scale
		col := classColour(g.Class)
		title := fmt.Sprintf("%s: %d mapping(s) %#x–%#x, %s mapped (%s bytes), %s resident (%s bytes)",
			g.Class, g.Count, g.Start, g.End, humanize.Bytes(g.SizeBytes), humanize.Comma(g.SizeBytes), humanize.Bytes(g.RssBytes), humanize.Comma(g.RssBytes))
		if len(g.Names) > 0 {
			title += " — " + strings.Join(g.Names, ", ")
		}
		s.open("g", "data-class", string(g.Class))
		s.elem("title", title)
		s.void("rect", "x", num(x), "y", "0", "width", num(gw), "height", num(h), "fill", col, "fill-opacity", "0.28")
		if g.SizeBytes > 0 && g.RssBytes > 0 {
			rh := math.Max(h*float64(g.RssBytes)/float64(g.SizeBytes), 1.5)
			s.void("rect", "x", num(x), "y", num(h-rh), "width", num(gw), "height", num(rh), "fill", col)
		}
		s.close("g")
		x += gw + gap
	}
	s.close("svg")
	return s.html()
}

// classTotal is one class's line in the address-space legend.
type classTotal struct {
	Class    string
	Colour   string
	Count    int
	Size     figure
	Resident figure
}

func classTotals(ms []runtimediag.ClassifiedMapping) []classTotal {
	var out []classTotal
	for _, c := range rssattr.SumByClass(ms) {
		out = append(out, classTotal{Class: string(c.Class), Colour: classColour(c.Class), Count: c.Mappings,
			Size: bytesFigure(c.SizeBytes), Resident: bytesFigure(c.RssBytes)})
	}
	return out
}

// pauseBins are the GC pause histogram's bin upper bounds: log-spaced, where pauses live.
var pauseBins = []time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond,
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond,
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond,
}

// pauseHistogram draws the exact recent GC pauses in log-spaced bins, with the window's p50, p99
// and max from the runtime's histogram marked on the same axis.
func pauseHistogram(pauses []runtimediag.GCPause, sum runtimediag.PauseSummary) template.HTML {
	const left, right, top, bottom = 40.0, 990.0, 18.0, 150.0
	counts := make([]int, len(pauseBins)+1)
	for _, p := range pauses {
		i := 0
		for i < len(pauseBins) && p.Duration > pauseBins[i] {
			i++
		}
		counts[i]++
	}
	maxCount := 1
	for _, c := range counts {
		maxCount = max(maxCount, c)
	}
	n := len(counts)
	bw := (right - left) / float64(n)
	var s svgWriter
	s.open("svg", "class", "hist", "viewBox", "0 0 1000 180", "role", "img", "aria-label", "GC pause distribution")
	s.void("line", "x1", num(left), "x2", num(right), "y1", num(bottom), "y2", num(bottom), "class", "axis")
	s.elem("text", strconv.Itoa(maxCount), "x", num(left-6), "y", num(top+4), "class", "ylab", "text-anchor", "end")
	s.elem("text", "0", "x", num(left-6), "y", num(bottom), "class", "ylab", "text-anchor", "end")
	for i, c := range counts {
		x := left + float64(i)*bw
		label := "> " + humanize.Duration(pauseBins[len(pauseBins)-1].Seconds())
		lo := "0"
		if i < len(pauseBins) {
			label = "≤ " + humanize.Duration(pauseBins[i].Seconds())
		}
		if i > 0 {
			lo = humanize.Duration(pauseBins[i-1].Seconds())
		}
		bh := (bottom - top) * float64(c) / float64(maxCount)
		s.open("rect", "x", num(x+2), "y", num(bottom-bh), "width", num(bw-4), "height", num(bh), "fill", categoryColour(runtimediag.CategoryGoRuntime), "data-bin", strconv.Itoa(i), "data-count", strconv.Itoa(c))
		hi := label
		if i < len(pauseBins) {
			hi = humanize.Duration(pauseBins[i].Seconds())
		}
		s.elem("title", fmt.Sprintf("%d pause(s) in (%s, %s]", c, lo, hi))
		s.close("rect")
		s.elem("text", label, "x", num(x+bw/2), "y", "166", "class", "xlab", "text-anchor", "middle")
	}
	if len(pauses) == 0 {
		s.elem("text", "no GC pause recorded yet", "x", "500", "y", "90", "text-anchor", "middle", "class", "empty")
	}
	marks := []struct {
		name, rng string
		v         float64
	}{{"p50", sum.P50Range(), sum.P50}, {"p99", sum.P99Range(), sum.P99}, {"max", sum.MaxRange(), sum.Max}}
	for k, m := range marks {
		if sum.Count == 0 || m.v <= 0 {
			continue
		}
		x := pauseX(m.v, left, bw)
		s.open("g", "class", "mark", "data-mark", m.name)
		// Marked at the bucket's upper bound; the title gives the whole bucket.
		s.elem("title", fmt.Sprintf("%s over the window: %s (a histogram bucket; marked at its upper bound, %s s)", m.name, m.rng, strconv.FormatFloat(m.v, 'g', -1, 64)))
		s.void("line", "x1", num(x), "x2", num(x), "y1", num(top-6), "y2", num(bottom), "stroke-dasharray", "4 3")
		s.elem("text", m.name, "x", num(x+3), "y", num(top+float64(k)*12), "class", "marklab")
		s.close("g")
	}
	s.close("svg")
	return s.html()
}

// pauseX places a duration on the histogram's axis: within its bin, log-interpolated between the
// bin's bounds.
func pauseX(sec float64, left, bw float64) float64 {
	d := time.Duration(sec * float64(time.Second))
	i := 0
	for i < len(pauseBins) && d > pauseBins[i] {
		i++
	}
	lo, hi := 1e-6, 0.0
	if i > 0 {
		lo = pauseBins[i-1].Seconds()
	}
	if i < len(pauseBins) {
		hi = pauseBins[i].Seconds()
	} else {
		hi = lo * 10
	}
	f := math.Log(math.Max(sec, lo)/lo) / math.Log(hi/lo)
	return left + bw*(float64(i)+math.Min(math.Max(f, 0), 1))
}
