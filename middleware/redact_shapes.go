package middleware

import (
	"regexp"
	"strings"
)

// redactText replaces every secret that text shows by its shape, wherever it stands and whatever
// name it is under:
//
//   - PEM blocks (-----BEGIN … PRIVATE KEY----- …), up to their END line or the end of the text;
//   - JWTs (eyJ….….…) and tokens with a well-known prefix (AWS AKIA…, GitHub ghp_…, GitLab
//     glpat-…, Slack xox?-…, Stripe sk_live_…, OpenAI sk-…, Google AIza…, Vault hvs.…, npm_…);
//   - the password of "user:password@host", in URLs (postgres://u:pw@h, redis://:pw@h) and in
//     DSNs without a scheme (u:pw@tcp(h:3306)/db), a password holding '@', '/' or ':' included;
//   - the value after "Name: " or "Name=" and in JSON "name": "…" when the name names a secret
//     (X-Api-Key: …, Authorization: …, ?access_token=…, Password=…; in a DSN), by kindOf's rules;
//   - whatever follows "Bearer " or "Basic ";
//   - a long random-looking blob (mixed case and digits, like a base64 key) anywhere.
//
// File paths, durations and plain words pass: a redaction costs a diagnostic value, so a shape
// must be specific to be taken for a secret.
func redactText(s string) string {
	// One pass can leave a new shape behind: `k:"x"0` becomes `k:[redacted]0`, whose value now
	// runs to the end of the line. Passes repeat until the text holds still, so redacting twice
	// changes nothing; each pass only removes text, and a handful reaches the fixed point.
	for range 8 {
		out := redactPass(s)
		if out == s {
			break
		}
		s = out
	}
	return s
}

func redactPass(s string) string {
	if s == "" || s == redacted {
		return s
	}
	s = redactPEM(s)
	s = tokenRE.ReplaceAllString(s, redacted)
	s = redactUserinfo(s)
	s = redactJSONPairs(s)
	s = redactNamedValues(s)
	s = bearerRE.ReplaceAllString(s, "${1} "+redacted)
	s = redactBlobs(s)
	for strings.Contains(s, redacted+redacted) {
		s = strings.ReplaceAll(s, redacted+redacted, redacted)
	}
	return s
}

// pemRE matches a PEM block; a block cut short (no END line) runs to the end of the text.
var pemRE = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]{1,64})-----(?s:.*?)(-----END [A-Z0-9 ]{1,64}-----|\z)`)

func redactPEM(s string) string {
	if !strings.Contains(s, "-----BEGIN ") {
		return s
	}
	return pemRE.ReplaceAllString(s, "-----BEGIN ${1}-----"+redacted)
}

// tokenRE matches secrets by their well-known prefixes. Each pattern needs enough characters
// after the prefix that an ordinary word cannot match.
var tokenRE = regexp.MustCompile(`\b(?:` + strings.Join([]string{
	`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`,                // JWT: base64url of `{"`
	`(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[0-9A-Z]{16}`, // AWS access key IDs
	`gh[pousr]_[A-Za-z0-9]{20,}`, `github_pat_[A-Za-z0-9_]{20,}`,             // GitHub
	`glpat-[A-Za-z0-9_-]{16,}`, `gl(?:dt|rt|ptt|cbt|imt|soat|ft)-[A-Za-z0-9_-]{16,}`, // GitLab
	`xox[abposrce]-[A-Za-z0-9-]{8,}`, `xapp-[A-Za-z0-9-]{8,}`, // Slack
	`(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}`, `whsec_[A-Za-z0-9]{16,}`, // Stripe
	`sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}`,                                   // OpenAI, Anthropic
	`AIza[0-9A-Za-z_-]{30,}`, `ya29\.[0-9A-Za-z_-]{20,}`, `GOCSPX-[0-9A-Za-z_-]{16,}`, // Google
	`hv[sbr]\.[A-Za-z0-9_-]{20,}`,                     // HashiCorp Vault
	`npm_[A-Za-z0-9]{30,}`, `pypi-[A-Za-z0-9_-]{30,}`, // package registries
	`SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`,                                                   // SendGrid
	`dop_v1_[a-f0-9]{40,}`, `shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}`, `sq0[a-z]{3}-[0-9A-Za-z_-]{22,}`, // DigitalOcean, Shopify, Square
	`(?:AccountKey|SharedAccessKey|SharedAccessSignature)=[^;\s"']{8,}`,                                                                  // Azure connection strings
	`hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{8,}`, `discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]{8,}`, // webhook URLs: the path is the secret
}, "|") + `)`)

