package fitbit_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/provider"
)

// breakThird cuts the body of the third data-point answer after 100 kB, as
// a connection reset mid-page would.
type breakThird struct {
	rt http.RoundTripper
	n  atomic.Int32
}

func (b *breakThird) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(r)
	if err == nil && strings.Contains(r.URL.Path, "/dataPoints") && b.n.Add(1) == 3 {
		resp.Body = &cutBody{rc: resp.Body, left: 100 << 10}
	}
	return resp, err
}

type cutBody struct {
	rc   io.ReadCloser
	left int
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= n
	return n, err
}

func (c *cutBody) Close() error { return c.rc.Close() }

// TestPageBrokenMidwayIsReadAgain: a page cut off mid-body is read again
// and its points are neither lost nor doubled.
func TestPageBrokenMidwayIsReadAgain(t *testing.T) {
	rt := &breakThird{rt: provider.NewHTTPClient().Transport}
	e := newEnv(t, fitbittest.Config{HeartRateEvery: time.Second}, func(c *fitbit.Config) {
		c.HTTPClient = &http.Client{Transport: rt}
	})
	got := collect(t, e.p, e.link, []ohx.DataType{ohx.HeartRate}, day)
	require.Len(t, got, 86400)
	for i, s := range got {
		require.Equal(t, day.Start.Add(time.Duration(i)*time.Second), s.Start, "sample %d", i)
	}
	assert.GreaterOrEqual(t, rt.n.Load(), int32(10), "the broken page was asked for again")
	assert.Equal(t, 10, e.fake.Calls("list:heart-rate"), "nine pages and one retry")
}
