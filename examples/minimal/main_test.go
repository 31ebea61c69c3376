package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMinimalBuilds keeps the ten-line example compiling as the API moves.
func TestMinimalBuilds(t *testing.T) {
	out, err := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "minimal"), ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}
