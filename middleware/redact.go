package middleware

import (
	"strings"
)

// redacted replaces every value the tree will not serve.
const redacted = "[redacted]"

// Redaction works on two kinds of evidence, because either alone fails: a secret's name
// (--password=, API_TOKEN=) and a secret's shape (a URL or DSN with a password, a header line
// "X-Api-Key: …", a JWT, a token with a well-known prefix, a PEM block, a long random blob). And a
// secret-sounding name does not make every value secret: --session-timeout=30s, --max-tokens=100
// and --tls-key-file=/etc/tls/server.key say what they hold by the rest of their name, and their
// values are kept when they have the shape the name promises (a duration, a number, a path).

// nameKind is what a flag, variable, header or parameter name says about its value.
type nameKind int

const (
	namePlain      nameKind = iota // no secret word: the value is checked by shape only
	nameSecret                     // the value is a secret unless it is a path, a duration or a boolean
	namePath                       // a secret's file (--tls-key-file): a path is kept, anything else redacted
	nameQuantity                   // a secret's size or lifetime (--session-timeout, --max-tokens)
	nameBoolean                    // a switch (--skip-auth, --auth-enabled): takes no value of its own
	nameDescriptor                 // about a secret, not one (--auth-mode, --token-url): checked by shape
)

// secretWords mark a name as naming a secret when a word of the name contains them.
var secretWords = []string{
	"pass", "secret", "token", "key", "credential", "auth", "cookie", "session", "signature",
	"private", "dsn", "bearer", "salt", "connstr", "connectionstring", "hmac", "jwt", "apikey",
	"passphrase", "cert",
}

// secretComponents mark a name only as whole words: "pw" inside "pwm" or "pin" inside "spin" is no
// secret.
var secretComponents = []string{"pw", "pwd", "pin", "otp", "sig", "sas", "cred", "creds", "psk", "mfa", "totp"}

// notSecretWords contain a secret word but name none.
var notSecretWords = map[string]bool{
	"passive": true, "bypass": true, "passthrough": true, "compass": true, "keyspace": true,
	"keyboard": true, "monkey": true, "hotkey": true, "keyword": true, "keywords": true,
	"tokenizer": true, "author": true, "authors": true, "authority": true, "donkey": true,
	"turkey": true, "hockey": true, "jockey": true, "keyvalue": true,
}

// Heads (the last word of a name) that say the value is not the secret itself.
var (
	pathHeads     = []string{"file", "path", "dir", "directory", "folder", "location", "mount", "socket"}
	quantityHeads = map[string]bool{
		"timeout": true, "ttl": true, "expiry": true, "expiration": true, "expires": true, "lifetime": true,
		"age": true, "duration": true, "interval": true, "period": true, "size": true, "length": true,
		"len": true, "bits": true, "count": true, "limit": true, "retries": true, "attempts": true,
		"window": true, "rate": true, "capacity": true, "threshold": true, "delay": true, "backoff": true,
		"minutes": true, "seconds": true, "hours": true, "days": true, "ms": true, "version": true,
	}
	quantityWords = map[string]bool{"max": true, "min": true, "num": true, "number": true, "total": true, "maximum": true, "minimum": true}
	booleanHeads  = map[string]bool{
		"enabled": true, "disabled": true, "required": true, "optional": true, "only": true,
		"enable": true, "disable": true, "insecure": true, "verify": true, "validation": true,
	}
	booleanVerbs = map[string]bool{
		"skip": true, "no": true, "disable": true, "enable": true, "allow": true, "require": true,
		"use": true, "insecure": true, "ignore": true, "without": true, "with": true, "verify": true,
		"check": true, "validate": true, "show": true, "print": true, "dump": true, "generate": true,
		"rotate": true, "strip": true, "mask": true, "redact": true, "hide": true, "trust": true,
		"is": true, "has": true, "dont": true, "do": true, "force": true, "reset": true, "renew": true,
	}
	descriptorHeads = map[string]bool{
		"mode": true, "type": true, "kind": true, "algorithm": true, "algo": true, "alg": true,
		"method": true, "methods": true, "name": true, "names": true, "header": true, "format": true,
		"provider": true, "backend": true, "store": true, "url": true, "uri": true, "endpoint": true,
		"host": true, "hostname": true, "addr": true, "address": true, "port": true, "server": true,
		"issuer": true, "audience": true, "scope": true, "scopes": true, "realm": true, "prefix": true,
		"suffix": true, "level": true, "strategy": true, "policy": true, "encoding": true, "field": true,
		"param": true, "source": true, "cache": true, "domain": true, "region": true, "service": true,
		"cipher": true, "ciphers": true, "curve": true, "curves": true, "scheme": true, "label": true,
		"labels": true, "tags": true, "env": true, "var": true, "variable": true,
	}
)

// nameWords splits a name into lower-case words at '-', '_', '.', spaces and camelCase
// boundaries: "--tls-key-file", "TLS_KEY_FILE" and "tlsKeyFile" give tls, key, file.
func nameWords(name string) []string {
	name = strings.TrimLeft(name, "-/")
	var words []string
	start := 0
	flush := func(end int) {
		if end > start {
			words = append(words, strings.ToLower(name[start:end]))
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ' || c == '[' || c == ']':
			flush(i)
			start = i + 1
		case c >= 'A' && c <= 'Z' && i > start && name[i-1] >= 'a' && name[i-1] <= 'z':
			flush(i) // camelCase: "apiKey" gives api, key
			start = i
		}
	}
	flush(len(name))
	return words
}

