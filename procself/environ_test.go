package procself

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEnvironFixture(t *testing.T) {
	needProc(t)
	got, err := New("testdata/environ").Environ([]string{"GOGC", "GOMEM*", "HOME", "NOT_SET"})
	if err != nil {
		t.Fatal(err)
	}
	want := Environ{
		Keys: []string{"PATH", "GOGC", "GOMEMLIMIT", "DATABASE_PASSWORD", "garbage-without-equals", "GOGC", "",
			"AWS_SECRET_ACCESS_KEY", "HOME"},
		Values:  map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB", "HOME": "/home/app"},
		NoValue: []int{4},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Environ (-want +got):\n%s", diff)
	}
	if s := fmt.Sprintf("%#v", got); strings.Contains(s, "fixture-secret") {
		t.Errorf("a secret value leaked into the result: %s", s)
	}
}

func TestEnvAllowed(t *testing.T) {
	tests := []struct {
		key   string
		allow []string
		want  bool
	}{
		{"GOGC", []string{"GOGC"}, true},
		{"GOGCX", []string{"GOGC"}, false},
		{"gogc", []string{"GOGC"}, false},
		{"GODEBUG", []string{"GO*"}, true},
		{"GO", []string{"GO*"}, true},
		{"G", []string{"GO*"}, false},
		{"ANY", []string{"*"}, true},
		{"ANY", nil, false},
		{"A*B", []string{"A*B"}, true}, // only a trailing * is a wildcard
		{"AXB", []string{"A*B"}, false},
	}
	for _, tt := range tests {
		if got := envAllowed(tt.key, tt.allow); got != tt.want {
			t.Errorf("envAllowed(%q, %q) = %v, want %v", tt.key, tt.allow, got, tt.want)
		}
	}
}

// TestEnvironHelperProcess is not a test: it is the child of TestEnvironChildProcess, which
// blocks on stdin so that its parent can read its /proc/<pid>/environ.
func TestEnvironHelperProcess(t *testing.T) {
	if os.Getenv("PROCSELF_ENVIRON_HELPER") != "1" {
		t.Skip("helper process for TestEnvironChildProcess")
	}
	// Say we are past exec: before that, /proc/<pid>/environ still shows the parent's environment.
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// TestEnvironChildProcess sets a secret in a real process's environment and checks that it
// reaches neither the result nor any error.
func TestEnvironChildProcess(t *testing.T) {
	if !supported {
		t.Skip("no /proc on this system")
	}
	const secret = "s3cr3t-value-that-must-not-leak"
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnvironHelperProcess$")
	cmd.Env = []string{"PROCSELF_ENVIRON_HELPER=1", "MEMDIAG_TEST_SECRET=" + secret, "GOGC=77", "NOEQUALS"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	// Read the environment only once the child has exec'd and said so.
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper process did not start: %q, %v", line, err)
	}

	got, err := ForPID("/", cmd.Process.Pid).Environ([]string{"GOGC", "PROCSELF_*"})
	if err != nil {
		t.Fatal(err)
	}
	want := Environ{
		Keys:    []string{"PROCSELF_ENVIRON_HELPER", "MEMDIAG_TEST_SECRET", "GOGC", "NOEQUALS"},
		Values:  map[string]string{"PROCSELF_ENVIRON_HELPER": "1", "GOGC": "77"},
		NoValue: []int{3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Environ (-want +got):\n%s", diff)
	}
	if s := fmt.Sprintf("%#v", got); strings.Contains(s, secret) {
		t.Errorf("the secret leaked into the result: %s", s)
	}

	// Errors name the path, never the contents.
	for _, fs := range []FS{ForPID("/", 1<<30), New(t.TempDir())} {
		_, err := fs.Environ([]string{"MEMDIAG_TEST_SECRET"})
		if err == nil {
			t.Errorf("%+v: no error", fs)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("the secret leaked into an error: %v", err)
		}
	}
}

// FuzzFilterEnviron: whatever the environment block, a value is kept only for an allowed key.
func FuzzFilterEnviron(f *testing.F) {
	b, err := os.ReadFile("testdata/environ/proc/4242/environ")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, "GO*")
	f.Add([]byte("=\x00==\x00A=B=C\x00"), "A")
	f.Fuzz(func(t *testing.T, block []byte, allow string) {
		var entries []string
		for _, e := range bytes.Split(block, []byte{0}) {
			entries = append(entries, string(e))
		}
		env := filterEnviron(entries, []string{allow})
		if len(env.Keys) != len(entries) {
			t.Fatalf("%d keys for %d entries", len(env.Keys), len(entries))
		}
		for k, v := range env.Values {
			if !envAllowed(k, []string{allow}) {
				t.Fatalf("kept the value of %q, not allowed by %q", k, allow)
			}
			if !bytes.Contains(block, []byte(k+"="+v)) {
				t.Fatalf("value %q of %q is not in the block", v, k)
			}
		}
		for _, i := range env.NoValue {
			if strings.Contains(entries[i], "=") {
				t.Fatalf("entry %d %q flagged as having no '='", i, entries[i])
			}
		}
	})
}
