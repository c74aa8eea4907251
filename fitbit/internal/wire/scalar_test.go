package wire

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInt64(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{`"60"`, 60, false}, {`60`, 60, false}, {`"-7"`, -7, false}, {`"60.0"`, 60, false},
		{`"9223372036854775807"`, math.MaxInt64, false}, {`"6x"`, 0, true}, {`"60.5"`, 0, true}, {`""`, 0, true}, {`true`, 0, true},
	}
	for _, tt := range tests {
		var v Int64
		err := json.Unmarshal([]byte(tt.in), &v)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, Int64(tt.want), v, tt.in)
	}
	b, err := json.Marshal(Int64(42))
	require.NoError(t, err)
	assert.Equal(t, `"42"`, string(b))
}

func TestFloat64(t *testing.T) {
	var v struct{ A, B, C, D, E Float64 }
	require.NoError(t, json.Unmarshal([]byte(`{"A":"NaN","B":"Infinity","C":"-Infinity","D":33.8,"E":"1.5"}`), &v))
	assert.True(t, math.IsNaN(float64(v.A)))
	assert.True(t, math.IsInf(float64(v.B), 1))
	assert.True(t, math.IsInf(float64(v.C), -1))
	assert.Equal(t, Float64(33.8), v.D)
	assert.Equal(t, Float64(1.5), v.E)
	assert.False(t, v.A.Valid())
	assert.True(t, v.D.Valid())
	var bad Float64
	assert.Error(t, json.Unmarshal([]byte(`"nan"`), &bad))
	assert.Error(t, json.Unmarshal([]byte(`"inf"`), &bad))
	b, err := json.Marshal(struct{ A, B Float64 }{Float64(math.NaN()), 2.5})
	require.NoError(t, err)
	assert.JSONEq(t, `{"A":"NaN","B":2.5}`, string(b))
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`"-14400s"`, -4 * time.Hour, false}, {`"0s"`, 0, false}, {`"0.5s"`, 500 * time.Millisecond, false},
		{`"19800s"`, 5*time.Hour + 30*time.Minute, false}, {`"14400"`, 0, true}, {`"s"`, 0, true}, {`"1e400s"`, 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, time.Duration(d), tt.in)
	}
	assert.Equal(t, "-14400s", FormatDuration(-4*time.Hour))
	assert.Equal(t, "0.25s", FormatDuration(250*time.Millisecond))
}

func TestDate(t *testing.T) {
	assert.True(t, Date{2024, 2, 29}.Valid())
	assert.False(t, Date{2026, 2, 29}.Valid())
	assert.False(t, Date{}.Valid())
	assert.Equal(t, "2026-01-06", Date{2026, 1, 6}.String())
}

func FuzzScalars(f *testing.F) {
	for _, s := range []string{`"60"`, `"NaN"`, `"-14400s"`, `33.8`, `"1e5"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var i Int64
		if i.UnmarshalJSON(b) == nil {
			out, _ := i.MarshalJSON()
			var back Int64
			require.NoError(t, back.UnmarshalJSON(out))
			require.Equal(t, i, back)
		}
		var fl Float64
		_ = fl.UnmarshalJSON(b)
		var d Duration
		if d.UnmarshalJSON(b) == nil {
			out, _ := d.MarshalJSON()
			var back Duration
			require.NoError(t, back.UnmarshalJSON(out))
			require.InDelta(t, float64(d), float64(back), 1e3)
		}
	})
}
