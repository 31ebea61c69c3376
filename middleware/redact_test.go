package middleware

import (
	"slices"
	"testing"
)

func TestRedactArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"/bin/svc", "--password=hunter2", "--port=80"}, []string{"/bin/svc", "--password=[redacted]", "--port=80"}},
		{[]string{"svc", "--token", "abc", "--verbose"}, []string{"svc", "--token", "[redacted]", "--verbose"}},
		{[]string{"svc", "-api-key=k", "--api_key", "k2"}, []string{"svc", "-api-key=[redacted]", "--api_key", "[redacted]"}},
		{[]string{"svc", "AWS_SECRET_ACCESS_KEY=wJalr", "GOGC=50"}, []string{"svc", "AWS_SECRET_ACCESS_KEY=[redacted]", "GOGC=50"}},
		{[]string{"svc", "--db=postgres://app:s3cret@db:5432/x"}, []string{"svc", "--db=postgres://app:[redacted]@db:5432/x"}},
		{[]string{"svc", "--dsn=postgres://app:s3cret@db/x"}, []string{"svc", "--dsn=[redacted]"}},
		{[]string{"svc", "-H", "Authorization: Bearer eyJ"}, []string{"svc", "-H", "Authorization:[redacted]"}},
		{[]string{"svc", "-p", "8080"}, []string{"svc", "-p", "8080"}}, // a single letter is a port as often as a password
		{[]string{"svc", "--client-secret"}, []string{"svc", "--client-secret"}},
		{[]string{"https://u:pw@host/x", "run"}, []string{"https://u:[redacted]@host/x", "run"}},
		{nil, []string{}},
	} {
		if got := redactArgs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("redactArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactEnvValue(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"GOGC", "100", "100"},
		{"APP_TOKEN", "t", "[redacted]"},
		{"AWS_SECRET_ACCESS_KEY", "w", "[redacted]"},
		{"DATABASE_URL", "mysql://u:p@h/db", "mysql://u:[redacted]@h/db"},
	} {
		if got := redactEnvValue(tc.key, tc.value); got != tc.want {
			t.Errorf("redactEnvValue(%s, %s) = %s, want %s", tc.key, tc.value, got, tc.want)
		}
	}
}
