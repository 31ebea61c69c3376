package middleware

import (
	"regexp"
	"strings"
)

// redacted replaces every value the tree will not serve.
const redacted = "[redacted]"

// secretWords are the parts of a flag or variable name that mark its value as a secret. Matching
// is by substring of the lowercased name, so "key" also catches --keyspace: a false positive
// costs a value on a diagnostics page, a false negative a credential.
var secretWords = []string{
	"pass", "pwd", "secret", "token", "key", "credential", "auth", "cookie", "session",
	"signature", "private", "cert", "dsn", "bearer", "salt",
}

// looksSecret reports whether a flag or variable name names a secret.
func looksSecret(name string) bool {
	n := strings.ToLower(strings.TrimLeft(name, "-"))
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// urlPassword matches the password of a URL's user info: "scheme://user:password@".
var urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*):[^/?#@\s]*@`)

// redactURLs replaces the password of every URL in s.
func redactURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlPassword.ReplaceAllString(s, "${1}:"+redacted+"@")
}

// redactArgs returns a copy of a command line with secret-looking values replaced:
//
//   - name=value where name looks secret (--password=x, -api-key=x, AWS_SECRET_ACCESS_KEY=x);
//   - the argument after a flag that looks secret and carries no value of its own (--token x);
//   - the password of any URL (postgres://user:pw@host);
//   - whatever follows "Bearer " or "Authorization:" (a header passed as an argument).
//
// argv[0] keeps its text except URL passwords. A single-letter flag is never taken for a secret
// (-p is a port as often as a password): a program that takes a password as "-p x" leaks it to
// anyone who can run ps, and memdiag cannot tell.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	secretNext := false
	for i, a := range args {
		switch {
		case secretNext:
			out[i] = redacted
			secretNext = false
			continue
		case i == 0:
			out[i] = redactURLs(a)
			continue
		}
		if name, _, ok := strings.Cut(a, "="); ok && looksSecret(name) {
			out[i] = name + "=" + redacted
			continue
		}
		out[i] = redactCredentials(redactURLs(a))
		if strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && len(strings.TrimLeft(a, "-")) > 1 && looksSecret(a) {
			secretNext = true
		}
	}
	return out
}

// redactEnvValue is what /proc shows for an allowlisted variable: the value unless the name looks
// secret — allowlisting "APP_*" should not publish APP_TOKEN — with URL passwords removed.
func redactEnvValue(key, value string) string {
	if looksSecret(key) {
		return redacted
	}
	return redactURLs(value)
}

// credentialMarkers introduce a credential inside an argument, as in -H "Authorization: Basic …".
var credentialMarkers = []string{"authorization:", "bearer ", "basic "}

// redactCredentials cuts an argument at the first credential marker.
func redactCredentials(s string) string {
	l := strings.ToLower(s)
	for _, m := range credentialMarkers {
		if i := strings.Index(l, m); i >= 0 {
			return s[:i+len(m)] + redacted
		}
	}
	return s
}