// bearerRE matches the credential of an Authorization scheme written out in text.
var bearerRE = regexp.MustCompile(`(?i)\b(bearer|basic|digest|negotiate)[ \t]+[A-Za-z0-9._~+/=-]{6,}`)

// runBreak reports whether c ends a run of text that one URL or DSN may fill.
func runBreak(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>'
}

// schemeRE matches the start of a URL: where a list of URLs ("kafka://…,kafka://…") splits.
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,31}://`)

// redactUserinfo replaces the password of every "user:password@host" in s.
func redactUserinfo(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	start := 0
	for i := 0; i <= len(s); i++ {
		end := i == len(s) || runBreak(s[i]) ||
			((s[i] == ',' || s[i] == ';') && schemeRE.MatchString(s[i+1:]))
		if !end {
			continue
		}
		b.WriteString(redactRunUserinfo(s[start:i]))
		if i < len(s) {
			b.WriteByte(s[i])
		}
		start = i + 1
	}
	return b.String()
}

// redactRunUserinfo redacts the credentials in one run of text without spaces or quotes. The
// password runs to the last '@' before the query: passwords hold '@' and '/' unescaped more
// often than URLs hold '@' in their path. A query holding '@' is read again the same way, in a
// loop so that the cost stays linear in the run.
func redactRunUserinfo(r string) string {
	var b strings.Builder
	for {
		first := strings.IndexByte(r, '@')
		if first < 0 {
			b.WriteString(r)
			return b.String()
		}
		end := queryStart(r, first)
		at := strings.LastIndexByte(r[:end], '@')
		b.WriteString(userinfoPrefix(r[:at], r[at+1:]))
		b.WriteByte('@')
		b.WriteString(r[at+1 : end])
		if end == len(r) {
			return b.String()
		}
		r = r[end:] // a query: its '@'s are read again
	}
}

// queryStart returns where the query of the URL or DSN in r begins, looking after its first '@'
// (len(r) when it has none): at a '?' or '#' followed by "name=" before any further '@'. A '?' or
// '#' that is not is part of a password ("p@ss#1@host").
func queryStart(r string, from int) int {
	for i := from; i < len(r); i++ {
		if r[i] != '?' && r[i] != '#' {
			continue
		}
		next := strings.IndexByte(r[i+1:], '@')
		if next < 0 {
			return i // no '@' follows: nothing after it can end a user info
		}
		if strings.ContainsAny(r[i+1:i+1+next], "=&") {
			return i
		}
		i += next // every '?' before that '@' is followed by the same text: part of a password
	}
	return len(r)
}

// userinfoPrefix returns head, the text before an '@', with the password it ends with
// replaced, if it ends with "user:password" and host, the text after the '@', is a host.
func userinfoPrefix(head, host string) string {
	start, hasScheme := 0, false
	if i := strings.Index(head, "://"); i >= 0 {
		start, hasScheme = i+3, true
	} else if colon := strings.IndexByte(head, ':'); colon >= 0 {
		// Without a scheme the credentials start after the separator before the user name:
		// "--db=app:pw@…", "x?dsn=app:pw@…", "(app:pw@…".
		if j := strings.LastIndexAny(head[:colon], "=,;(["); j >= 0 {
			start = j + 1
		}
	}
	userinfo := head[start:]
	colon := strings.IndexByte(userinfo, ':')
	switch {
	case colon < 0:
		if hasScheme && (looksRandom(userinfo) || tokenRE.MatchString(userinfo)) {
			return head[:start] + redacted // a token as the user name
		}
	case colon == len(userinfo)-1 || strings.ContainsAny(userinfo[:colon], "/@"):
		// "user:@host" has no password; "host/path:x@y" is no user info.
	case !hasScheme && !plausibleDSNHost(host, userinfo[:colon]):
	default:
		return head[:start] + userinfo[:colon+1] + redacted
	}
	return head
}

