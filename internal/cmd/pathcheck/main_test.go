package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// up builds "../" n times, so that this file holds no literal that leaves the
// root itself.
func up(n int) string { return strings.Repeat("../", n) }

// shared is the sibling folder's name behind one "../", built at run time
// for the same reason.
var shared = up(1) + "shared"

func TestPlantedReferencesAreFound(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string // the references reported, in order
	}{
		{"markdown link to the shared folder", "README.md",
			"Design notes: [DESIGN](" + shared + "/DESIGN.md).\n", []string{shared, shared + "/DESIGN.md"}},
		{"shared folder in a Go comment", "withings/doc.go",
			"// Package withings follows " + shared + "/providers/withings.md.\npackage withings\n", []string{shared}},
		{"walk-up in a test", "withings/fixtures_test.go",
			"package withings\nvar dir = \"" + up(1) + shared + "/fixtures\"\n", []string{shared, up(1) + shared + "/fixtures"}},
		{"literal leaving the root", "a/b/c_test.go",
			"package c\nvar f = \"" + up(3) + "outside.json\"\n", []string{up(3) + "outside.json"}},
		{"filepath.Join leaving the root", "a/b/c_test.go",
			"package c\nimport \"path/filepath\"\nvar f = filepath.Join(\"..\", \"..\", \"..\", \"x\")\n", []string{up(3) + "x"}},
		{"markdown link leaving the root", "docs/providers/x.md",
			"see [y](" + up(3) + "y.md)\n", []string{up(3) + "y.md"}},
		{"markdown link through a folder and out", "README.md",
			"see [n](docs/" + up(2) + "notes.md#top)\n", []string{"docs/" + up(2) + "notes.md"}},
		{"walk-up loop to the shared folder", "internal/finder/find.go",
			"package finder\nimport \"path/filepath\"\nfunc find(dir, rel string) string { return filepath.Join(dir, \"shared\", rel) }\n",
			[]string{`Join(<dir>, "shared", …)`}},
		{"script path leaving the root", ".ci/run",
			"cat " + up(1) + "notes.txt\n", []string{up(1) + "notes.txt"}},
		{"manifest path leaving the root", "deploy/k8s/a.yaml",
			"file: " + up(3) + "secret.pem\n", []string{up(3) + "secret.pem"}},

		{"parent's testdata from a sub-package", "withings/withingstest/shapes_test.go",
			"package w\nimport \"path/filepath\"\nvar d = filepath.Join(\"..\", \"testdata\", \"fixtures\")\n", nil},
		{"README from cmd/ohxd", "cmd/ohxd/config_test.go",
			"package main\nvar p = \"" + up(2) + "README.md\"\n", nil},
		{"markdown link up to docs", "withings/testdata/fixtures/README.md",
			"[w](" + up(3) + "docs/providers/withings.md)\n", nil},
		{"absolute system paths", "cmd/ohxd/config.go",
			"package main\nvar a, b = \"/var/run/postgresql\", \"/tmp/ohx\"\n", nil},
		{"hostile input inside a path", "server/server_test.go",
			"package server\nvar p = \"Patient/" + up(1) + "x\"\nvar q = \"a/" + up(3) + "b\"\n", nil},
		{"markdown links inside and to the web", "docs/providers/x.md",
			"[a](../architecture.md) [b](https://example.org/" + up(3) + "c) [c](#contracts) [d](/etc/hosts)\n", nil},
		{"shared as a leaf of a computed path", "store/x.go",
			"package store\nimport \"path/filepath\"\nvar a = filepath.Join(\"testdata\", \"shared\")\nfunc f(d string) string { return filepath.Join(d, \"x\", \"shared\") }\n", nil},
		{"ellipsis", "store/syncerror.go", "package store\nvar e = \"...\"\n// cut to \"...\".\n", nil},
		{"history in the changelog", "CHANGELOG.md", "- tests no longer read " + shared + ".\n", nil},
		{"script that goes to its root", ".ci/run", "cd \"$(dirname \"$0\")/..\"\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{tt.file: {Data: []byte(tt.content)}}
			got, err := Check(fsys, []string{tt.file})
			require.NoError(t, err)
			var refs []string
			for _, p := range got {
				assert.Equal(t, tt.file, p.File)
				assert.Positive(t, p.Line)
				refs = append(refs, p.Ref)
			}
			assert.Equal(t, tt.want, refs)
		})
	}
}

func TestBinaryAndMissingFilesAreSkipped(t *testing.T) {
	fsys := fstest.MapFS{"a.bin": {Data: []byte("\x00" + shared)}}
	got, err := Check(fsys, []string{"a.bin", "gone.go"})
	require.NoError(t, err)
	assert.Empty(t, got)
}

// TestModuleStaysInside runs the check on this module: no file refers to a
// path outside it.
func TestModuleStaysInside(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	files, err := listFiles(t.Context(), root)
	require.NoError(t, err)
	require.Contains(t, files, "go.mod")
	require.Contains(t, files, "internal/cmd/pathcheck/main.go")
	problems, err := Check(os.DirFS(root), files)
	require.NoError(t, err)
	for _, p := range problems {
		t.Error(p)
	}
}
