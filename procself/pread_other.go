//go:build !linux

package procself

import (
	"errors"
	"io"
	"os"
)

// preadFile is, off Linux, a plain *os.File read with ReadAt; no reader gets this far there (every
// one returns errUnsupported first), but the type keeps the package building everywhere.
type preadFile struct{ f *os.File }

func openPread(path string) (preadFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return preadFile{}, err
	}
	return preadFile{f: f}, nil
}

func (p preadFile) readAt0(buf []byte) (int, error) {
	n, err := p.f.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

func (p preadFile) name() string { return p.f.Name() }
func (p preadFile) close() error { return p.f.Close() }
func (p preadFile) isOpen() bool { return p.f != nil }