// plausibleDSNHost tells "user:pw@db:5432" and "app:pw@tcp(db)/x" from "nginx:1.25@sha256:…"
// (an image digest) and "mailto:a@b".
func plausibleDSNHost(host, user string) bool {
	if host == "" || user == "mailto" || user == "urn" {
		return false
	}
	c := host[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '[' || c == '/' || c == '(') {
		return false
	}
	for _, d := range []string{"sha256:", "sha384:", "sha512:", "sha1:", "md5:"} {
		if strings.HasPrefix(host, d) {
			return false
		}
	}
	return true
}

// jsonPairRE matches "name": "value" and "name": value in JSON (or a JSON-like argument).
var jsonPairRE = regexp.MustCompile(`"([^"\\]{1,64})"[ \t]*:[ \t]*("(?:[^"\\]|\\.)*"|[^,}\]\s"{\[]+)`)

func redactJSONPairs(s string) string {
	if !strings.Contains(s, `":`) && !strings.Contains(s, `" :`) {
		return s
	}
	return jsonPairRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := jsonPairRE.FindStringSubmatch(m)
		k := kindOf(sub[1])
		if k == namePlain {
			return m
		}
		v := sub[2]
		quoted := strings.HasPrefix(v, `"`)
		if quoted {
			v = v[1 : len(v)-1]
		}
		nv := redactValue(k, v)
		if nv == v {
			return m
		}
		if quoted {
			nv = `"` + nv + `"`
		}
		return m[:len(m)-len(sub[2])] + nv
	})
}

// namedValueRE finds "name=" and "name:"; namedValueStart says where a name can start: at the
// start, after a space, a quote, '=' or a separator of query strings and DSNs (? & ; ,).
var namedValueRE = regexp.MustCompile(`(-{0,2}[A-Za-z_][A-Za-z0-9_.-]{0,63})[ \t]*([=:])[ \t]*`)

func namedValueStart(s string, i int) bool {
	return i == 0 || strings.IndexByte(" \t\r\n?&;,'\"{([=", s[i-1]) >= 0
}

