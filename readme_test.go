package onlinestock_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestREADMEInCode checks that the README's "In code" snippet is the
// sellOnline function of example_readme_test.go, which ExampleService
// compiles and runs: what a reader pastes is what the tests run.
func TestREADMEInCode(t *testing.T) {
	readme := readFile(t, "README.md")
	_, section, ok := strings.Cut(readme, "## In code\n")
	if !ok {
		t.Fatal(`README.md has no "## In code" section`)
	}
	_, block, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal(`README.md's "In code" section has no go code block`)
	}
	block, _, ok = strings.Cut(block, "```\n")
	if !ok {
		t.Fatal(`README.md's "In code" code block is not closed`)
	}

	source := readFile(t, "example_readme_test.go")
	start := strings.Index(source, "func sellOnline(")
	if start < 0 {
		t.Fatal("example_readme_test.go has no sellOnline function")
	}
	end := strings.Index(source[start:], "\n}\n")
	if end < 0 {
		t.Fatal("example_readme_test.go: sellOnline is not closed")
	}
	want := source[start : start+end+3]
	if diff := cmp.Diff(want, block); diff != "" {
		t.Errorf("README.md's In code snippet differs from sellOnline in example_readme_test.go (-want +got):\n%s", diff)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
