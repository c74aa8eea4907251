package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var seeds = []string{
	`{"a":[1,-2.5e3,"x\u00e9\n",true,false,null,{}],"b":{"c":[]}}`,
	`[{"k":"]}\""},[[["deep"]]]]`, `"plain"`, `0`, `-0.1`, `1e`, `01`, `"a\q"`, `{"a" 1}`, `[1,]`, `tru`,
	`{"a":"b"} x`, "\"caf\xe9\"", `"\ud800"`,
}

// FuzzSkip: whatever Scanner.Skip accepts whole is valid JSON, and it
// accepts every valid JSON value.
func FuzzSkip(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scanner
		s.Reset(b)
		got := s.Skip() && s.End()
		if got != json.Valid(b) {
			t.Fatalf("Skip accepts %v, json.Valid says %v", got, json.Valid(b))
		}
	})
}

// FuzzReaderValues: the values Reader cuts from a valid array, one byte at
// a time, are the array's elements.
func FuzzReaderValues(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want []json.RawMessage
		if json.Unmarshal(b, &want) != nil {
			return
		}
		r := NewReader(iotest.OneByteReader(bytes.NewReader(b)), 0)
		require.True(t, r.Consume('['))
		var got []json.RawMessage
		if !r.Consume(']') {
			for {
				v, err := r.Value()
				require.NoError(t, err)
				got = append(got, append(json.RawMessage(nil), v...))
				if r.Consume(',') {
					continue
				}
				require.True(t, r.Consume(']'))
				break
			}
		}
		require.True(t, r.AtEnd())
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, string(bytes.TrimSpace(want[i])), string(got[i]))
		}
	})
}

func TestScannerPlainStrings(t *testing.T) {
	for in, ok := range map[string]bool{`"abc"`: true, `"caf` + "\xc3\xa9" + `"`: true, `"a\"b"`: false, "\"a\x01\"": false, "\"caf\xe9\"": false, `"abc`: false} {
		var s Scanner
		s.Reset([]byte(in))
		_, got := s.String()
		assert.Equal(t, ok, got, in)
	}
}
