package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPsDetail reads one process from a fixture /proc: figures from stat, status, statm, cmdline
// and uptime, and the executable it cannot read named as a problem rather than left empty.
func TestPsDetail(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "proc", "42")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"stat":    "42 (api server) S 7 42 7128 0 -1 4194304 100 0 0 0 300 100 0 0 20 0 7 0 10000 3133440 411 18446744073709551615 1 2 3 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 4 5 6 7 8 9 10 0\n",
		"status":  "Name:\tapi\nPid:\t42\nPPid:\t7\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nThreads:\t7\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t1\n",
		"statm":   "1000 250 10 1 0 20 0\n",
		"cmdline": "/srv/api\x00-addr\x00:8080\x00",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "uptime"), []byte("1100.50 2000.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Two sockets among its descriptors: one listening, one connected; the third line is another
	// process's.
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil || os.MkdirAll(filepath.Join(dir, "net"), 0o755) != nil {
		t.Fatal(err)
	}
	for fd, target := range map[string]string{"0": "/dev/null", "3": "socket:[1067]", "4": "socket:[2001]"} {
		if err := os.Symlink(target, filepath.Join(dir, "fd", fd)); err != nil {
			t.Fatal(err)
		}
	}
	tcp := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1067 1 00000000eabc89f5 100 0 0 10 0\n" +
		"   1: 0100007F:1F90 0100007F:ADA5 01 00000000:00000000 03:00001472 00000000     0        0 2001 3 000000003c9b84d4\n" +
		"   2: 0100007F:B9FA 0100007F:ADA5 06 00000000:00000000 03:00001472 00000000     0        0 999 3 000000003c9b84d4\n"
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fixture's addresses are a little-endian host's")
	}
	if err := os.WriteFile(filepath.Join(dir, "net", "tcp"), []byte(tcp), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	d, err := readPsDetail(root, 42, now)
	if err != nil {
		t.Fatal(err)
	}
	life := 1000*time.Second + 500*time.Millisecond // uptime 1100.5 s, started 100 s (10,000 ticks) after boot
	if d.PPID == nil || *d.PPID != 7 || d.Threads == nil || *d.Threads != 7 || d.UID == nil || *d.UID != 1000 ||
		d.ResidentBytes == nil || *d.ResidentBytes != 250*uint64(os.Getpagesize()) || strings.Join(d.CommandLine, " ") != "/srv/api -addr :8080" {
		t.Errorf("figures: %+v", d)
	}
	if d.StartTime == nil || !d.StartTime.Equal(now.Add(-life).Truncate(time.Second)) {
		t.Errorf("start time %v, want %v", d.StartTime, now.Add(-life))
	}
	if d.CPUCores == nil || *d.CPUCores != 4/life.Seconds() {
		t.Errorf("cpu cores %v, want %v (4 s of CPU over %s)", d.CPUCores, 4/life.Seconds(), life)
	}
	wantConns := []psConn{{"tcp", "127.0.0.1:8080", "0.0.0.0:0", "LISTEN"}, {"tcp", "127.0.0.1:8080", "127.0.0.1:44453", "ESTABLISHED"}}
	if fmt.Sprint(d.Connections) != fmt.Sprint(wantConns) {
		t.Errorf("connections %v, want %v", d.Connections, wantConns)
	}
	if len(d.Problems) == 0 || !strings.HasPrefix(d.Problems[0], "executable: ") {
		t.Errorf("the unreadable executable is not named: %v", d.Problems)
	}
	var out bytes.Buffer
	writePsDetail(&out, d, now)
	for _, want := range []string{"parent        7\n", "program       – (not a Go program, or its executable is not readable)\n", "user          ", "command line  /srv/api -addr :8080\n", "started       2026-12-05T07:43:19Z (16m41s ago)\n", "cpu           0.4% of one CPU on average since the start (user 3.0 s, system 1.0 s)\n", "not read: executable: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := readPsDetail(root, 43, now); err == nil {
		t.Error("a missing process read without error")
	}
}

// FuzzParseUptime: the /proc/uptime parser never panics, never returns a negative duration, and
// reads back what it formats.
func FuzzParseUptime(f *testing.F) {
	for _, s := range []string{"1100.50 2000.00\n", "0.00 0.00", "12345", "", " ", "-1.0 2", "1.2.3 4", "1e3 1", "99999999999999.99 1", "1.0000000001 1", ".5 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseUptime(b)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("%q: negative %s", b, d)
		}
		again, err := parseUptime(fmt.Appendf(nil, "%d.%09d 0", d/time.Second, d%time.Second))
		if err != nil || again != d {
			t.Fatalf("%q: %s reads back as %s, %v", b, d, again, err)
		}
	})
}

// FuzzParseNetSockets: the /proc/net socket parser never panics, and every socket it reads
// prints back to a line it reads the same.
func FuzzParseNetSockets(f *testing.F) {
	hdr := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	for _, s := range []string{
		hdr + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1067 1 00000000eabc89f5 100 0 0 10 0\n",
		hdr + "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 77 1\n",
		hdr, "", hdr + "garbage\n", hdr + "   0: 0100007F:1F90 00000000:0000 0A\n", hdr + "   0: 0100007G:1F90 00000000:0000 0A 0 0 0 0 0 5\n",
	} {
		f.Add([]byte(s), strings.Contains(s, "0000000000000000"))
	}
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		socks, err := parseNetSockets(b, v6)
		if err != nil {
			return
		}
		for _, s := range socks {
			line := fmt.Sprintf("%s\n 0: %s %s %02X 0 0 0 0 0 %d\n", hdr, netHex(s.local), netHex(s.remote), s.state, s.inode)
			again, err := parseNetSockets([]byte(line), v6)
			if err != nil || len(again) != 1 || again[0] != s {
				t.Fatalf("%v prints as %q and reads back as %v, %v", s, line, again, err)
			}
		}
	})
}

// netHex prints an address as /proc/net does on this host.
func netHex(ap netip.AddrPort) string {
	raw := ap.Addr().AsSlice()
	for w := 0; w < len(raw); w += 4 {
		binary.NativeEndian.PutUint32(raw[w:], binary.BigEndian.Uint32(raw[w:]))
	}
	return fmt.Sprintf("%X:%04X", raw, ap.Port())
}
