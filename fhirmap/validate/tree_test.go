package validate

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseString compares the parser's strings with encoding/json's: a
// document that starts with a string parses exactly when encoding/json finds
// it valid and it is valid UTF-8, and then to the same value. Documents with
// \u escapes are left out: the parser refuses lone surrogates, which
// encoding/json replaces.
func FuzzParseString(f *testing.F) {
	for _, s := range []string{
		`"final"`, `"http://loinc.org"`, `"é😀 plain"`, `"a\"b\\c\/d\n"`, `"tab	in"`,
		"\"\xff\"", "\"\xe2\x82\"", `"unterminated`, `"x\`, `""`, "\"ctl\x01\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if !strings.HasPrefix(doc, `"`) || strings.Contains(doc, `\u`) {
			return
		}
		var tr tree
		err := tr.parse([]byte(doc))
		var want string
		ok := json.Valid([]byte(doc)) && utf8.ValidString(doc) && json.Unmarshal([]byte(doc), &want) == nil
		if ok != (err == nil) {
			t.Fatalf("parse(%q): err %v, encoding/json valid %v", doc, err, ok)
		}
		if ok && (tr.nodes[0].kind != kindString || tr.nodes[0].val != want) {
			t.Fatalf("parse(%q) = %q, encoding/json %q", doc, tr.nodes[0].val, want)
		}
	})
}
