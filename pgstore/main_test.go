package pgstore_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs nothing when no test database is named, and says so where
// go test shows it: "go test ./..." prints only one line for a package
// that passes, and ends it with "[no tests to run]" when the test binary
// reports that it ran none, as this one does. Every test of the package
// needs PostgreSQL, so none is left out that could have run.
func TestMain(m *testing.M) {
	if os.Getenv(urlEnv) == "" {
		fmt.Printf("pgstore: %s is not set: the PostgreSQL tests did not run.\n", urlEnv)
		fmt.Printf("pgstore: create a database and name it, e.g.\n")
		fmt.Printf("  createdb -h 127.0.0.1 -U postgres onlinestock_test\n")
		fmt.Printf("  %s='postgres://postgres@127.0.0.1:5432/onlinestock_test?sslmode=disable' go test ./...\n", urlEnv)
		fmt.Println("testing: warning: no tests to run")
		os.Exit(0)
	}
	os.Exit(m.Run())
}
