package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// ErrRepeatedList is returned by DecodeList for a response that names its
// data points twice (dataPoints, or a key encoding/json folds to it, after a
// non-empty list). encoding/json would merge the second list into the first
// after the first was handed out; no Google response does that, so the page
// is refused as malformed rather than decoded differently.
var ErrRepeatedList = errors.New("wire: dataPoints given twice")

// ErrEmpty is returned by DecodeList for a body without a byte
// (json.Unmarshal refuses it as the end of input; the API client reads it as
// an answer without content).
var ErrEmpty = errors.New("wire: empty response")

// readChunk is how much of a response DecodeList reads at a time.
const readChunk = 32 << 10

// DecodeList reads a ListResponse (or ReconcileDataPointsResponse) from r
// one data point at a time and calls fn with each, in the order of the
// response; it returns the page's nextPageToken. The *DataPoint and what it
// points to are valid during the call only: fn copies what it keeps.
//
// The result is the one json.Unmarshal into a ListResponse gives for the same
// bytes: points in the shape Google sends (the dense types and their data
// source, written without escapes) take a scan without reflection; any other
// point (unknown or case-folded fields, escapes, NaN strings, sparse types)
// is decoded by encoding/json from its own bytes, so nothing is lost. Only
// the point in hand is held, not the page. Malformed JSON anywhere is an
// error matching jsonscan.ErrSyntax (or encoding/json's error for a point);
// a failure to read r is returned as r's error. fn's error stops the
// decoding and is returned as it is.
func DecodeList(r io.Reader, fn func(*DataPoint) error) (next string, err error) {
	var d pointDecoder
	return d.decodeList(r, fn)
}

func (d *pointDecoder) decodeList(r io.Reader, fn func(*DataPoint) error) (next string, err error) {
	rd := jsonscan.NewReader(r, readChunk)
	c, ok := rd.Peek()
	switch {
	case !ok:
		if err := rd.ReadErr(); err != nil {
			return "", err
		}
		if rd.Offset() > 0 {
			return "", &jsonscan.SyntaxError{Offset: rd.Offset(), Msg: "no JSON value"}
		}
		return "", ErrEmpty
	case c == 'n':
		// null decodes to an empty response.
		v, err := rd.Value()
		if err != nil {
			return "", err
		}
		if string(v) != "null" || !rd.AtEnd() {
			return "", trailing(rd, "not a JSON object")
		}
		return "", nil
	case c != '{':
		return "", trailing(rd, "not a JSON object")
	}
	rd.Consume('{')
	listed := false // a point was handed out
	if !rd.Consume('}') {
		for {
			raw, err := rd.Value()
			if err != nil {
				return "", err
			}
			key, err := memberName(raw)
			if err != nil {
				return "", err
			}
			if err := rd.Expect(':', "':' after a member name"); err != nil {
				return "", err
			}
			switch {
			case fold(key, "dataPoints"):
				if listed {
					return "", ErrRepeatedList
				}
				n, err := d.list(rd, fn)
				if err != nil {
					return "", err
				}
				listed = n > 0
			case fold(key, "nextPageToken"):
				v, err := rd.Value()
				if err != nil {
					return "", err
				}
				if string(v) != "null" {
					var s jsonscan.Scanner
					s.Reset(v)
					if t, ok := s.String(); ok && s.End() {
						next = string(t)
					} else if err := json.Unmarshal(v, &next); err != nil {
						return "", err
					}
				}
			default:
				// A field this package does not read: encoding/json would
				// skip it once it is valid.
				v, err := rd.Value()
				if err != nil {
					return "", err
				}
				if !json.Valid(v) {
					return "", &jsonscan.SyntaxError{Offset: rd.Offset(), Msg: "invalid member value"}
				}
			}
			if rd.Consume(',') {
				continue
			}
			if err := rd.Expect('}', "',' or '}' in the response object"); err != nil {
				return "", err
			}
			break
		}
	}
	if !rd.AtEnd() {
		return "", trailing(rd, "data after the response object")
	}
	return next, nil
}

// trailing returns the read error that cut the stream, or a syntax error.
func trailing(rd *jsonscan.Reader, msg string) error {
	if err := rd.ReadErr(); err != nil {
		return err
	}
	return &jsonscan.SyntaxError{Offset: rd.Offset(), Msg: msg}
}

// memberName decodes an object key as encoding/json does.
func memberName(raw []byte) (string, error) {
	var s jsonscan.Scanner
	s.Reset(raw)
	if k, ok := s.String(); ok && s.End() {
		return string(k), nil
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", &jsonscan.SyntaxError{Msg: "want a member name"}
	}
	var k string
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", err
	}
	return k, nil
}

// fold reports whether encoding/json matches key to the field named name:
// exactly or under Unicode case folding.
func fold(key, name string) bool {
	return key == name || bytes.EqualFold([]byte(key), []byte(name))
}

// list streams the array of data points; n counts the points handed out.
func (d *pointDecoder) list(rd *jsonscan.Reader, fn func(*DataPoint) error) (n int, err error) {
	c, ok := rd.Peek()
	if ok && c == 'n' {
		v, err := rd.Value()
		if err != nil {
			return 0, err
		}
		if string(v) != "null" {
			return 0, &jsonscan.SyntaxError{Offset: rd.Offset(), Msg: "invalid literal"}
		}
		return 0, nil
	}
	if !ok || c != '[' {
		// Not an array: encoding/json refuses it too (a type error at
		// best); say so without reading on.
		if _, err := rd.Value(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("wire: dataPoints is not an array")
	}
	rd.Consume('[')
	if rd.Consume(']') {
		return 0, nil
	}
	for {
		raw, err := rd.Value()
		if err != nil {
			return n, err
		}
		p, err := d.decode(raw)
		if err != nil {
			return n, err
		}
		if err := fn(p); err != nil {
			return n, err
		}
		n++
		if rd.Consume(',') {
			continue
		}
		return n, rd.Expect(']', "',' or ']' in dataPoints")
	}
}
