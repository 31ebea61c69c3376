package humanize

import (
	"math"
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Bytes(0), "0 B"},
		{Bytes(1023), "1023 B"},
		{Bytes(1024), "1.0 KiB"},
		{Bytes(69632), "68.0 KiB"},
		{Bytes(58761216), "56.0 MiB"},
		{Bytes(102348), "99.9 KiB"},
		{Bytes(102374), "100 KiB"},
		{Bytes(366157824), "349 MiB"},
		{Bytes(3 << 30), "3.0 GiB"},
		{Bytes(math.MaxUint64), "16.0 EiB"},
		{SignedBytes(-2048), "-2.0 KiB"},
		{SignedBytes(2048), "2.0 KiB"},
		{SignedBytes(math.MinInt64), "-8.0 EiB"},
		{DeltaBytes(-2048), "-2.0 KiB"},
		{DeltaBytes(3 << 20), "+3.0 MiB"},
		{DeltaBytes(0), "+0 B"},
		{DeltaBytes(math.NaN()), Absent},
		{FloatBytes(-2048), "-2.0 KiB"},
		{FloatBytes(48.6), "49 B"},
		{FloatBytes(math.NaN()), "–"},
		{FloatBytes(math.Inf(-1)), "–"},
		{Comma(58761216), "58,761,216"},
		{Comma(999), "999"},
		{Comma(1000), "1,000"},
		{Comma(math.MaxUint64), "18,446,744,073,709,551,615"},
		{Count(0.24485152821823805), "0.24"},
		{Count(1234.5), "1235"},
		{Count(19400), "19.4k"},
		{Count(2.5e6), "2.50M"},
		{Count(1.2e9), "1.20G"},
		{Count(math.NaN()), "–"},
		{Duration(0), "0"},
		{Duration(math.NaN()), "–"},
		{Duration(12e-9), "12 ns"},
		{Duration(49.152e-6), "49.2 µs"},
		{Duration(655.36e-6), "655 µs"},
		{Duration(0.0025), "2.5 ms"},
		{Duration(1.5), "1.5 s"},
		{Duration(-0.0025), "-2.5 ms"},
		{Duration(600), "600 s"},
		{Span(90), "1m30s"},
		{Span(7200.4), "2h0m0s"},
		{Span(59.5), "59.5 s"},
		{Span(0.0025), "2.5 ms"},
		{Span(math.NaN()), "–"},
		{Clock(time.Date(2026, 12, 5, 23, 4, 5, 6, time.FixedZone("CET", 3600))), "22:04:05"},
		{Clock(time.Time{}), ""},
		{DurationRange(0.029360128, 0.033554432), "between 29.4 and 33.6 ms"},
		{DurationRange(0.000917504, 0.001048576), "between 918 µs and 1.05 ms"},
		{DurationRange(0.5, math.Inf(1)), "over 500 ms"},
		{DurationRange(math.Inf(-1), 1e-6), "under 1 µs"},
		{DurationRange(0.002, 0.002), "2 ms"},
		{DurationRange(math.NaN(), 1), "–"},
		{Float(0.24485152821823805), "0.24"},
		{Float(12.34), "12.3"},
		{Float(1234.5), "1235"},
		{Percent(0.2104), "21.0%"},
		{Percent(0.0002), "0.02%"},
		{Percent(0), "0.0%"},
		{Percent(math.Inf(1)), "–"},
		{Percent(math.NaN()), "–"},
		{Share(1, 4), "25.0%"},
		{Share(1, 0), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
