package middleware

import (
	"strconv"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// The page's figures: a number as the page shows it (humanize's text), its exact value for the
// title attribute and its raw value for data attributes. Every formatting the page does on its
// own is here; the formatters themselves are internal/humanize's.

// figure is a number as the page shows it, with its exact value for the title attribute.
type figure struct {
	Text  string
	Exact string
	Raw   string // the exact value as a plain number, for data attributes
}

func bytesFigure(b uint64) figure {
	return figure{Text: humanize.Bytes(b), Exact: humanize.Comma(b) + " bytes", Raw: strconv.FormatUint(b, 10)}
}

// notReadFigure is a figure whose source could not be read: never a 0 that looks measured.
var notReadFigure = figure{Text: "not read", Exact: "its source could not be read (see the report's sources)"}

// knownBytesFigure is bytesFigure, or notReadFigure for the 0 that stands for an unread figure.
func knownBytesFigure(b uint64) figure {
	if b == 0 {
		return notReadFigure
	}
	return bytesFigure(b)
}

// signedBytesFigure is bytesFigure for a difference, with humanize's minus sign.
func signedBytesFigure(b int64) figure {
	if b >= 0 {
		return bytesFigure(uint64(b))
	}
	f := bytesFigure(uint64(-b)) // uint64(-MinInt64) is still 1<<63
	return figure{Text: humanize.SignedBytes(b), Exact: "-" + f.Exact, Raw: strconv.FormatInt(b, 10)}
}

func floatFigure(text string, v float64, unit string) figure {
	return figure{Text: text, Exact: strconv.FormatFloat(v, 'g', -1, 64) + " " + unit, Raw: strconv.FormatFloat(v, 'g', -1, 64)}
}

func evidenceFigure(e runtimediag.Evidence) figure {
	switch e.Unit {
	case "bytes":
		if e.Value < 0 {
			return signedBytesFigure(int64(e.Value))
		}
		return bytesFigure(uint64(e.Value))
	case "bytes/s":
		return floatFigure(humanize.FloatBytes(e.Value)+"/s", e.Value, e.Unit)
	case "seconds":
		return durationFigure(e.Value)
	case "ratio":
		return floatFigure(humanize.Percent(e.Value), e.Value, e.Unit)
	case "percent":
		return floatFigure(strconv.FormatFloat(e.Value, 'f', 1, 64)+"%", e.Value, e.Unit)
	default:
		return floatFigure(humanize.Count(e.Value)+" "+e.Unit, e.Value, e.Unit)
	}
}

// rangeFigure is a figure known only to lie in a histogram bucket [lo, hi] seconds: the text is
// the range, the exact value both bounds.
func rangeFigure(text string, lo, hi float64) figure {
	l, h := strconv.FormatFloat(lo, 'g', -1, 64), strconv.FormatFloat(hi, 'g', -1, 64)
	return figure{Text: text, Exact: "between " + l + " and " + h + " s (a histogram bucket)", Raw: l + "-" + h}
}

func durationFigure(sec float64) figure { return floatFigure(humanize.Duration(sec), sec, "s") }

// quantileFigure is a latency figure, or "too few samples" when there were too few requests.
func quantileFigure(sec *float64, why string) figure {
	if sec == nil {
		return figure{Text: "too few samples", Exact: why}
	}
	return durationFigure(*sec)
}

func countFigure(n uint64) figure {
	return figure{Text: humanize.Comma(n), Exact: strconv.FormatUint(n, 10), Raw: strconv.FormatUint(n, 10)}
}

// windowSpan is the length of a window or a profile as humanize.Span writes it, or "no window"
// when it is not positive.
func windowSpan(sec float64) string {
	if sec <= 0 {
		return "no window"
	}
	return humanize.Span(sec)
}
