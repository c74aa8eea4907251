// Package wire holds the JSON shapes of the Google Health API v4 as the fitbit
// provider reads them and the fitbittest fake writes them. Field names follow
// the discovery document health/v4/health-api.json (revision 20261030).
// Decoding is lenient: int64 values arrive as strings (numbers are accepted
// too), doubles may be the strings "NaN", "Infinity" and "-Infinity", and
// unknown fields are ignored because the schema grows.
package wire

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Int64 is a proto3 int64, which JSON carries as a string ("60"). A bare
// number is accepted too. It marshals as a string.
type Int64 int64

// UnmarshalJSON implements json.Unmarshaler.
func (v *Int64) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if n, ok := parseDigits(unquote(b)); ok {
		*v = Int64(n)
		return nil
	}
	s := string(unquote(b))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Some producers write integral doubles ("60.0").
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return fmt.Errorf("wire: invalid int64 %.40q", s)
		}
		n = int64(f)
	}
	*v = Int64(n)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (v Int64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(v), 10) + `"`), nil
}

// Float64 is a proto3 double: a JSON number, or one of the strings "NaN",
// "Infinity", "-Infinity" (a numeric string is accepted too).
type Float64 float64

// UnmarshalJSON implements json.Unmarshaler.
func (v *Float64) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(unquote(b))
	switch s {
	case "NaN":
		*v = Float64(math.NaN())
		return nil
	case "Infinity":
		*v = Float64(math.Inf(1))
		return nil
	case "-Infinity":
		*v = Float64(math.Inf(-1))
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
		return fmt.Errorf("wire: invalid double %.40q", s)
	}
	*v = Float64(f)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (v Float64) MarshalJSON() ([]byte, error) {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// Valid reports whether v is a finite number.
func (v Float64) Valid() bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Duration is a google.protobuf.Duration in JSON form ("-14400s",
// "0.5s").
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	u := unquote(b)
	if len(u) > 1 && u[len(u)-1] == 's' {
		if n, ok := parseDigits(u[:len(u)-1]); ok && n > -315576000000 && n < 315576000000 {
			*d = Duration(time.Duration(n) * time.Second)
			return nil
		}
	}
	s := string(u)
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + FormatDuration(time.Duration(d)) + `"`), nil
}

// ParseDuration parses the JSON form of a google.protobuf.Duration.
func ParseDuration(s string) (time.Duration, error) {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" {
		return 0, fmt.Errorf("wire: invalid duration %.40q", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 315576000000 {
		return 0, fmt.Errorf("wire: invalid duration %.40q", s)
	}
	return time.Duration(math.Round(f * float64(time.Second))), nil
}

// FormatDuration writes d in the JSON form of a google.protobuf.Duration.
func FormatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// parseDigits parses an optionally negative run of at most 18 decimal
// digits without allocating; ok is false for anything else.
func parseDigits(b []byte) (n int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}
