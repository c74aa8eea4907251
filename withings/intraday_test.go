package withings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

// intradayReference is intradayBody's decoder before the hand scan: the
// series decoded by encoding/json into the map.
func intradayReference(data []byte) (map[string]intradayPoint, error) {
	var raw struct {
		Series json.RawMessage `json:"series"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	s := bytes.TrimSpace(raw.Series)
	if len(s) == 0 || bytes.Equal(s, null) || s[0] == '[' {
		var b intradayBody
		return nil, b.UnmarshalJSON(data) // the empty forms did not change
	}
	var m map[string]intradayPoint
	err := json.Unmarshal(s, &m)
	return m, err
}

// sameIntraday checks intradayBody against the reference on data.
func sameIntraday(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := intradayReference(data)
	var b intradayBody
	err := b.UnmarshalJSON(data)
	if wantErr != nil || err != nil {
		require.Errorf(t, wantErr, "reference decoded what the scan refused (%v)", err)
		require.Errorf(t, err, "the scan decoded what the reference refused (%v)", wantErr)
		return
	}
	if len(want) == 0 && len(b.Series) == 0 {
		return // nil and empty maps map to no samples alike
	}
	require.True(t, reflect.DeepEqual(want, b.Series), "scan %v\nreference %v", b.Series, want)
}

// intradayFixtures returns every Withings fixture, and the intraday series
// fixture as the body of a response.
func intradayFixtures(tb testing.TB) [][]byte {
	tb.Helper()
	entries, err := os.ReadDir(fixtureDir(tb))
	require.NoError(tb, err)
	var out [][]byte
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(fixtureDir(tb), e.Name()))
		require.NoError(tb, err)
		out = append(out, b, []byte(`{"series":`+string(b)+`}`))
	}
	require.NotEmpty(tb, out)
	return out
}

func TestIntradayScanMatchesReference(t *testing.T) {
	for _, b := range intradayFixtures(t) {
		sameIntraday(t, b)
	}
	for _, c := range []string{
		`{"series":{}}`, `{"series":[]}`, `{"series":null}`, `{}`,
		`{"series":{"1":{"heart_rate":"60","steps":null,"duration":"4","deviceid":123,"model":null,"model_id":"93"}}}`,
		`{"series":{"1":{"Heart_Rate":60}}}`,                 // folded name: encoding/json
		`{"series":{"1":{"heart_rate":60,"heart_rate":61}}}`, // repeat: the last wins
		`{"series":{"1":{"heart_rate":60},"1":{"steps":3}}}`, // repeated key: the last wins
		`{"series":{"\u0031":{"heart_rate":60}}}`,            // escaped key
		`{"series":{"1":{"x":{"a":[1,"\u00e9",null,true]},"heart_rate":60}}}`,
		`{"series":{"1":{"heart_rate":true}}}`, `{"series":{"1":{"heart_rate":"x"}}}`,
		`{"series":{"1":{"x":"\q"}}}`, `{"series":{"1":{"x":01}}}`, `{"series":{"1":[]}}`, `{"series":{"1":{} }`,
		`{"series":{"1":{"duration":1.5}}}`, `{"series":{"1":{"model":"a\"b"}}}`,
	} {
		sameIntraday(t, []byte(c))
	}
}

// intradayDay is a day of 1-second heart rate in the shape of the fixture.
func intradayDay() []byte {
	var b strings.Builder
	b.WriteString(`{"series":{`)
	start := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC).Unix()
	for i := range 86400 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%d":{"heart_rate":%d,"duration":1,"model":"ScanWatch","model_id":93,"deviceid":"dev-1"}`, start+int64(i), 55+i%40)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

func TestIntradayScanTakesTheFastPath(t *testing.T) {
	day := intradayDay()
	sameIntraday(t, day)
	_, ok := scanIntraday(nil, bytes.TrimSuffix(bytes.TrimPrefix(day, []byte(`{"series":`)), []byte(`}`)))
	assert.True(t, ok)
}

// FuzzIntradayScan: the hand scan decodes what encoding/json decodes, to
// the same points.
func FuzzIntradayScan(f *testing.F) {
	for _, b := range intradayFixtures(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"series":{"1":{"heart_rate":"60","steps":null,"duration":"4","deviceid":123,"model":null,"model_id":"93"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) { sameIntraday(t, b) })
}

// BenchmarkIntradayDay decodes and maps a day of 1-second intraday heart
// rate (86,400 points): "reflect" is encoding/json into the map, "scan" the
// hand scan.
func BenchmarkIntradayDay(b *testing.B) {
	day := intradayDay()
	resp := []byte(`{"status":0,"body":` + string(day) + `}`)
	want := typeSet{ohx.HeartRate: true}
	for _, dec := range []struct {
		name   string
		decode func([]byte) (map[string]intradayPoint, error)
	}{
		{"reflect", func(resp []byte) (map[string]intradayPoint, error) {
			var env struct {
				Body json.RawMessage `json:"body"`
			}
			if err := json.Unmarshal(resp, &env); err != nil {
				return nil, err
			}
			return intradayReference(env.Body)
		}},
		{"scan", func(resp []byte) (map[string]intradayPoint, error) {
			var body intradayBody
			err := decodeResponse(resp, &body)
			return body.Series, err
		}},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(resp)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0 := cpuTime()
			for b.Loop() {
				series, err := dec.decode(resp)
				if err != nil {
					b.Fatal(err)
				}
				if n := len(intradaySamples(nil, series, want, time.UTC)); n != 86400 {
					b.Fatalf("%d samples", n)
				}
			}
			cpu := (cpuTime() - cpu0).Seconds()
			runtime.ReadMemStats(&after)
			n := float64(b.N) * 86400
			b.ReportMetric(cpu*1e9/n, "cpu-ns/point")
			b.ReportMetric(float64(len(resp))*float64(b.N)/1e6/cpu, "MB/cpu-s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/point")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/point")
		})
	}
}

// cpuTime returns the CPU time the process used so far (GC included), which
// a loaded machine disturbs far less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
