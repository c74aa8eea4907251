package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

const fixtureDir = "../../testdata/fixtures"

// fixtures returns every JSON fixture of the fitbit package by name.
func fixtures(tb testing.TB) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(fixtureDir)
	require.NoError(tb, err)
	out := map[string][]byte{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			b, err := os.ReadFile(filepath.Join(fixtureDir, e.Name()))
			require.NoError(tb, err)
			out[e.Name()] = b
		}
	}
	require.NotEmpty(tb, out)
	return out
}

// decoded is what a decoder made of a page: each point in its JSON form
// (which spells NaN and keeps nil apart from zero), the page token and
// whether it failed.
type decoded struct {
	points []string
	next   string
	err    error
}

func pointJSON(p *DataPoint) string {
	b, err := json.Marshal(p)
	if err != nil {
		return "marshal error: " + err.Error()
	}
	return string(b)
}

// reference decodes b as the provider did before streaming.
func reference(b []byte) decoded {
	var r ListResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return decoded{err: err}
	}
	d := decoded{next: r.NextPageToken}
	for i := range r.DataPoints {
		d.points = append(d.points, pointJSON(&r.DataPoints[i]))
	}
	return d
}

// streamed decodes b with DecodeList from r(b); slow counts the points
// that took encoding/json.
func streamed(b []byte, r func([]byte) io.Reader) (d decoded, slow int) {
	dec := pointDecoder{}
	next, err := dec.decodeList(r(b), func(p *DataPoint) error {
		d.points = append(d.points, pointJSON(p))
		return nil
	})
	d.next, d.err = next, err
	return d, dec.slow
}

func whole(b []byte) io.Reader { return bytes.NewReader(b) }

// sameAsReference checks DecodeList against json.Unmarshal on b: the same
// points and token, or both fail. The one allowed difference is
// ErrRepeatedList, for a response that lists its points twice.
func sameAsReference(t *testing.T, b []byte) {
	t.Helper()
	want := reference(b)
	for name, r := range map[string]func([]byte) io.Reader{
		"whole": whole,
		"byte by byte": func(b []byte) io.Reader {
			return iotest.OneByteReader(bytes.NewReader(b))
		},
		"with EOF": func(b []byte) io.Reader {
			return iotest.DataErrReader(bytes.NewReader(b))
		},
	} {
		got, _ := streamed(b, r)
		if len(b) == 0 {
			require.ErrorIs(t, got.err, ErrEmpty, name)
			require.Error(t, want.err)
			continue
		}
		if errors.Is(got.err, ErrRepeatedList) && want.err == nil {
			continue
		}
		if want.err != nil || got.err != nil {
			require.Errorf(t, want.err, "%s: reference decoded what DecodeList refused (%v)", name, got.err)
			require.Errorf(t, got.err, "%s: DecodeList decoded what the reference refused (%v)", name, want.err)
			continue
		}
		require.Equal(t, want.next, got.next, name)
		require.Equal(t, want.points, got.points, name)
	}
}

func TestDecodeListFixtures(t *testing.T) {
	for name, b := range fixtures(t) {
		t.Run(name, func(t *testing.T) { sameAsReference(t, b) })
	}
}

func TestDecodeListFastPath(t *testing.T) {
	fx := fixtures(t)
	for _, name := range []string{"list_heart_rate.json", "list_steps.json"} {
		d, slow := streamed(fx[name], whole)
		require.NoError(t, d.err)
		assert.NotEmpty(t, d.points, name)
		assert.Zero(t, slow, "%s: points left the fast path", name)
	}
	// The dense types as the fake (and Google) write them.
	page := densePage(50)
	d, slow := streamed(page, whole)
	require.NoError(t, d.err)
	assert.Len(t, d.points, 200)
	assert.Zero(t, slow)
	assert.Equal(t, "tok", d.next)
	sameAsReference(t, page)
}

