// Command pathcheck fails when a file of the module refers to a path outside
// the module root, so that a clone of the repository stands on its own.
//
// It reports two things:
//
//   - any mention of the sibling "shared" folder by a relative path ("../"
//     followed by "shared"), wherever it appears, except in CHANGELOG.md, which
//     may tell the history, and, in Go files, a filepath.Join or path.Join that
//     appends a literal "shared" to a computed directory: the shape of a loop
//     that walks up from the working directory to find that folder;
//   - a relative path that, resolved against the directory of the file that
//     names it, leaves the module root: in Go files the string literals and the
//     literal leading arguments of filepath.Join and path.Join (a test runs in
//     its package's directory); in Markdown files the link targets and every
//     other "../" path (links resolve against the file); in every other file (scripts,
//     Dockerfile, manifests, which run from the root or beside themselves) a
//     "../" path that leaves the root from either place.
//
// Absolute paths (a database socket, /tmp) are not references into the
// repository and are never reported. Run it from the module root:
//
//	go run ./internal/cmd/pathcheck
//
// It lists the files with git (tracked plus untracked, not ignored) and walks
// the tree when git is unavailable.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	files, err := listFiles(context.Background(), root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pathcheck:", err)
		os.Exit(2)
	}
	problems, err := Check(os.DirFS(root), files)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pathcheck:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "pathcheck: %d reference(s) leave the module root\n", len(problems))
		os.Exit(1)
	}
}

// Problem is one reference that leaves the module root.
type Problem struct {
	// File is the slash-separated path of the file, relative to the root.
	File string
	// Line is the 1-based line of the reference.
	Line int
	// Ref is the reference as written.
	Ref string
	// Why says which rule it breaks.
	Why string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Ref, p.Why)
}

// historyFiles may name paths that no longer exist or never were part of the
// module: they tell what changed.
var historyFiles = []string{"CHANGELOG.md"}

var (
	// sharedRef is the sibling shared folder named by a relative path.
	sharedRef = regexp.MustCompile(`\.\./+shared\b`)
	// upPath is a relative path that starts by going up ("../x", "./../x"),
	// not preceded by a character that would make it the tail of a longer
	// path or word ("a/../b", "...").
	upPath = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./\\~$-])((?:\./)?(?:\.\./)+[^\s"'` + "`" + `()\[\]<>,;|&]*)`)
)

// Check reads each file (slash-separated, relative to the root of fsys) and
// returns the references that leave the root. Binary files are skipped.
func Check(fsys fs.FS, files []string) ([]Problem, error) {
	var out []Problem
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted in the work tree but still listed by git
			}
			return nil, err
		}
		if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			continue
		}
		out = append(out, checkFile(f, data)...)
	}
	return out, nil
}

func checkFile(file string, data []byte) []Problem {
	if slices.Contains(historyFiles, path.Base(file)) && path.Dir(file) == "." {
		return nil
	}
	var out []Problem
	for i, line := range strings.Split(string(data), "\n") {
		for _, m := range sharedRef.FindAllString(line, -1) {
			out = append(out, Problem{File: file, Line: i + 1, Ref: m, Why: "names the shared folder beside the repository"})
		}
	}
	dir := path.Dir(file)
	switch {
	case strings.HasSuffix(file, ".go"):
		out = append(out, checkGo(file, dir, data)...)
	case strings.HasSuffix(file, ".md"):
		out = append(out, checkText(file, data, dir)...)
		out = append(out, checkLinks(file, data, dir)...)
	default:
		out = append(out, checkText(file, data, dir, ".")...)
	}
	return out
}

// checkText reports "../" paths of a text file that leave the root when
// resolved against any of the bases.
func checkText(file string, data []byte, bases ...string) []Problem {
	var out []Problem
	for i, line := range strings.Split(string(data), "\n") {
		for _, m := range upPath.FindAllStringSubmatch(line, -1) {
			ref := m[1]
			for _, base := range bases {
				if escapes(base, ref) {
					out = append(out, Problem{File: file, Line: i + 1, Ref: ref, Why: "leaves the module root from " + base})
					break
				}
			}
		}
	}
	return out
}

// mdLink is the target of a Markdown link or image: ](target) or
// ](target "title").
var mdLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)`)

