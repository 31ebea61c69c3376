package procself

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// smallRollup is testdata/proc-small/proc/4242/smaps_rollup, kB × 1024.
var smallRollup = SmapsRollup{
	RssBytes: 35276 << 10, PssBytes: 35270 << 10, PssDirtyBytes: 35268 << 10,
	PssAnonBytes: 33732 << 10, PssFileBytes: 1538 << 10,
	SharedCleanBytes: 8 << 10, PrivateDirtyBytes: 35268 << 10,
	ReferencedBytes: 35276 << 10, AnonymousBytes: 33732 << 10,
}

func TestSmapsRollupFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	for _, tc := range []struct {
		root, wantErr string
		want          SmapsRollup
	}{
		{root: "testdata/proc-small", want: smallRollup},
		{root: "testdata/proc-garbled", wantErr: `/proc/self/smaps_rollup:13: Anonymous: not a kB size: "lots kB"`},
		{root: "testdata/proc-truncated", wantErr: `/proc/self/smaps_rollup:6: no colon in "Shared_Cl"`},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/smaps_rollup: empty file: the process has no address space"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := New(tc.root).SmapsRollup()
			checkFixtureErr(t, tc.root, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SmapsRollup() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSmapsRollup(t *testing.T) {
	const header = "00400000-7ffd6edb2000 ---p 00000000 00:00 0                              [rollup]\n"
	for _, tc := range []struct {
		name, in, wantErr string
		want              SmapsRollup
	}{
		{name: "lazyfree and huge pages", in: header + "Rss: 8 kB\nPrivate_Dirty: 4 kB\nLazyFree: 4 kB\nAnonHugePages: 2048 kB\nLocked: 1 kB\nNew_Field: 3 kB\n",
			want: SmapsRollup{RssBytes: 8192, PrivateDirtyBytes: 4096, LazyFreeBytes: 4096, AnonHugePagesBytes: 2 << 20, LockedBytes: 1024}},
		{name: "header only", in: header, wantErr: ":1: truncated: no Rss or Private_Dirty line"},
		{name: "no header", in: "Rss: 8 kB\n", wantErr: ":1: not a smaps_rollup header"},
		{name: "kB overflow", in: header + "Rss: 18014398509481984 kB\n", wantErr: ":2: Rss: not a kB size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSmapsRollup([]byte(tc.in))
			checkParsed(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func FuzzParseSmapsRollup(f *testing.F) {
	if b, err := os.ReadFile("testdata/proc-small/proc/4242/smaps_rollup"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("0-1 ---p 0 0:0 0 [rollup]\nRss: 1 kB\nPrivate_Dirty: 1 kB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSmapsRollup(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if s.RssBytes%1024 != 0 {
			t.Fatalf("Rss %d is not whole kB", s.RssBytes)
		}
	})
}
