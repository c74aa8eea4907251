// Package shared finds the project's shared folder (design notes, the FHIR R5
// schema and its origin, real provider payloads), which sits beside the
// repository both on a developer's machine and in CI. Tests use it; a missing
// folder fails them, it never skips them.
package shared

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Find walks up from the working directory and returns the first existing
// path dir/shared/rel (rel is slash-separated, e.g. "fixtures/withings").
func Find(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "shared", filepath.FromSlash(rel))
		if _, err := os.Stat(cand); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("shared/%s not found in any parent directory", rel)
		}
		dir = parent
	}
}

// Path is Find for tests: it fails tb when the path is missing.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	p, err := Find(rel)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
