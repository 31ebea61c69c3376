package humanize

import (
	"math"
	"testing"
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
		{Duration(0), "0"},
		{Duration(math.NaN()), "–"},
		{Duration(12e-9), "12 ns"},
		{Duration(49.152e-6), "49.2 µs"},
		{Duration(655.36e-6), "655 µs"},
		{Duration(0.0025), "2.5 ms"},
		{Duration(1.5), "1.5 s"},
		{Duration(-0.0025), "-2.5 ms"},
		{Duration(600), "600 s"},
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
		{Percent(math.Inf(1)), "?"},
		{Share(1, 4), "25.0%"},
		{Share(1, 0), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
