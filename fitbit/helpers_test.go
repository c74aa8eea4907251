package fitbit

import (
	"bytes"
	"io"
	"net/http"
)

func fakeResponse(status int, body []byte) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
}