// densePage returns a page of n points of each dense type.
func densePage(n int) []byte {
	t0 := time.Date(2026, 11, 19, 23, 0, 0, 0, time.UTC)
	off := Duration(time.Hour)
	src := &DataSource{Platform: "FITBIT", RecordingMethod: "PASSIVELY_MEASURED", Device: &Device{DisplayName: "Charge 6", Manufacturer: "Fitbit", FormFactor: "FITNESS_BAND"}}
	st := func(t time.Time) SampleTime {
		return SampleTime{PhysicalTime: t, UTCOffset: &off, CivilTime: Civil(t.In(time.FixedZone("", 3600)))}
	}
	f := func(v float64) *Float64 { x := Float64(v); return &x }
	var r ListResponse
	for i := range n {
		t := t0.Add(-time.Duration(i) * time.Second)
		r.DataPoints = append(r.DataPoints,
			DataPoint{DataSource: src, HeartRate: &HeartRate{BeatsPerMinute: Int64(60 + i%7), SampleTime: st(t), Metadata: &HeartRateMetadata{MotionContext: "SEDENTARY"}}},
			DataPoint{DataSource: src, Steps: &Steps{Count: Int64(i), Interval: Interval{StartTime: t, StartUTCOffset: &off, EndTime: t.Add(time.Minute), EndUTCOffset: &off,
				CivilStartTime: Civil(t), CivilEndTime: Civil(t.Add(time.Minute))}}},
			DataPoint{Name: fmt.Sprintf("users/me/dataTypes/heart-rate-variability/dataPoints/%d", i), DataSource: src,
				HeartRateVariability: &HeartRateVariability{RMSSD: f(30.5), SDNN: f(41), SampleTime: st(t)}},
			DataPoint{DataPointName: "x", OxygenSaturation: &OxygenSaturation{Percentage: 97.25, SampleTime: st(t)}},
		)
	}
	r.NextPageToken = "tok"
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

// TestDecodeListEdges covers what the fast path leaves to encoding/json and
// what both refuse.
func TestDecodeListEdges(t *testing.T) {
	hr := `{"heartRate":{"beatsPerMinute":"60","sampleTime":{"physicalTime":"2026-01-01T00:00:00Z","utcOffset":"3600s"}}}`
	cases := []string{
		`{"dataPoints":[` + hr + `],"nextPageToken":"a"}`,
		`null`, `{}`, `{"dataPoints":null}`, `{"dataPoints":[]}`, `{"dataPoints":[null]}`, ` {"dataPoints":[]} `,
		`{"dataPoints":[` + hr + `],"other":{"x":[1,2,{"y":"]"}]},"nextPageToken":null}`,
		`{"DATAPOINTS":[` + hr + `],"NextPageToken":"b"}`,                                      // encoding/json folds case
		`{"dataPoints":[{"HeartRate":{"beatsPerMinute":60}}]}`,                                 // a folded field: slow path
		`{"dataPoints":[{"heartRate":{"beatsPerMinute":"6\u0030"}}]}`,                          // an escape: slow path, refused
		`{"dataPoints":[{"heartRate":{"beatsPerMinute":"60","beatsPerMinute":"61"}}]}`,         // a repeat: slow path, last wins
		`{"dataPoints":[{"oxygenSaturation":{"percentage":"NaN"}}]}`,                           // a NaN string: slow path
		`{"dataPoints":[{"oxygenSaturation":{"percentage":1e999}}]}`,                           // out of range: refused
		`{"dataPoints":[{"heartRate":{"beatsPerMinute":60.5}}]}`,                               // not an integer: refused
		`{"dataPoints":[{"heartRate":{"sampleTime":{"civilTime":{"date":{"year":2026.0}}}}}]}`, // refused
		`{"dataPoints":[{"steps":{"count":"1","unknown":true}}]}`,                              // an unknown field: slow path
		`{"dataPoints":[{"weight":{"weightGrams":70000,"sampleTime":{"physicalTime":"2026-01-01T00:00:00Z"}}}]}`,
		`{"dataPoints":[{"name":"caf\u00e9"}],"nextPageToken":"t\u00e9"}`,
		"{\"dataPoints\":[{\"name\":\"caf\xe9\"}]}", // invalid UTF-8: replaced by encoding/json
		`{"dataPoints":[{}] `, `{"dataPoints":[{}]}}`, `{"dataPoints":[{},]}`, `{"dataPoints":[{} {}]}`, `{"dataPoints":[01]}`,
		`{"dataPoints":{}}`, `{"dataPoints":"x"}`, `[]`, `5`, `"x"`, `nul`, `null x`, `{"a" 1}`, `{"a":1,}`, `{"a":tru}`,
		`{"dataPoints":[` + hr + `],"dataPoints":[]}`, // listed twice: refused
		`{"dataPoints":[],"dataPoints":[` + hr + `]}`,
		`{"dataPoints":null,"dataPoints":[` + hr + `]}`,
		`{"nextPageToken":"a","nextPageToken":null}`,
		`{"nextPageToken":5}`,
		"", " ",
	}
	for _, c := range cases {
		t.Run(c, func(t *testing.T) { sameAsReference(t, []byte(c)) })
	}
	_, err := DecodeList(strings.NewReader(`{"dataPoints":[`+hr+`],"dataPoints":[]}`), func(*DataPoint) error { return nil })
	require.ErrorIs(t, err, ErrRepeatedList)
	_, err = DecodeList(strings.NewReader(`{"dataPoints":[{} {}]}`), func(*DataPoint) error { return nil })
	require.ErrorIs(t, err, jsonscan.ErrSyntax)
	require.NotContains(t, err.Error(), "{}", "the error quotes no part of the page")
}

func TestDecodeListNaN(t *testing.T) {
	var got []float64
	_, err := DecodeList(strings.NewReader(`{"dataPoints":[{"oxygenSaturation":{"percentage":"NaN"}},{"oxygenSaturation":{"percentage":97}}]}`),
		func(p *DataPoint) error {
			got = append(got, float64(p.OxygenSaturation.Percentage))
			return nil
		})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.True(t, math.IsNaN(got[0]))
	assert.Equal(t, 97.0, got[1])
}

// TestDecodeListReadError: a stream that breaks off returns the reader's
// error, not a syntax error, so the client can retry the request.
func TestDecodeListReadError(t *testing.T) {
	page := densePage(20)
	broken := errors.New("connection reset")
	for _, at := range []int{0, 1, len(page) / 2, len(page) - 1} {
		r := io.MultiReader(bytes.NewReader(page[:at]), iotest.ErrReader(broken))
		_, err := DecodeList(r, func(*DataPoint) error { return nil })
		require.ErrorIs(t, err, broken, "cut at %d", at)
		require.NotErrorIs(t, err, jsonscan.ErrSyntax)
	}
}

func TestDecodeListCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := DecodeList(bytes.NewReader(densePage(5)), func(*DataPoint) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 3, n)
}

// FuzzDecodeList: DecodeList gives the samples' source, point by point,
// that json.Unmarshal gives for the same bytes, read whole or byte by byte.
func FuzzDecodeList(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	f.Add(densePage(3))
	f.Add([]byte(`{"dataPoints":[{"heartRate":{"beatsPerMinute":"60","sampleTime":{"physicalTime":"2026-01-01T00:00:00Z","utcOffset":"3600s","civilTime":{"date":{"year":2026,"month":1,"day":1},"time":{"hours":1}}}}}],"nextPageToken":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) { sameAsReference(t, b) })
}
