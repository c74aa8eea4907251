package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/openhealthexchange/ohx"
)

// Stream sends req like Do, but a successful (2xx) answer is not read whole:
// consume reads its body as it arrives, so a large page is decoded without
// being held. The classifier sees a 2xx answer without its body (Body nil);
// other answers are read whole and classified as by Do.
//
// consume runs inside the attempt, under the attempt's timeout, and may be
// called again when a transient failure (such as the connection breaking
// off mid-body) makes the client send the request once more: it must start
// over each time. A failure to read the body is classified like one of Do
// (transient, or permanent "body-too-large" past Config.MaxBodyBytes) and is
// what consume sees from the reader; an error consume returns otherwise (a
// malformed page) ends the call with that error, not retried and not counted
// by the breaker, as when a caller decodes the body Do returned.
func (c *Client) Stream(ctx context.Context, op Op, req *http.Request, consume func(status int, body io.Reader) error) error {
	if consume == nil {
		return fmt.Errorf("provider: %s %s: no consumer", c.cfg.Provider, op.Name)
	}
	var cerr error
	op.consume = func(status int, body io.Reader) error {
		cerr = consume(status, body)
		return cerr
	}
	if _, err := c.Do(ctx, op, req); err != nil {
		return err
	}
	return cerr
}

// errBodyTooLarge is the read error of a streamed body past MaxBodyBytes.
var errBodyTooLarge = errors.New("provider: response body too large")

// limitedBody reads a streamed body up to max bytes and records the first
// read failure.
type limitedBody struct {
	r    io.Reader
	left int64
	err  error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		n += int(b.left) // the bytes past the bound are not handed out
		b.err = errBodyTooLarge
		return n, b.err
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

// stream hands a 2xx answer's body to op.consume (see Stream).
func (c *Client) stream(ctx context.Context, op Op, req *http.Request, hr *http.Response) (*Response, error) {
	resp := &Response{StatusCode: hr.StatusCode, Header: hr.Header}
	if err := c.cfg.Classify(op.Name, resp); err != nil {
		return nil, c.complete(op, resp, err)
	}
	body := &limitedBody{r: hr.Body, left: c.cfg.MaxBodyBytes}
	_ = op.consume(hr.StatusCode, body)
	switch {
	case body.err == nil || errors.Is(body.err, io.EOF):
		return resp, nil // a consumer error is Stream's to return
	case ctx.Err() != nil:
		return nil, ctxErr(ctx)
	case errors.Is(body.err, errBodyTooLarge):
		return nil, c.fail(op, ohx.KindPermanent, hr.StatusCode, "body-too-large", nil)
	}
	return nil, c.fail(op, ohx.KindTransient, hr.StatusCode, "", fmt.Errorf("reading body: %w", transportError(req, body.err)))
}
