package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
)

const urlEnv = "ONLINESTOCK_TEST_DATABASE_URL"

// emptyDatabaseURL returns a URL whose connections use a new, empty schema
// of the test database (dropped when t ends), or skips t when no test
// database is named.
func emptyDatabaseURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv(urlEnv)
	if base == "" {
		t.Skipf("%s is not set: skipping the commands that need PostgreSQL", urlEnv)
	}
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "onlinestock_cli_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// cli runs the command line args and returns its standard output and error.
func cli(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestMigrate(t *testing.T) {
	db := emptyDatabaseURL(t)

	out, _, err := cli(t, "migrate", "status", "--database-url", db)
	if !errors.Is(err, errPending) {
		t.Fatalf("migrate status on an empty database: error %v, want errPending", err)
	}
	if !regexp.MustCompile(`(?m)^1 +0001_init\.sql +pending$`).MatchString(out) || !strings.Contains(out, "schema at version 0") {
		t.Errorf("migrate status on an empty database printed:\n%s", out)
	}

	out, _, err = cli(t, "migrate", "--database-url", db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "applied 0001_init.sql\napplied 0002_") || strings.Contains(out, "nothing to apply") {
		t.Errorf("first migrate printed:\n%s", out)
	}

	out, _, err = cli(t, "migrate", "--database-url", db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "nothing to apply: schema at version ") {
		t.Errorf("second migrate printed:\n%s", out)
	}

	out, _, err = cli(t, "migrate", "status", "--database-url", db)
	if err != nil {
		t.Fatalf("migrate status after migrate: %v", err)
	}
	if regexp.MustCompile(`(?m)sql +pending$`).MatchString(out) || !strings.Contains(out, ", 0 pending") {
		t.Errorf("migrate status after migrate printed:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"migrate"},
		{"migrate", "status"},
		{"migrate", "extra"},
		{"migrate", "--database-url", "::not a url"},
	} {
		_, _, err := cli(t, args...)
		if !errors.As(err, new(*usageError)) {
			t.Errorf("onlinestock %q: error %v, want a usage error", args, err)
		}
	}
}

func TestMigrateRefusedConnection(t *testing.T) {
	_, _, err := cli(t, "migrate", "--database-url", "postgres://postgres@127.0.0.1:1/none?sslmode=disable")
	if err == nil || !strings.Contains(err.Error(), "cannot connect to PostgreSQL") || strings.Contains(err.Error(), "migration") {
		t.Errorf("migrate with nothing listening: error %v, want a connection error", err)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}, {"help", "inspect"}, {"inspect", "reservations", "-h"}, {"inspect", "movements", "--help"}, {"migrate", "status", "--help"}} {
		out, stderr, err := cli(t, args...)
		if err != nil || !strings.Contains(out, "Usage:") || stderr != "" {
			t.Errorf("onlinestock %q: error %v, standard error %q, output %q; want the usage on standard output", args, err, stderr, out)
		}
	}
}

func TestUsageErrorsSayWhatIsWrong(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, tt := range []struct {
		args      []string
		msg, help string // the error, and a line of the usage printed
	}{
		{[]string{}, "no command given", "Available Commands:"},
		{[]string{"inspekt"}, `unknown command "inspekt" (did you mean "inspect"?)`, "Available Commands:"},
		{[]string{"inspect", "level"}, `inspect: unknown "level" (did you mean "levels"?)`, "reservations"},
		{[]string{"inspect", "levels"}, "inspect levels: missing argument", "onlinestock inspect levels PRODUCT"},
		{[]string{"inspect", "movement"}, `inspect: unknown "movement" (did you mean "movements"?)`, "dead-letters"},
		{[]string{"migrate", "status", "--bogus"}, "migrate status: unknown flag: --bogus", "--timeout"},
		{[]string{"serve", "--tenant", "a"}, "serve: no database: pass --database-url or set DATABASE_URL", "--no-auth"},
		{[]string{"keys"}, "keys: create, list or revoke?", "Available Commands:"},
		{[]string{"keys", "create", "--tenant", "a", "--role", "cashier"}, `keys create: --role: role "cashier": not storefront, pos or admin`, "--name"},
		{[]string{"keys", "create", "--role", "pos"}, "keys create: --tenant is required", "--role"},
		{[]string{"tenants", "creat"}, `tenants: unknown "creat" (did you mean "create"?)`, "list"},
		{[]string{"import", "a.csv", "b.csv"}, `import: unexpected argument "b.csv"`, "--batch"},
	} {
		_, stderr, err := cli(t, tt.args...)
		if !errors.As(err, new(*usageError)) || err.Error() != tt.msg {
			t.Errorf("onlinestock %q: error %v, want the usage error %q", tt.args, err, tt.msg)
		}
		if !strings.Contains(stderr, tt.help) {
			t.Errorf("onlinestock %q: standard error %q, want the usage, with %q", tt.args, stderr, tt.help)
		}
	}
}

func TestLongFlags(t *testing.T) {
	root := newRoot()
	for _, tt := range []struct{ in, want []string }{
		{nil, []string{}},
		{[]string{"migrate", "-database-url", "u"}, []string{"migrate", "--database-url", "u"}},
		{[]string{"-database-url=u", "migrate", "-timeout=1m"}, []string{"--database-url=u", "migrate", "--timeout=1m"}},
		{[]string{"inspect", "-json", "levels", "-tenant", "t", "tee"}, []string{"inspect", "--json", "levels", "--tenant", "t", "tee"}},
		{[]string{"-h", "--help", "-help"}, []string{"-h", "--help", "--help"}},
		{[]string{"redeliver", "-all", "--", "-all", "-7"}, []string{"redeliver", "--all", "--", "-all", "-7"}},
		{[]string{"import", "-x", "-unknown", "-", "-1"}, []string{"import", "-x", "-unknown", "-", "-1"}},
	} {
		if diff := cmp.Diff(tt.want, longFlags(root, tt.in)); diff != "" {
			t.Errorf("longFlags(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}