// redactNamedValues redacts the value after "Name: " (a header line, to its end) and "name="
// (a parameter, to the next separator) when the name names a secret.
func redactNamedValues(s string) string {
	if !strings.ContainsAny(s, "=:") {
		return s
	}
	var b strings.Builder
	done := 0
	for _, m := range namedValueRE.FindAllStringSubmatchIndex(s, -1) {
		if m[0] < done || !namedValueStart(s, m[0]) {
			continue
		}
		name := s[m[2]:m[3]]
		sep := s[m[4]]
		vStart := m[1]
		if sep == ':' && strings.HasPrefix(s[vStart:], "//") {
			continue // a URL's scheme
		}
		k := kindOf(name)
		if k == namePlain {
			continue
		}
		vEnd := namedValueEnd(s, m[2], vStart, sep)
		v := s[vStart:vEnd]
		nv := redactValue(k, v)
		if nv == v {
			continue
		}
		b.WriteString(s[done:vStart])
		b.WriteString(nv)
		done = vEnd
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// namedValueEnd returns where the value that starts at vStart ends. A header line's value ("Name:
// value") runs to the end of its line, or to its closing quote when the name opened with one
// (-H "X-Api-Key: k" in a longer text); a parameter's ("name=value") to the next separator, or to
// its closing quote when it is quoted.
func namedValueEnd(s string, nameStart, vStart int, sep byte) int {
	eol := len(s)
	if i := strings.IndexAny(s[vStart:], "\r\n"); i >= 0 {
		eol = vStart + i
	}
	if vStart < eol && (s[vStart] == '"' || s[vStart] == '\'') {
		if i := strings.IndexByte(s[vStart+1:eol], s[vStart]); i >= 0 {
			return vStart + 1 + i + 1
		}
		return eol
	}
	if sep == ':' {
		if nameStart > 0 && (s[nameStart-1] == '"' || s[nameStart-1] == '\'') {
			if i := strings.IndexByte(s[vStart:eol], s[nameStart-1]); i >= 0 {
				return vStart + i
			}
		}
		return eol
	}
	if i := strings.IndexAny(s[vStart:eol], " \t&;,'\"}"); i >= 0 {
		return vStart + i
	}
	return eol
}

// blobRE matches runs that may be a base64 or base64url secret.
var blobRE = regexp.MustCompile(`[A-Za-z0-9+/_-]{24,}={0,2}`)

func redactBlobs(s string) string {
	if len(s) < 24 {
		return s
	}
	return blobRE.ReplaceAllStringFunc(s, func(m string) string {
		if isAbsPath(m) || strings.Contains(m, redacted) || !looksRandom(m) {
			return m
		}
		return redacted
	})
}

// looksRandom reports whether s looks like random base64 rather than words, paths or
// identifiers: at least 20 letters and digits, upper and lower case and digits all present, the
// class changing between neighbours at least a fifth of the time (about 60% in base64), and few
// letters in lower-case runs of four or more — the words of names and paths ("Projects",
// "build"), which random text seldom has (a run of four is a 3% chance at each letter).
func looksRandom(s string) bool {
	n, changes, inWords, run := 0, 0, 0, 0
	var upper, lower, digit bool
	prev := byte(0)
	endRun := func() {
		if run >= 4 {
			inWords += run
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var class byte
		switch {
		case c >= 'A' && c <= 'Z':
			class, upper = 1, true
		case c >= 'a' && c <= 'z':
			class, lower = 2, true
		case c >= '0' && c <= '9':
			class, digit = 3, true
		default:
			endRun()
			continue
		}
		if class == 2 {
			run++
		} else {
			endRun()
		}
		if prev != 0 && class != prev {
			changes++
		}
		prev = class
		n++
	}
	endRun()
	return n >= 20 && upper && lower && digit && changes*5 >= n && inWords*10 < n*3
}

// isBoolWord reports whether v is a boolean literal.
func isBoolWord(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "null", "nil":
		return true
	}
	return false
}

var (
	durationRE = regexp.MustCompile(`^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h|d|w))+$`)
	quantityRE = regexp.MustCompile(`^[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?:[kKmMgGtT]i?[bB]?|[bB]|%)?$`)
)

// isDuration reports whether v is a duration: 30s, 1h30m, 500ms, 7d.
func isDuration(v string) bool { return len(v) <= 32 && durationRE.MatchString(v) }

// isQuantity reports whether v is a number, with a size unit or % allowed: 100, 0.5, 64MiB, 10%.
func isQuantity(v string) bool { return len(v) <= 32 && quantityRE.MatchString(v) }

// isAbsPath reports whether v is an absolute or home-relative file path (/etc/tls/server.key,
// ./certs, ~/.aws/credentials, C:\keys), not a base64 blob that starts with '/'.
func isAbsPath(v string) bool {
	switch {
	case strings.HasPrefix(v, "/"), strings.HasPrefix(v, "./"), strings.HasPrefix(v, "../"), strings.HasPrefix(v, "~/"):
	case len(v) > 3 && v[1] == ':' && (v[2] == '\\' || v[2] == '/') && isIdentStart(v[0]):
	default:
		return false
	}
	return plainPath(v)
}

// isRelPath reports whether v is a relative path a flag named ...-file may hold: certs/server.pem,
// server.key.
func isRelPath(v string) bool {
	return (strings.Contains(v, "/") || strings.Contains(v, ".")) && plainPath(v)
}

// plainPath reports whether every segment of v could be a file name someone chose.
func plainPath(v string) bool {
	if len(v) > 4096 || strings.Contains(v, "://") || strings.ContainsAny(v, "@\n\r\t=?&;\"'") {
		return false
	}
	for _, seg := range strings.FieldsFunc(v, func(r rune) bool { return r == '/' || r == '\\' }) {
		if looksRandom(seg) {
			return false
		}
	}
	return !looksRandom(v)
}
