package fhirmap

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
)

func TestDeterministicID(t *testing.T) {
	a := DeterministicID("withings", "u1", "heart_rate", "rec1")
	assert.Equal(t, a, DeterministicID("withings", "u1", "heart_rate", "rec1"))
	assert.NotEqual(t, a, DeterministicID("withings", "u1", "heart_rate", "rec2"))
	assert.NotEqual(t, DeterministicID("ab", "c"), DeterministicID("a", "bc"))
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a)
	assert.Equal(t, "urn:uuid:"+a, FullURL(a))
}

func TestDeterministicIDIsUUIDv5(t *testing.T) {
	for _, parts := range [][]string{{"a"}, {"sample", "withings", "u1", "heart-rate", "record", "rec/1"}, {"x", ""}} {
		want := uuid.NewSHA1(idNamespace, []byte(strings.Join(parts, "\x1f"))).String()
		assert.Equal(t, want, DeterministicID(parts...))
	}
	long := strings.Repeat("x", 1000)
	assert.Equal(t, uuid.NewSHA1(idNamespace, []byte("a\x1f"+long)).String(), DeterministicID("a", long))
}
