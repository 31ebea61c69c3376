package procself

import (
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
		fields        []string
	}{
		{root: "testdata/proc-small", want: smallRollup},
		{
			root: "testdata/proc-garbled", want: func() SmapsRollup { s := smallRollup; s.AnonymousBytes = 0; return s }(),
			wantErr: `/proc/self/smaps_rollup: 1 unread field: Anonymous (line 13): not a kB size below 2^64 bytes: "lots kB"`, fields: []string{"Anonymous"},
		},
		{root: "testdata/proc-truncated", wantErr: `/proc/self/smaps_rollup:6: no colon in "Shared_Cl"`},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/smaps_rollup: empty file: the process has no address space"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := New(tc.root).SmapsRollup()
			checkFixtureErr(t, tc.root, err, tc.wantErr, tc.fields...)
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
		fields            []string
	}{
		{name: "lazyfree and huge pages", in: header + "Rss: 8 kB\nPrivate_Dirty: 4 kB\nLazyFree: 4 kB\nAnonHugePages: 2048 kB\nLocked: 1 kB\nNew_Field: 3 kB\n",
			want: SmapsRollup{RssBytes: 8192, PrivateDirtyBytes: 4096, LazyFreeBytes: 4096, AnonHugePagesBytes: 2 << 20, LockedBytes: 1024}},
		{name: "header only", in: header, wantErr: ":1: truncated: no Rss or Private_Dirty line"},
		{name: "no header", in: "Rss: 8 kB\n", wantErr: ":1: not a smaps_rollup header"},
		{name: "kB overflow", in: header + "Rss: 18014398509481984 kB\nPrivate_Dirty: 4 kB\n", want: SmapsRollup{PrivateDirtyBytes: 4096}, wantErr: "Rss (line 2): not a kB size", fields: []string{"Rss"}},
		{name: "cut in a value", in: header + "Rss: 8 kB\nPrivate_Dirty: 4 k", want: SmapsRollup{RssBytes: 8192}, wantErr: "Private_Dirty (line 3)", fields: []string{"Private_Dirty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSmapsRollup([]byte(tc.in))
			checkParsed(t, got, err, tc.want, tc.wantErr, tc.fields...)
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
			checkFuzzErr(t, err)
			if !IsPartial(err) {
				if s != (SmapsRollup{}) {
					t.Fatalf("whole-file error %v with a non-zero value", err)
				}
				return
			}
		}
		if s.RssBytes%1024 != 0 {
			t.Fatalf("Rss %d is not whole kB", s.RssBytes)
		}
	})
}
