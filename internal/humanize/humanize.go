// Package humanize formats byte counts, durations, counts and shares for people: the HTML page,
// the text report and the CLI all print them the same way, with one glyph for a figure that is
// absent or not a number ([Absent], an en dash) and one minus sign (ASCII '-', which report.txt
// has always printed and its readers parse). It imports nothing of memdiag so that every
// package, runtimediag included, can use it.
package humanize

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Absent is what every formatter here prints for a figure that is not a number, and what callers
// print for one that was not measured: an en dash, never a 0 that looks measured.
const Absent = "–"

// Bytes formats b in binary units, as the runtime and the kernel count memory: whole bytes
// below 1 KiB, then one decimal below 100 of a unit and none from 100 — "512 B", "68.0 KiB",
// "349 MiB" — at most three significant digits, which is what a person compares.
func Bytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatUint(b, 10) + " B"
	}
	v, i := float64(b), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	prec := 1
	if v >= 99.95 { // would round to 100.0
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + "KMGTPE"[i:i+1] + "iB"
}

// SignedBytes is Bytes for a difference: an ASCII minus when b is negative, no sign otherwise.
func SignedBytes(b int64) string {
	if b < 0 {
		return "-" + Bytes(uint64(-b)) // uint64(-MinInt64) is still 1<<63
	}
	return Bytes(uint64(b))
}

// DeltaBytes is a change in bytes, signed either way ("+12.0 MiB", "-3.5 KiB"), with the one
// minus sign; a float's fraction of a byte is dropped. NaN and infinities are [Absent].
func DeltaBytes(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return Absent
	case v < 0:
		return "-" + Bytes(uint64(-v))
	}
	return "+" + Bytes(uint64(v))
}

// FloatBytes is SignedBytes for a byte figure that arrives as a float — a rate, a mean, a
// finding's evidence — rounded to the byte; NaN and infinities are [Absent].
func FloatBytes(b float64) string {
	if math.IsNaN(b) || math.IsInf(b, 0) {
		return Absent
	}
	return SignedBytes(int64(math.Round(b)))
}

// Comma writes n with a comma between thousands, "58,761,216": an exact value people read.
func Comma(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// Count formats a count or a rate of things (objects/s, cycles): three significant digits below
// 10,000 ([Float]), then "19.4k", "2.50M", "1.20G". NaN is [Absent].
func Count(f float64) string {
	switch {
	case math.IsNaN(f):
		return Absent
	case f >= 1e9:
		return strconv.FormatFloat(f/1e9, 'f', 2, 64) + "G"
	case f >= 1e6:
		return strconv.FormatFloat(f/1e6, 'f', 2, 64) + "M"
	case f >= 1e4:
		return strconv.FormatFloat(f/1e3, 'f', 1, 64) + "k"
	default:
		return Float(f)
	}
}

// Duration formats sec seconds in the unit that keeps one to three digits before the point,
// with three significant digits at most: "49.2 µs", "2.5 ms", "1.5 s", "600 s". NaN is [Absent].
func Duration(sec float64) string {
	switch {
	case math.IsNaN(sec):
		return Absent
	case sec == 0:
		return "0"
	case sec < 0:
		return "-" + Duration(-sec)
	case sec < 1e-6:
		return Float(sec*1e9) + " ns"
	case sec < 1e-3:
		return Float(sec*1e6) + " µs"
	case sec < 1:
		return Float(sec*1e3) + " ms"
	default:
		return Float(sec) + " s"
	}
}

// Span formats a length of time that may run to minutes or hours, a window or a profile's
// duration: [Duration] under a minute, then hours, minutes and seconds as Go writes them, to the
// second: "1m30s", "2h0m0s".
func Span(sec float64) string {
	if sec >= 60 {
		return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
	}
	return Duration(sec)
}

// Clock is the time of day of t in UTC, "15:04:05", or "" for the zero time.
func Clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("15:04:05")
}

// DurationRange formats a histogram bucket [lo, hi) of seconds as the range it is, "between 16.8
// and 33.6 ms": a bucket bound is not a measurement, and a quantile read from a histogram is only
// known to lie in its bucket. An unbounded bucket is "over lo", one starting at or below 0 "under
// hi", equal bounds the one value; NaN is [Absent].
func DurationRange(lo, hi float64) string {
	switch {
	case math.IsNaN(lo) || math.IsNaN(hi):
		return Absent
	case math.IsInf(hi, 1):
		return "over " + Duration(lo)
	case lo <= 0:
		return "under " + Duration(hi)
	case lo == hi:
		return Duration(lo)
	}
	a, b := Duration(lo), Duration(hi)
	if i, j := strings.LastIndexByte(a, ' '), strings.LastIndexByte(b, ' '); i > 0 && j > 0 && a[i:] == b[j:] {
		a = a[:i]
	}
	return "between " + a + " and " + b
}

// Float keeps three significant digits at most, without trailing zeros: "0.24", "12.3", "1235".
func Float(f float64) string {
	switch {
	case f >= 100:
		return strconv.FormatFloat(math.Round(f), 'f', -1, 64)
	case f >= 10:
		return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
	default:
		return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
	}
}

// Percent formats a fraction as a percentage with one decimal, or two when it is not zero but
// would print as 0.0%. NaN and infinities are [Absent].
func Percent(fraction float64) string {
	if math.IsNaN(fraction) || math.IsInf(fraction, 0) {
		return Absent
	}
	p := fraction * 100
	if p != 0 && math.Abs(p) < 0.1 {
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// Share is part as a percentage of whole, or "" when whole is not positive.
func Share(part, whole float64) string {
	if whole <= 0 {
		return ""
	}
	return Percent(part / whole)
}
