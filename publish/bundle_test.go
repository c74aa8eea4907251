package publish

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

func TestAppendBundleWritesWhatJSONMarshalWrites(t *testing.T) {
	q := "identifier=urn:ohx:fitbit:observation|a&b"
	chunk := []*item{
		{fullURL: "urn:uuid:0b7f3f5e-2b7e-5d1c-9c1e-000000000001", body: json.RawMessage(`{"resourceType":"Observation","id":"x","status":"final"}`),
			request: r5.BundleRequest{Method: r5.MethodPut, URL: "Observation/x"}},
		{fullURL: "https://fhir.example/Device/d\u00e9", body: json.RawMessage(`{"resourceType":"Device","id":"d"}`),
			request: r5.BundleRequest{Method: r5.MethodPost, URL: "Device", IfNoneExist: &q}},
		{body: json.RawMessage(`{"resourceType":"Provenance","id":"p","note":[{"text":"say \"hi\"\n"}]}`),
			request: r5.BundleRequest{Method: r5.MethodPut, URL: "Provenance/p"}},
		// A UUID id: the fullUrl is written from the key, in lower case.
		{key: "Observation/0B7F3F5E-2B7E-5D1C-9C1E-00000000000A", typ: "Observation", urn: true,
			body:    json.RawMessage(`{"resourceType":"Observation","id":"0B7F3F5E-2B7E-5D1C-9C1E-00000000000A"}`),
			request: r5.BundleRequest{Method: r5.MethodPut, URL: "Observation/0B7F3F5E-2B7E-5D1C-9C1E-00000000000A"}},
	}
	assert.Equal(t, "urn:uuid:0b7f3f5e-2b7e-5d1c-9c1e-00000000000a", chunk[3].entryURL())
	for _, typ := range []r5.BundleType{r5.BundleTransaction, r5.BundleBatch} {
		want := r5.Bundle{Type: typ}
		for _, it := range chunk {
			req := it.request
			want.Entry = append(want.Entry, r5.BundleEntry{FullURL: it.entryURL(), Resource: it.body, Request: &req})
		}
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)
		got := appendBundle(nil, typ, chunk)
		assert.Equal(t, string(wantJSON), string(got))
		assert.LessOrEqual(t, len(got), bundleSize(chunk)+32, "the size estimate covers plain strings")
	}
	assert.Equal(t, `{"resourceType":"Bundle","type":"batch"}`, string(appendBundle(nil, r5.BundleBatch, nil)))
}

func TestRequestBodyGoesBackToThePoolOnlyWhenEveryReaderIsClosed(t *testing.T) {
	rb := pooledRequestBody()
	*rb.buf = append(*rb.buf, "bundle"...)
	r1, r2 := rb.reader(), rb.reader()
	b, err := io.ReadAll(r1)
	require.NoError(t, err)
	assert.Equal(t, "bundle", string(b))
	require.NoError(t, r1.Close())
	require.NoError(t, r1.Close()) // a second close is harmless
	rb.release()                   // the sender is done; r2 is still open
	assert.Equal(t, int32(1), rb.refs.Load())
	b, err = io.ReadAll(r2)
	require.NoError(t, err)
	assert.Equal(t, "bundle", string(b), "an open reader still sees the body")
	require.NoError(t, r2.Close())
	assert.Equal(t, int32(0), rb.refs.Load())
}

func TestBodyReaderWritesWhatIsLeftUpToTheLimit(t *testing.T) {
	rb := pooledRequestBody()
	*rb.buf = append(*rb.buf, "0123456789"...)
	defer rb.release()
	r := rb.reader().(*bodyReader)
	defer func() { _ = r.Close() }()
	head := make([]byte, 3)
	_, err := io.ReadFull(r, head)
	require.NoError(t, err)
	var w bytes.Buffer
	n, err := r.writeTo(&w, 4)
	require.NoError(t, err)
	assert.Equal(t, int64(4), n)
	assert.Equal(t, "3456", w.String(), "after what was read, no more than the limit")
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "789", string(rest), "reading goes on after what was written")
	n, err = r.writeTo(&w, 100)
	require.NoError(t, err)
	assert.Zero(t, n)
}
