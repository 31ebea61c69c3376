package gate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// formatNum prints integers as integers and everything else with four significant digits, so
// that golden outputs do not depend on float noise beyond what a reader cares about.
func formatNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func formatPct(v float64) string {
	return strconv.FormatFloat(v*100, 'g', 3, 64) + "%"
}

func formatChange(r Row) string {
	c := r.Change()
	switch {
	case math.IsNaN(c):
		return "+" + formatNum(r.New-r.Base)
	case c == 0:
		return "0%"
	}
	return fmt.Sprintf("%+.2f%%", c*100)
}

// criterion says what a row was held to: the allowed increase, or the corrected p threshold.
func criterion(r Row) string {
	if r.Against == "budget" {
		return "max " + formatNum(r.Base)
	}
	switch {
	case r.Method == MethodExact:
		return "+" + formatNum(r.Allowed)
	case r.Outcome == OutcomeTooFewSamples:
		return fmt.Sprintf("α=%.3g", r.Alpha)
	case r.Exact:
		return fmt.Sprintf("p=%.3g α=%.3g +%s", r.P, r.Alpha, formatNum(r.Allowed))
	}
	return fmt.Sprintf("p=%.3g α=%.3g", r.P, r.Alpha)
}

func samples(r Row) string {
	if r.Against == "budget" {
		return strconv.Itoa(r.NewN)
	}
	return fmt.Sprintf("%d+%d", r.BaseN, r.NewN)
}

// WriteText writes the report as aligned text, one row per benchmark and unit, like benchstat.
func WriteText(w io.Writer, rep *Report) error {
	var b strings.Builder
	writeHeader(&b, rep)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tunit\tbase\tnew\tchange\tcriterion\tn\tverdict\t")
	for _, r := range rep.Rows {
		base := formatNum(r.Base)
		if r.Against == "budget" {
			base = "budget"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rowName(r), r.Unit, base, formatNum(r.New),
			formatChange(r), criterion(r), samples(r), verdictText(r.Verdict))
	}
	tw.Flush()
	writeNotes(&b, rep, "  ")
	for _, e := range rep.Explanations {
		fmt.Fprintf(&b, "\nwhich code changed in %s:\n", e.Benchmark.Name)
		if e.Error != "" {
			fmt.Fprintf(&b, "  no explanation: %s\n", e.Error)
			continue
		}
		WriteSites(&b, e.Sites, 10)
	}
	fmt.Fprintf(&b, "\n%s (exit %d)\n", rep.Summary, rep.Exit)
	_, err := io.WriteString(w, b.String())
	return err
}

// rowName is the benchmark's name with the part of its configuration that tells it apart.
func rowName(r Row) string {
	if r.Config == "" {
		return r.Benchmark.Name
	}
	return r.Benchmark.Name + " [" + r.Config + "]"
}

func verdictText(v Verdict) string {
	if v == Regressed {
		return "REGRESSED"
	}
	return string(v)
}

func writeHeader(b *strings.Builder, rep *Report) {
	pkgs := map[string]bool{}
	for _, r := range rep.Rows {
		pkgs[r.Benchmark.Pkg] = true
	}
	if len(rep.BaseFiles) > 0 {
		fmt.Fprintf(b, "base: %s\n", strings.Join(rep.BaseFiles, " "))
	}
	fmt.Fprintf(b, "new: %s\n", strings.Join(rep.NewFiles, " "))
	if rep.BudgetsFile != "" {
		fmt.Fprintf(b, "budgets: %s\n", rep.BudgetsFile)
	}
	if rep.UTests > 0 {
		fmt.Fprintf(b, "U test at alpha %.3g (%.3g over %d comparisons); a regression moves the median by the minimum effect %s (noisy units) or the tolerance (exact units that vary)\n",
			rep.Alpha/float64(max(rep.UTests, 1)), rep.Alpha, rep.UTests, formatPct(rep.MinEffect))
	}
	if len(rep.ConfigKeys) > 0 {
		fmt.Fprintf(b, "configurations kept apart by %s: results that differ in them are neither pooled nor compared, as in benchstat\n",
			strings.Join(rep.ConfigKeys, ", "))
	}
	if len(pkgs) == 1 {
		for p := range pkgs {
			if p != "" {
				fmt.Fprintf(b, "pkg: %s\n", p)
			}
		}
	}
	b.WriteByte('\n')
}

func writeNotes(b *strings.Builder, rep *Report, indent string) {
	var notes []string
	for _, r := range rep.Rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("%s %s: %s", rowName(r), r.Unit, r.Note))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range notes {
			b.WriteString(indent + n + "\n")
		}
	}
	if len(rep.Problems) > 0 {
		b.WriteString("\nproblems:\n")
		for _, p := range rep.Problems {
			fmt.Fprintf(b, "%s%s: %s\n", indent, p.Kind, p.Message)
		}
	}
}

// WriteJSON writes the report as indented JSON; the fields are those of [Report].
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteMarkdown writes the report for a pull-request comment: the summary first, then the
// regressions, then everything else folded away.
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### memdiag gate: %s\n\n", rep.Summary)
	var bad, rest []Row
	for _, r := range rep.Rows {
		if r.Verdict == Regressed || r.Verdict == Inconclusive {
			bad = append(bad, r)
		} else {
			rest = append(rest, r)
		}
	}
	table := func(rows []Row) {
		b.WriteString("| benchmark | unit | base | new | change | criterion | n | verdict |\n")
		b.WriteString("|---|---|--:|--:|--:|---|--:|---|\n")
		for _, r := range rows {
			base := formatNum(r.Base)
			if r.Against == "budget" {
				base = "budget"
			}
			v := string(r.Verdict)
			if r.Verdict == Regressed {
				v = "**regressed**"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", rowName(r), r.Unit, base,
				formatNum(r.New), formatChange(r), criterion(r), samples(r), v)
		}
	}
	if len(bad) > 0 {
		table(bad)
		b.WriteByte('\n')
	}
	if len(rest) > 0 {
		fmt.Fprintf(&b, "<details><summary>%d other comparison%s</summary>\n\n", len(rest), plural(len(rest)))
		table(rest)
		b.WriteString("\n</details>\n\n")
	}
	var notes strings.Builder
	writeNotes(&notes, rep, "- ")
	if notes.Len() > 0 {
		b.WriteString(strings.TrimPrefix(notes.String(), "\n"))
		b.WriteByte('\n')
	}
	for _, e := range rep.Explanations {
		fmt.Fprintf(&b, "**Which code changed in `%s`**\n\n", e.Benchmark.Name)
		if e.Error != "" {
			fmt.Fprintf(&b, "No explanation: %s\n\n", e.Error)
			continue
		}
		b.WriteString("```\n")
		WriteSites(&b, e.Sites, 10)
		b.WriteString("```\n\n")
	}
	fmt.Fprintf(&b, "Exit %d.", rep.Exit)
	if len(rep.BaseFiles) > 0 {
		fmt.Fprintf(&b, " Base: `%s`.", strings.Join(rep.BaseFiles, " "))
	}
	if rep.BudgetsFile != "" {
		fmt.Fprintf(&b, " Budgets: `%s`.", rep.BudgetsFile)
	}
	fmt.Fprintf(&b, " New: `%s`.\n", strings.Join(rep.NewFiles, " "))
	_, err := io.WriteString(w, b.String())
	return err
}
