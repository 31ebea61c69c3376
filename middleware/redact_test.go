package middleware

import (
	"slices"
	"strings"
	"testing"
)

// TestRedactArgs is the command line, whole: what is redacted and what is kept around it.
func TestRedactArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"/bin/svc", "--password=hunter2", "--port=80"}, []string{"/bin/svc", "--password=[redacted]", "--port=80"}},
		{[]string{"svc", "--token", "abc", "--verbose"}, []string{"svc", "--token", "[redacted]", "--verbose"}},
		{[]string{"svc", "-api-key=k", "--api_key", "k2"}, []string{"svc", "-api-key=[redacted]", "--api_key", "[redacted]"}},
		{[]string{"svc", "AWS_SECRET_ACCESS_KEY=wJalr", "GOGC=50"}, []string{"svc", "AWS_SECRET_ACCESS_KEY=[redacted]", "GOGC=50"}},
		{[]string{"svc", "--db=postgres://app:s3cret@db:5432/x"}, []string{"svc", "--db=postgres://app:[redacted]@db:5432/x"}},
		{[]string{"svc", "--dsn=postgres://app:s3cret@db/x"}, []string{"svc", "--dsn=[redacted]"}},
		{[]string{"svc", "-H", "Authorization: Bearer eyJ"}, []string{"svc", "-H", "Authorization: [redacted]"}},
		{[]string{"svc", "-p", "8080"}, []string{"svc", "-p", "8080"}}, // a single letter is a port as often as a password
		{[]string{"svc", "--client-secret"}, []string{"svc", "--client-secret"}},
		{[]string{"https://u:pw@host/x", "run"}, []string{"https://u:[redacted]@host/x", "run"}},
		{[]string{"svc", "--skip-auth", "/etc/app/config.yaml"}, []string{"svc", "--skip-auth", "/etc/app/config.yaml"}},
		{[]string{"svc", "--no-auth", "serve"}, []string{"svc", "--no-auth", "serve"}},
		{[]string{"svc", "--token", "--verbose"}, []string{"svc", "--token", "--verbose"}},
		{[]string{"svc", "--tls-key-file", "/etc/tls/server.key", "run"}, []string{"svc", "--tls-key-file", "/etc/tls/server.key", "run"}},
		{[]string{"svc", "--session-timeout", "30s", "run"}, []string{"svc", "--session-timeout", "30s", "run"}},
		{[]string{"svc", "--max-tokens", "abc123"}, []string{"svc", "--max-tokens", "[redacted]"}},
		{[]string{"curl", "--header", "X-Api-Key: 9f8e7d6c5b4a", "https://api.example.com/v1"}, []string{"curl", "--header", "X-Api-Key: [redacted]", "https://api.example.com/v1"}},
		{[]string{"curl", "-u", "admin:hunter2", "http://localhost"}, []string{"curl", "-u", "admin:[redacted]", "http://localhost"}},
		{[]string{"svc", "--user=admin:hunter2"}, []string{"svc", "--user=admin:[redacted]"}},
		{[]string{"svc", "--password", "/run/secrets/db"}, []string{"svc", "--password", "/run/secrets/db"}},
		{nil, []string{}},
	} {
		if got := redactArgs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("redactArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// mustRedact are secrets in the shapes /proc shows them: each argument or value holds the secret
// "S3CRET" or a longer planted one, which must not survive; the rest of it may.
var mustRedact = []struct{ in, secret string }{
	// By name, with "=" and as the next argument.
	{"--password=hunter2pw", "hunter2pw"},
	{"--pw=hunter2pw", "hunter2pw"},
	{"--db-pw=hunter2pw", "hunter2pw"},
	{"--pwd=hunter2pw", "hunter2pw"},
	{"--passwd=hunter2pw", "hunter2pw"},
	{"--passphrase=correct horse", "correct horse"},
	{"--creds=svc:hunter2pw", "hunter2pw"},
	{"--cred=hunter2pw", "hunter2pw"},
	{"--credentials=hunter2pw", "hunter2pw"},
	{"--api-key=abcdef123456", "abcdef123456"},
	{"--apiKey=abcdef123456", "abcdef123456"},
	{"--APIKEY=abcdef123456", "abcdef123456"},
	{"--access-token=abcdef123456", "abcdef123456"},
	{"--refresh-token=abcdef123456", "abcdef123456"},
	{"--client-secret=abcdef123456", "abcdef123456"},
	{"--secret-key=abcdef123456", "abcdef123456"},
	{"--private-key=abcdef123456", "abcdef123456"},
	{"--session-id=abcdef123456", "abcdef123456"},
	{"--cookie=sid=abcdef123456", "abcdef123456"},
	{"--auth=admin:hunter2pw", "hunter2pw"},
	{"--signing-key=abcdef123456", "abcdef123456"},
	{"--hmac-secret=abcdef123456", "abcdef123456"},
	{"--jwt=abcdef123456", "abcdef123456"},
	{"--pin=482913", "482913"},
	{"--otp=482913", "482913"},
	{"--password=123456789", "123456789"}, // a number is a secret under a secret's name
	{"--token=deadbeefcafebabe0123456789abcdef01234567", "deadbeefcafebabe0123456789abcdef01234567"},
	{"--connection-string=Server=db;User Id=sa;Password=hunter2pw;", "hunter2pw"},
	{"-db.password=hunter2pw", "hunter2pw"},
	{"DB_PASSWORD=hunter2pw", "hunter2pw"},
	{"GITHUB_TOKEN=abcdef123456", "abcdef123456"},
	{"--salt=abcdef123456", "abcdef123456"},
	{"--sas=sv=2020&sig=abcdef123456", "abcdef123456"},
	// URLs and DSNs.
	{"--db=postgres://app:hunter2pw@db:5432/x", "hunter2pw"},
	{"--db=mysql://app:hunter2pw@db/x?tls=true", "hunter2pw"},
	{"--db=app:hunter2pw@tcp(db.internal:3306)/orders?parseTime=true", "hunter2pw"},
	{"--db=app:hunter2pw@unix(/var/run/mysqld/mysqld.sock)/orders", "hunter2pw"},
	{"--db=app:hunter2pw@/orders", "hunter2pw"},
	{"app:hunter2pw@tcp(127.0.0.1:3306)/x", "hunter2pw"},
	{"--cache=redis://:hunter2pw@cache:6379/0", "hunter2pw"},
	{"--cache=rediss://default:hunter2pw@cache:6380", "hunter2pw"},
	{"--db=postgres://app:p@ss/w0rd-hunter2@db:5432/x", "w0rd-hunter2"},
	{"--db=postgres://app:p@ss/w0rd-hunter2@db:5432/x", "p@ss"},
	{"--db=postgres://app:hunt:er2@db/x?email=a@b.example", "hunt:er2"},
	{"--amqp=amqp://guest:hunter2pw@rabbit:5672/", "hunter2pw"},
	{"--mongo=mongodb+srv://app:hunter2pw@cluster0.example.net/db?retryWrites=true", "hunter2pw"},
	{"--brokers=kafka://u:hunter2pw@k1:9092,kafka://u:second2pw@k2:9092", "hunter2pw"},
	{"--brokers=kafka://u:hunter2pw@k1:9092,kafka://u:second2pw@k2:9092", "second2pw"},
	{"--proxy=http://user:hunter2pw@proxy:3128", "hunter2pw"},
	{"--jdbc=jdbc:postgresql://db:5432/x?user=app&password=hunter2pw&ssl=true", "hunter2pw"},
	{"--dsn-keywords=host=db user=app password=hunter2pw dbname=x", "hunter2pw"},
	{"--url=https://api.example.com/v1?access_token=abcdef123456&x=1", "abcdef123456"},
	{"--url=https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=abcdef123456", "abcdef123456"},
	{"--url=https://acct.blob.core.windows.net/c?sv=2020-08-04&sig=abcdef123456%3D", "abcdef123456"},
	{"--repo=https://ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/o/r.git", "ghp_0123456789abcdefghijABCDEFGHIJ012345"},
	{"--repo=https://x-access-token:abcdef123456@github.com/o/r.git", "abcdef123456"},
	{"--storage=DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abcdef123456+/==;EndpointSuffix=core.windows.net", "abcdef123456"},
	// Headers.
	{"X-Api-Key: abcdef123456", "abcdef123456"},
	{"X-Api-Key:abcdef123456", "abcdef123456"},
	{"--header=X-Api-Key: abcdef123456", "abcdef123456"},
	{"Authorization: Bearer abcdef123456", "abcdef123456"},
	{"authorization: Basic YWRtaW46aHVudGVyMg==", "YWRtaW46aHVudGVyMg=="},
	{"Proxy-Authorization: Basic YWRtaW46aHVudGVyMg==", "YWRtaW46aHVudGVyMg=="},
	{"Cookie: session=abcdef123456; theme=dark", "abcdef123456"},
	{"X-Auth-Token: abcdef123456", "abcdef123456"},
	{"Private-Token: abcdef123456", "abcdef123456"},
	{"X-Vault-Token: abcdef123456", "abcdef123456"},
	{`-H "X-Api-Key: abcdef123456" -v`, "abcdef123456"},
	{"Bearer abcdef123456", "abcdef123456"},
	// JSON and YAML-ish in an argument or a variable.
	{`--config-json={"api_key":"abcdef123456","port":8080}`, "abcdef123456"},
	{`{"password": "hunter2 pw", "user": "app"}`, "hunter2 pw"},
	{`{"auth":{"token":"abcdef123456"}}`, "abcdef123456"},
	{"password: hunter2pw", "hunter2pw"},
	{`--opts=password="hunter2 pw" user=app`, "hunter2 pw"},
	// Shapes anywhere.
	{"--x=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"},
	{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"},
	{"--aws-id=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"},
	{"AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"},
	{"--gh=ghp_0123456789abcdefghijABCDEFGHIJ012345", "ghp_0123456789abcdefghijABCDEFGHIJ012345"},
	{"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"},
	{"--slack=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},
	{"--stripe=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
	{"--openai=sk-proj-abcdefghijklmnopqrstuvwxyz012345", "sk-proj-abcdefghijklmnopqrstuvwxyz012345"},
	{"--gitlab=glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789"},
	{"--google=AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234"},
	{"--vault=hvs.CAESIJabcdefghijklmnopqrstuvwxyz", "hvs.CAESIJabcdefghijklmnopqrstuvwxyz"},
	{"--npm=npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abcdefghijklmnopqrstuvwxyz0123456789"},
	{"--aws=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	{"--blob=q8F3xZ0pL2mN7vB4cR9tY1wK6hJ5gD3s", "q8F3xZ0pL2mN7vB4cR9tY1wK6hJ5gD3s"},
	{"--notify=https://hooks.slack.com/services/T0000/B0000/XXXXabcdef123456", "XXXXabcdef123456"},
	{"-Dspring.datasource.password=hunter2pw", "hunter2pw"},
	{"-Djavax.net.ssl.keyStorePassword=hunter2pw", "hunter2pw"},
	{"--set=auth.password=hunter2pw", "hunter2pw"},
	{"--redis-url=redis://:hunter2pw@cache:6379", "hunter2pw"},
	{"--db=postgres://app:hunter#2pw@db/x", "hunter#2pw"},
	{"--db=postgres://app:hunter?2pw@db/x?sslmode=require", "hunter?2pw"},
	{"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA75Q\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA75Q"},
	{"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"},
}

// mustKeep are values that look a little like secrets and are not: redacting them hides what a
// diagnostics page is for.
var mustKeep = []string{
	"--session-timeout=30s", "--session-ttl=1h30m", "--token-ttl=3600", "--max-tokens=100",
	"--min-password-length=12", "--key-size=2048", "--auth-retries=3", "--session-cache-size=64MiB",
	"--tls-key-file=/etc/tls/server.key", "--tls-cert-file=/etc/tls/server.crt", "--keyfile=/etc/ssl/k.pem",
	"--password-file=/run/secrets/db_password", "--token-path=./secrets/token", "--tls-key-file=certs/server.key",
	"--auth-mode=oauth2", "--auth-type=basic", "--token-url=https://auth.example.com/oauth/token",
	"--skip-auth", "--auth-enabled=true", "--insecure-skip-tls-verify=false", "--enable-session=yes",
	"--session-store=redis", "--cookie-name=sid", "--key-algorithm=rsa",
	"--port=8080", "--host=0.0.0.0", "--log-level=debug", "--config=/etc/app/config.yaml",
	"--db=postgres://db.internal:5432/orders?sslmode=disable", "--db=postgres://app@db.internal:5432/orders",
	"--url=https://example.com/path?page=2&sort=asc", "--mail=mailto:ops@example.com",
	"--image=nginx:1.25@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"--commit=3f786850e387550fdab836ed7e6dc881de23001b", "--request-id=123e4567-e89b-12d3-a456-426614174000",
	"/usr/local/bin/svc", "/home/User/Projects/MyApp2024/build/svc", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
	"-test.run=^TestSecretsChild$", "-test.v", "github.com/memdiag/memdiag/cmd/memdiag",
	"GOGC=50", "GOMEMLIMIT=512MiB", "Content-Type: application/json", "serve", "--",
	"ssh://git@github.com/org/repo.git", "git@github.com:org/repo.git", "Basic", "--keyspace=orders",
	"GOMAXPROCS=2", "--bypass-cache", "--author=alice", "--passive", "--token-expiry=24h",
	"--password-min-length=8", "--secrets-dir=/run/secrets", "--auth-header=X-Auth-User", "--keepalive=30s",
	"--cache-key-prefix=app", "--num-tokens=4096", "--max-tokens=1e6", "--session-timeout=1m30s",
}

func TestRedactTextTable(t *testing.T) {
	t.Run("must redact", func(t *testing.T) {
		for _, tc := range mustRedact {
			for _, got := range []string{redactArgs([]string{"svc", tc.in})[1], redactEnvValue("APP_VALUE", tc.in)} {
				if strings.Contains(got, tc.secret) || !strings.Contains(got, redacted) {
					t.Errorf("%q: %q survives in %q", tc.in, tc.secret, got)
				}
			}
		}
	})
	t.Run("must keep", func(t *testing.T) {
		for _, in := range mustKeep {
			if got := redactArgs([]string{"svc", in})[1]; got != in {
				t.Errorf("%q redacted to %q", in, got)
			}
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		for _, tc := range mustRedact {
			once := redactText(tc.in)
			if twice := redactText(once); twice != once {
				t.Errorf("%q: once %q, twice %q", tc.in, once, twice)
			}
		}
	})
}

// TestRedactNextArgument: the argument after a flag that names a secret, by what the flag says.
func TestRedactNextArgument(t *testing.T) {
	for _, tc := range []struct {
		flag, next string
		keep       bool
	}{
		{"--password", "hunter2pw", false},
		{"--pw", "hunter2pw", false},
		{"--creds", "hunter2pw", false},
		{"--api-key", "abcdef123456", false},
		{"--token", "12345678", false},
		{"--skip-auth", "/etc/app/config.yaml", true},
		{"--skip-auth", "serve", true},
		{"--no-session", "serve", true},
		{"--auth-required", "serve", true},
		{"--tls-key-file", "/etc/tls/server.key", true},
		{"--session-timeout", "30s", true},
		{"--max-tokens", "100", true},
		{"--token-url", "https://auth.example.com/token", true},
		{"--auth-mode", "oauth2", true},
		{"--password", "-v", true},
		{"--verbose", "hunter2pw", true},
	} {
		got := redactArgs([]string{"svc", tc.flag, tc.next})
		if kept := got[2] == tc.next; kept != tc.keep {
			t.Errorf("%s %s: got %q, keep=%v", tc.flag, tc.next, got[2], tc.keep)
		}
		if got[1] != tc.flag {
			t.Errorf("the flag %s became %q", tc.flag, got[1])
		}
	}
}

func TestRedactEnvValue(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"GOGC", "100", "100"},
		{"APP_TOKEN", "t", "[redacted]"},
		{"AWS_SECRET_ACCESS_KEY", "w", "[redacted]"},
		{"DATABASE_URL", "mysql://u:p@h/db", "mysql://u:[redacted]@h/db"},
		{"MYSQL_DSN", "app:hunter2@tcp(db:3306)/x", "[redacted]"},
		{"APP_DB", "app:hunter2@tcp(db:3306)/x", "app:[redacted]@tcp(db:3306)/x"},
		{"REDIS_ADDR", "redis://:hunter2@cache:6379", "redis://:[redacted]@cache:6379"},
		{"APP_SESSION_TIMEOUT", "30s", "30s"},
		{"APP_TLS_KEY_FILE", "/etc/tls/server.key", "/etc/tls/server.key"},
		{"APP_HEADERS", "X-Api-Key: abcdef123456", "X-Api-Key: [redacted]"},
		{"APP_CONFIG", `{"password":"hunter2","port":8080}`, `{"password":"[redacted]","port":8080}`},
		{"APP_PEM", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----[redacted]"},
		{"APP_CERT_PEM", "x", "[redacted]"},
	} {
		if got := redactEnvValue(tc.key, tc.value); got != tc.want {
			t.Errorf("redactEnvValue(%s, %q) = %q, want %q", tc.key, tc.value, got, tc.want)
		}
	}
}