// kindOf says what a name tells about its value.
func kindOf(name string) nameKind {
	words := nameWords(name)
	secret := false
	for _, w := range words {
		if notSecretWords[w] {
			continue
		}
		for _, s := range secretWords {
			if strings.Contains(w, s) {
				secret = true
			}
		}
		for _, s := range secretComponents {
			if w == s {
				secret = true
			}
		}
	}
	if !secret {
		// "apiKey" split by case is api, key; "APIKEY" is one word and caught above. "passWord"…
		// also; what is left is a name with no secret word at all.
		return namePlain
	}
	head := words[len(words)-1]
	for _, p := range pathHeads {
		if strings.HasSuffix(head, p) {
			return namePath
		}
	}
	if quantityHeads[head] {
		return nameQuantity
	}
	for _, w := range words {
		if quantityWords[w] {
			return nameQuantity
		}
	}
	if booleanHeads[head] || booleanVerbs[words[0]] {
		return nameBoolean
	}
	if descriptorHeads[head] {
		return nameDescriptor
	}
	return nameSecret
}

// redactValue returns what may be shown of value, the value of a name of kind k.
func redactValue(k nameKind, value string) string {
	if value == "" || value == redacted {
		return value
	}
	switch k {
	case nameSecret:
		if isBoolWord(value) || isDuration(value) || isAbsPath(value) {
			return value
		}
		return redacted
	case namePath:
		if isAbsPath(value) || isRelPath(value) {
			return value
		}
		return redacted
	case nameQuantity:
		if isQuantity(value) || isDuration(value) || isBoolWord(value) {
			return value
		}
		return redacted
	case nameBoolean:
		if isBoolWord(value) {
			return value
		}
	}
	return redactText(value)
}

// userPassNames are flags whose value is "user:password" (curl -u, --user, --basic-auth).
func isUserPassFlag(name string) bool {
	switch strings.ToLower(strings.TrimLeft(name, "-")) {
	case "u", "user", "basic-auth", "basicauth", "userpass", "user-pass", "creds", "credentials", "login", "proxy-user":
		return true
	}
	return false
}

// redactUserPass replaces what follows the first ':' of a "user:password" value, the value of
// a flag named name; without a ':' the value is judged by the flag's name.
func redactUserPass(name, v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 && !strings.Contains(v, "://") && i+1 < len(v) {
		return v[:i+1] + redacted
	}
	return redactValue(kindOf(name), v)
}

// flagName returns the name of an argument shaped "--name=value", "-name=value" or "NAME=value",
// and its value.
func flagName(arg string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(arg, "=")
	if !ok || name == "" {
		return "", "", false
	}
	n := strings.TrimLeft(name, "-")
	if len(name)-len(n) > 2 || n == "" || !isIdentStart(n[0]) {
		return "", "", false
	}
	for i := 1; i < len(n); i++ {
		if !isIdentByte(n[i]) {
			return "", "", false
		}
	}
	return name, value, true
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

func isIdentByte(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.' }

// isFlag reports whether an argument is a flag of more than one letter without "=value": "-p"
// is a port as often as a password, so a single-letter flag is never taken for a secret's name.
func isFlag(a string) bool {
	n := strings.TrimLeft(a, "-")
	return len(a)-len(n) >= 1 && len(a)-len(n) <= 2 && len(n) > 1 && !strings.ContainsAny(a, "= ")
}

// redactArgs returns a copy of a command line with secrets replaced by "[redacted]":
//
//   - the value of "name=value" when the name names a secret (--password=x, -api-key=x,
//     AWS_SECRET_ACCESS_KEY=x), unless the rest of the name says what the value is and it has
//     that shape (--session-timeout=30s, --max-tokens=100, --tls-key-file=/etc/tls/server.key);
//   - the argument after such a flag when it has no "=" (--token x), unless the flag is a switch
//     (--skip-auth), the next argument is a flag, or a path;
//   - the password of "user:password" after -u, --user, --basic-auth;
//   - in every argument, argv[0] included, whatever has a secret's shape (redactText).
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	var pending nameKind = namePlain // the kind of the flag before, when it awaits its value
	userPass := false
	for i, a := range args {
		if i == 0 {
			out[i] = redactText(a)
			continue
		}
		prev, prevUserPass := pending, userPass
		pending, userPass = namePlain, false
		if !strings.HasPrefix(a, "-") || a == "-" {
			switch {
			case prevUserPass:
				out[i] = redactUserPass(args[i-1], a)
				continue
			case prev == nameSecret && !isAbsPath(a):
				out[i] = redactValue(nameSecret, a)
				continue
			case prev == namePath || prev == nameQuantity:
				out[i] = redactValue(prev, a)
				continue
			}
		}
		if name, value, ok := flagName(a); ok {
			if isUserPassFlag(name) {
				out[i] = name + "=" + redactUserPass(name, value)
			} else {
				out[i] = name + "=" + redactValue(kindOf(name), value)
			}
			continue
		}
		out[i] = redactText(a)
		if isFlag(a) {
			pending = kindOf(a)
			userPass = isUserPassFlag(a)
		} else if a == "-u" {
			userPass = true
		}
	}
	return out
}

// redactEnvValue is what /proc shows for an allowlisted variable: by the rules of a flag's value
// (allowlisting "APP_*" should not publish APP_TOKEN), and by shape whatever the name (an
// allowlisted DATABASE_URL holding a password).
func redactEnvValue(key, value string) string {
	return redactValue(kindOf(key), value)
}
