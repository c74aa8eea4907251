package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxFuncLines is the longest a non-test function of ohxd may be, from its
// func line to its closing brace: the daemon is wiring, and wiring that
// does not fit on a screen hides what it builds.
const maxFuncLines = 80

// longFuncs returns "file:line name (n lines)" for every function or method
// of the non-test Go files in dir longer than max lines.
func longFuncs(dir string, max int) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var long []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > max {
				long = append(long, fmt.Sprintf("%s:%d %s (%d lines)", filepath.Base(path), start.Line, fn.Name.Name, n))
			}
		}
	}
	return long, nil
}

func TestNoLongFunctions(t *testing.T) {
	long, err := longFuncs(".", maxFuncLines)
	require.NoError(t, err)
	assert.Empty(t, long, "functions of cmd/ohxd over %d lines: split them into builders", maxFuncLines)
}

// TestLongFunctionsAreFound plants a function one line too long (and one
// just short enough) and checks the rule sees only the first.
func TestLongFunctionsAreFound(t *testing.T) {
	long, err := longFuncs(filepath.Join("testdata", "funlen"), maxFuncLines)
	require.NoError(t, err)
	assert.Equal(t, []string{"planted.go:5 tooLong (81 lines)"}, long)
	_, err = os.Stat(filepath.Join("testdata", "funlen", "planted_test.go"))
	require.NoError(t, err, "the planted test file is there, and skipped")
}
