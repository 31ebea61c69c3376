package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// psConn is one socket of a process, as gops PID lists its connections.
type psConn struct {
	Proto  string `json:"proto"` // tcp, tcp6, udp, udp6
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`
}

// tcpStates names the kernel's TCP states (include/net/tcp_states.h); UDP sockets report 07
// (CLOSE) unbound and 01 connected.
var tcpStates = map[uint8]string{1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
	7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV"}

// netSocket is one line of /proc/net/{tcp,udp}[6]: its addresses, state and socket inode.
type netSocket struct {
	local, remote netip.AddrPort
	state         uint8
	inode         uint64
}

// maxNetLines bounds the lines read from one /proc/net file.
const maxNetLines = 100_000

// parseNetSockets reads /proc/net/tcp, tcp6, udp or udp6: a header line, then one socket a line
// whose addresses are hexadecimal words in the host's byte order and ports
// big-endian (the kernel prints them so). A malformed line is an error naming its number.
func parseNetSockets(b []byte, v6 bool) ([]netSocket, error) {
	var out []netSocket
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if i == 0 || len(bytes.TrimSpace(line)) == 0 {
			continue // the header, or the end
		}
		if i > maxNetLines {
			return out, fmt.Errorf("line %d: more than %d sockets", i+1, maxNetLines)
		}
		f := strings.Fields(string(line))
		if len(f) < 10 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 10", i+1, len(f))
		}
		local, err1 := parseNetAddr(f[1], v6)
		remote, err2 := parseNetAddr(f[2], v6)
		st, err3 := strconv.ParseUint(f[3], 16, 8)
		inode, err4 := strconv.ParseUint(f[9], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(f[3]) != 2 {
			return nil, fmt.Errorf("line %d: not a socket line", i+1)
		}
		out = append(out, netSocket{local: local, remote: remote, state: uint8(st), inode: inode})
	}
	return out, nil
}

// parseNetAddr reads "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6).
func parseNetAddr(s string, v6 bool) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(s, ":")
	want := 8
	if v6 {
		want = 32
	}
	if !ok || len(host) != want || len(port) != 4 {
		return netip.AddrPort{}, fmt.Errorf("%q: not an address", s)
	}
	raw, err := hex.DecodeString(host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	// Each 32-bit word is in the host's byte order: put each in network order.
	for w := 0; w < len(raw); w += 4 {
		binary.BigEndian.PutUint32(raw[w:], binary.NativeEndian.Uint32(raw[w:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(p)), nil
}

// maxFDs bounds the descriptors read to find a process's sockets.
const maxFDs = 100_000

// readConns lists the process's TCP and UDP sockets: the socket inodes among its descriptors,
// looked up in its network namespace's /proc/PID/net files.
func readConns(proc string, pid int) ([]psConn, error) {
	base := filepath.Join(proc, strconv.Itoa(pid))
	ents, err := os.ReadDir(filepath.Join(base, "fd"))
	if err != nil {
		return nil, fmt.Errorf("descriptors: %w", err)
	}
	mine := map[uint64]bool{}
	for i, e := range ents {
		if i == maxFDs {
			break
		}
		t, err := os.Readlink(filepath.Join(base, "fd", e.Name()))
		if err != nil {
			continue // closed since listed
		}
		if n, ok := strings.CutPrefix(t, "socket:["); ok {
			if inode, err := strconv.ParseUint(strings.TrimSuffix(n, "]"), 10, 64); err == nil {
				mine[inode] = true
			}
		}
	}
	conns := []psConn{}
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile(filepath.Join(base, "net", proto))
		if os.IsNotExist(err) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", proto, err)
		}
		socks, err := parseNetSockets(b, strings.HasSuffix(proto, "6"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(base, "net", proto), err)
		}
		for _, s := range socks {
			if !mine[s.inode] || s.inode == 0 {
				continue
			}
			state := tcpStates[s.state]
			if strings.HasPrefix(proto, "udp") {
				state = map[uint8]string{1: "CONNECTED", 7: "UNCONNECTED"}[s.state]
			}
			if state == "" {
				state = fmt.Sprintf("state %#02x", s.state)
			}
			conns = append(conns, psConn{Proto: proto, Local: s.local.String(), Remote: s.remote.String(), State: state})
		}
	}
	return conns, nil
}
