package escape

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Units says what Site.Objects and Site.Bytes count, for the renderers: "/op" for a benchmark's
// per-iteration figures, "/s" for a running service's rates.
type Units struct {
	Objects, Bytes string
}

// PerOp are a benchmark's units.
var PerOp = Units{Objects: "objects/op", Bytes: "B/op"}

func num(v float64) string {
	if v >= 1000 || v <= -1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// WriteText writes the explanations as numbered blocks: the site and its figures, the line
// of code, the allocated expression, the reason, the remedy and the compiler's flow.
func WriteText(w io.Writer, es []Explanation, u Units) error {
	var b strings.Builder
	if len(es) == 0 {
		b.WriteString("no allocation site in the module's own code\n")
	}
	for i, e := range es {
		fmt.Fprintf(&b, "%d. %s %s: %s %s, %s %s\n", i+1, where(e.App), e.App.Function, num(e.Objects), u.Objects, num(e.Bytes), u.Bytes)
		if e.Source != "" {
			fmt.Fprintf(&b, "   %s\n", e.Source)
		}
		if e.Library() {
			fmt.Fprintf(&b, "   allocated inside: %s (%s)\n", e.Leaf.Function, where(e.Leaf))
		}
		if e.Expr != "" {
			fmt.Fprintf(&b, "   allocated: %s (%s)\n", e.Expr, shortAt(e.At))
		}
		fmt.Fprintf(&b, "   why [%s]: %s\n", e.Kind, e.Reason)
		fmt.Fprintf(&b, "   fix: %s\n", e.Remedy)
		if len(e.Flow) > 0 {
			b.WriteString("   compiler:\n")
			for _, l := range e.Flow {
				fmt.Fprintf(&b, "     %s\n", l)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the explanations for a pull-request comment: a table of the sites, then
// each site's reason, remedy and compiler flow.
func WriteMarkdown(w io.Writer, es []Explanation, u Units) error {
	var b strings.Builder
	if len(es) == 0 {
		b.WriteString("No allocation site in the module's own code.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "| # | site | %s | %s | reason |\n|--:|---|--:|--:|---|\n", u.Objects, u.Bytes)
	for i, e := range es {
		site := "`" + where(e.App) + "` " + mdEscape(e.App.Function)
		if e.Library() {
			site += " (in `" + mdEscape(e.Leaf.Function) + "`)"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", i+1, site, num(e.Objects), num(e.Bytes), e.Kind)
	}
	b.WriteByte('\n')
	for i, e := range es {
		fmt.Fprintf(&b, "**%d. `%s`** `%s`\n\n", i+1, where(e.App), mdEscape(e.Source))
		if e.Expr != "" {
			fmt.Fprintf(&b, "- allocated: `%s`\n", mdEscape(e.Expr))
		}
		fmt.Fprintf(&b, "- why (%s): %s\n- fix: %s\n", e.Kind, mdEscape(e.Reason), mdEscape(e.Remedy))
		if len(e.Flow) > 0 {
			b.WriteString("\n<details><summary>compiler flow</summary>\n\n```\n")
			for _, l := range e.Flow {
				b.WriteString(l + "\n")
			}
			b.WriteString("```\n</details>\n")
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortAt drops the directories of a file:line:col.
func shortAt(at string) string {
	if i := strings.LastIndexAny(at, `/\`); i >= 0 {
		return at[i+1:]
	}
	return at
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
