package publish

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"

	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// appendBundle appends a transaction or batch Bundle of the chunk to b. It
// writes the bytes json.Marshal writes for an r5.Bundle of the same entries
// (for compact resource bodies without '<', '>' or '&'), without going
// through reflection and without copying each body twice: the bodies are
// valid JSON already (prepare checked them, or json.Marshal produced them).
func appendBundle(b []byte, typ r5.BundleType, chunk []*item) []byte {
	b = append(b, `{"resourceType":"Bundle","type":`...)
	b = appendJSONString(b, string(typ))
	if len(chunk) > 0 {
		b = append(b, `,"entry":[`...)
		for i, it := range chunk {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			switch {
			case it.urn:
				b = append(b, `"fullUrl":"urn:uuid:`...)
				b = appendLowerASCII(b, it.id()) // a UUID: hex digits and '-'
				b = append(b, `",`...)
			case it.fullURL != "":
				b = append(b, `"fullUrl":`...)
				b = appendJSONString(b, it.fullURL)
				b = append(b, ',')
			}
			b = append(b, `"resource":`...)
			b = append(b, it.body...)
			b = append(b, `,"request":{"method":`...)
			b = appendJSONString(b, string(it.request.Method))
			b = append(b, `,"url":`...)
			b = appendJSONString(b, it.request.URL)
			if it.request.IfNoneExist != nil {
				b = append(b, `,"ifNoneExist":`...)
				b = appendJSONString(b, *it.request.IfNoneExist)
			}
			b = append(b, `}}`...)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// bundleSize is an upper bound of the length of the chunk's Bundle with
// plain ASCII strings, so the buffer is grown once.
func bundleSize(chunk []*item) int {
	n := 64
	for _, it := range chunk {
		n += 64 + len(it.fullURL) + len(it.body) + len(it.request.URL)
		if it.urn {
			n += len("urn:uuid:") + len(it.key)
		}
		if it.request.IfNoneExist != nil {
			n += 16 + len(*it.request.IfNoneExist)
		}
	}
	return n
}

// appendLowerASCII appends s with its ASCII letters in lower case.
func appendLowerASCII(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// appendJSONString appends s as a JSON string as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// maxPooledBody is the largest request buffer kept for reuse.
const maxPooledBody = 8 << 20

var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// requestBody is the body of one request, sent by one or more attempts. A
// pooled buffer goes back to the pool only when the sender is done with it
// and the transport closed every reader it was given: the transport may
// still read a body after the response arrived.
type requestBody struct {
	buf    *[]byte
	pooled bool
	refs   atomic.Int32 // the sender's reference plus one per open reader
}

// pooledRequestBody returns an empty body with a buffer from the pool; the
// caller fills *rb.buf and calls release when done.
func pooledRequestBody() *requestBody {
	rb := &requestBody{buf: bodyPool.Get().(*[]byte), pooled: true}
	*rb.buf = (*rb.buf)[:0]
	rb.refs.Store(1)
	return rb
}

func (rb *requestBody) bytes() []byte { return *rb.buf }

// reader returns a reader of the body that holds a reference until closed.
func (rb *requestBody) reader() io.ReadCloser {
	rb.refs.Add(1)
	return &bodyReader{Reader: bytes.NewReader(*rb.buf), owner: rb}
}

// release drops one reference; the last one returns a pooled buffer.
func (rb *requestBody) release() {
	if rb.refs.Add(-1) == 0 && rb.pooled && cap(*rb.buf) <= maxPooledBody {
		bodyPool.Put(rb.buf)
	}
}

type bodyReader struct {
	*bytes.Reader
	owner *requestBody
	once  sync.Once
}

// writeTo writes at most limit bytes of what is left of the body to w
// straight from the buffer, in one Write, and reads past what was written.
func (r *bodyReader) writeTo(w io.Writer, limit int64) (int64, error) {
	rest := (*r.owner.buf)[r.Size()-int64(r.Len()):]
	if int64(len(rest)) > limit {
		rest = rest[:limit]
	}
	n, err := w.Write(rest)
	_, _ = r.Seek(int64(n), io.SeekCurrent) // within the body: cannot fail
	return int64(n), err
}

func (r *bodyReader) Close() error {
	r.once.Do(r.owner.release)
	return nil
}
