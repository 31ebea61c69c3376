package procself

import (
	"fmt"
	"strings"
)

// Environ is the process's initial environment, reduced to what is safe to show: every
// variable's name, and the values of allowlisted names only.
//
// /proc/<pid>/environ is the environment the process started with (os.Setenv and unsetenv do not
// change it), so it answers "how was this process configured", e.g. GOGC, GOMEMLIMIT, GODEBUG.
type Environ struct {
	// Keys is every variable's name, in the order of the environment block, duplicates included.
	Keys []string
	// Values holds the values of the keys the allow list names; no other value is ever kept. For a
	// key present more than once, the first value wins, as in os.Getenv.
	Values map[string]string
	// NoValue holds the indexes into Keys of entries that had no '=': the whole entry became the
	// key. Such entries are not variables any libc would return, and their text is shown as it is.
	NoValue []int
}

// Environ reads <root>/proc/<pid>/environ through procfs and keeps only names, plus the values of
// names on allow. An allow entry matches a name exactly, or, if it ends in '*', every name that
// begins with the part before the '*' ("GO*" allows GOGC, GOMEMLIMIT and GODEBUG). Matching is
// case-sensitive, as the environment is; a bare "*" allows every value and so defeats the point.
// Reading another process's environ needs ptrace access.
func (fs FS) Environ(allow []string) (Environ, error) {
	p, err := fs.procfs()
	if err != nil {
		return Environ{}, err
	}
	entries, err := p.Environ()
	if err != nil {
		// procfs errors name the path, never the contents.
		return Environ{}, fmt.Errorf("%s: %w", fs.ProcPath("environ"), err)
	}
	return filterEnviron(entries, allow), nil
}

// filterEnviron splits "KEY=value" entries and drops every value whose key allow does not match.
func filterEnviron(entries []string, allow []string) Environ {
	env := Environ{Keys: make([]string, 0, len(entries)), Values: map[string]string{}}
	for _, e := range entries {
		key, value, ok := strings.Cut(e, "=")
		if !ok {
			env.NoValue = append(env.NoValue, len(env.Keys))
		}
		env.Keys = append(env.Keys, key)
		if !ok || !envAllowed(key, allow) {
			continue
		}
		if _, dup := env.Values[key]; !dup {
			env.Values[key] = value
		}
	}
	return env
}

func envAllowed(key string, allow []string) bool {
	for _, a := range allow {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(key, prefix) {
				return true
			}
		} else if key == a {
			return true
		}
	}
	return false
}
