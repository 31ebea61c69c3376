package middleware

import (
	"strings"
	"testing"
)

// plantTemplates put a secret where redaction must find it, by name or by shape.
var plantTemplates = []string{
	"--password=%s", "--pw=%s", "--creds=%s", "--api-key=%s", "DB_PASSWORD=%s", "password=%s",
	"postgres://app:%s@db:5432/x", "app:%s@tcp(db:3306)/x", "redis://:%s@cache:6379/0",
	"https://u:%s@host/path?q=1", "mysql://app:p@%s@db/x", "X-Api-Key: %s", "Authorization: Bearer %s",
	"Cookie: sid=%s", `{"password":"%s"}`, "https://h/x?access_token=%s&a=1", "host=db password=%s dbname=x",
	"Server=db;Password=%s;", "--header=X-Auth-Token: %s",
}

// FuzzRedact checks the redactor's invariants on any input: it never panics; redacting twice
// changes nothing; what is not a marker is never longer than the input (redaction only removes)
// and markers never pile up; and a secret planted by name or shape never survives, whatever
// argument comes before it.
func FuzzRedact(f *testing.F) {
	f.Add("--token", "hunter2planted", uint8(0))
	f.Add("postgres://u:pw@h/x", "S3cretValue99", uint8(6))
	f.Add("-----BEGIN PRIVATE KEY-----\nabc", "zzTopSecret1", uint8(11))
	f.Add("--skip-auth", "p4ssw0rdXYZ", uint8(7))
	f.Add(`{"a":{"token":"x"}}`, "abc!def#ghi", uint8(14))
	f.Add("-u", "Qw3rty!!Qw3rty", uint8(9))
	f.Fuzz(func(t *testing.T, text, secret string, which uint8) {
		if len(text) > 512 {
			return // a command line's arguments are short; long inputs only slow the search
		}
		out := redactText(text)
		checkRedacted(t, text, out)
		if strings.Contains(text, "\n") {
			args := strings.Split(text, "\n")
			outArgs := redactArgs(args)
			if len(outArgs) != len(args) {
				t.Fatalf("redactArgs: %d arguments in, %d out", len(args), len(outArgs))
			}
			for i := range args {
				checkRedacted(t, args[i], outArgs[i])
			}
		}

		if !plantable(secret) || strings.Contains(text, secret) {
			return
		}
		planted := strings.Replace(plantTemplates[int(which)%len(plantTemplates)], "%s", secret, 1)
		got := redactArgs([]string{"svc", text, planted, text})
		if strings.Contains(got[2], secret) {
			t.Fatalf("after %q, %q became %q: the secret survives", text, planted, got[2])
		}
		if v := redactEnvValue("APP_VALUE", planted); strings.Contains(v, secret) {
			t.Fatalf("variable value %q became %q: the secret survives", planted, v)
		}
	})
}

func checkRedacted(t *testing.T, in, out string) {
	t.Helper()
	if again := redactText(out); again != out {
		t.Fatalf("redacting %q twice: %q then %q", in, out, again)
	}
	markers := strings.Count(out, redacted)
	if len(out)-markers*len(redacted) > len(in) {
		t.Fatalf("redacting %q gave %q: longer than the input without its markers", in, out)
	}
	if markers > 0 && strings.Contains(out, redacted+redacted) {
		t.Fatalf("redacting %q gave %q: markers side by side", in, out)
	}
}

// plantable reports whether s can stand for a secret: long enough not to occur by chance, of
// characters a password uses without being a separator, and not a value the redactor keeps on
// purpose (a boolean, a duration, a number under a quantity's name).
func plantable(s string) bool {
	if len(s) < 8 || len(s) > 64 || isBoolWord(s) || isDuration(s) || isQuantity(s) || strings.Contains(s, "redacted") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#%*+^~_.-", c) >= 0) {
			return false
		}
	}
	return s[0] != '-' && s[0] != '.'
}