// checkLinks reports the relative Markdown link targets that leave the root
// when resolved against the file's directory, however they are written
// ("docs/../../x" as well as "../x", which checkText already reports).
func checkLinks(file string, data []byte, dir string) []Problem {
	var out []Problem
	for i, line := range strings.Split(string(data), "\n") {
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || isRelative(target) || strings.Contains(target, ":") || strings.HasPrefix(target, "/") {
				continue // an anchor, reported by checkText, a URL, or absolute
			}
			if escapes(dir, target) {
				out = append(out, Problem{File: file, Line: i + 1, Ref: target, Why: "leaves the module root from " + dir})
			}
		}
	}
	return out
}

// checkGo reports the string literals of a Go file, and the joined literal
// leading arguments of filepath.Join and path.Join calls, that leave the root
// when resolved against the file's directory.
func checkGo(file, dir string, data []byte) []Problem {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, data, parser.SkipObjectResolution)
	if err != nil {
		// Not valid Go (a template, a broken file): the compiler reports it;
		// fall back to the text rules.
		return checkText(file, data, dir)
	}
	var out []Problem
	report := func(pos token.Pos, ref string) {
		if isRelative(ref) && escapes(dir, ref) {
			out = append(out, Problem{File: file, Line: fset.Position(pos).Line, Ref: ref, Why: "leaves the module root from " + dir})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, ok := stringValue(n); ok {
				report(n.Pos(), s)
			}
		case *ast.CallExpr:
			if isJoin(n.Fun) && walksUpToShared(n.Args) {
				out = append(out, Problem{File: file, Line: fset.Position(n.Pos()).Line, Ref: "Join(<dir>, \"shared\", …)",
					Why: "joins the shared folder's name onto a computed directory (a walk-up out of the module)"})
			}
			if isJoin(n.Fun) {
				var parts []string
				for _, a := range n.Args {
					lit, ok := a.(*ast.BasicLit)
					if !ok {
						break
					}
					s, ok := stringValue(lit)
					if !ok {
						break
					}
					parts = append(parts, s)
				}
				if len(parts) > 1 {
					report(n.Pos(), path.Join(parts...))
				}
			}
		}
		return true
	})
	return out
}

// walksUpToShared reports whether a Join call appends a literal starting
// with the path element "shared" directly to a computed first argument:
// Join(dir, "shared", …), the step of a loop that climbs parent directories.
func walksUpToShared(args []ast.Expr) bool {
	if len(args) < 2 {
		return false
	}
	if _, lit := args[0].(*ast.BasicLit); lit {
		return false
	}
	lit, ok := args[1].(*ast.BasicLit)
	if !ok {
		return false
	}
	s, ok := stringValue(lit)
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(path.Clean(s), "/")
	return first == "shared"
}

func stringValue(lit *ast.BasicLit) (string, bool) {
	if lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// isJoin reports whether fun is filepath.Join or path.Join.
func isJoin(fun ast.Expr) bool {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Join" {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "filepath" || pkg.Name == "path")
}

// isRelative reports whether s is a relative path that goes up: "..",
// "../x" or "./../x" (a string that merely contains ".." elsewhere, such as
// "a/../b" or a hostile input in a test, is not a reference to a file).
func isRelative(s string) bool {
	s = strings.TrimPrefix(s, "./")
	return s == ".." || strings.HasPrefix(s, "../")
}

// escapes reports whether ref, resolved against the directory base (both
// slash-separated and relative to the module root), leaves the root.
func escapes(base, ref string) bool {
	p := path.Join(base, ref)
	return p == ".." || strings.HasPrefix(p, "../")
}

// listFiles lists the module's files: tracked and untracked-but-not-ignored
// files according to git, or every regular file outside .git when git cannot
// answer (an exported tree).
func listFiles(ctx context.Context, root string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	out, err := cmd.Output()
	if err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
		slices.Sort(files)
		return slices.Compact(files), nil
	}
	var files []string
	err = fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}
