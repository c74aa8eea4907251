package fhirmap

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSlabBuffersAreApart: buffers cut from one chunk never share bytes, an
// append to one copies it, and a buffer that outgrows its estimate is its
// own allocation without disturbing the chunk.
func TestSlabBuffersAreApart(t *testing.T) {
	sl := &slab{left: 3}
	a := sl.Keep(append(sl.Buffer(8), "aaaa"...))
	b := sl.Keep(append(sl.Buffer(8), "bbbbbbbb"...))
	require.Equal(t, "aaaa", string(a))
	assert.Equal(t, len(a), cap(a), "capacity cut at the length")
	assert.Equal(t, &sl.buf[0], &a[0], "a is the start of the chunk")
	assert.Equal(t, &sl.buf[4], &b[0], "b follows a without a gap")

	grown := sl.Keep(append(sl.Buffer(4), "cccccccccccccccccccc"...)) // past its estimate
	assert.Len(t, sl.buf, 12, "a reallocated buffer takes nothing of the chunk")
	d := sl.Keep(append(sl.Buffer(4), "dd"...))

	a2 := append(a, "XXXX"...) // must copy, not overwrite b
	a2[0] = 'Z'
	assert.Equal(t, "aaaa", string(a))
	assert.Equal(t, "bbbbbbbb", string(b))
	assert.Equal(t, "cccccccccccccccccccc", string(grown))
	assert.Equal(t, "dd", string(d))

	var none *slab // no slab: a buffer of its own, as before
	own := none.Keep(append(none.Buffer(16), "x"...))
	assert.Equal(t, 16, cap(own))
}

// TestSlabChunksFollowTheBatch: the chunks are sized by what is left of the
// batch, so a small batch does not allocate a whole chunk.
func TestSlabChunksFollowTheBatch(t *testing.T) {
	sl := &slab{left: 2}
	sl.Keep(append(sl.Buffer(100), bytes.Repeat([]byte{'x'}, 90)...))
	assert.Equal(t, 200, cap(sl.buf))
	big := &slab{left: 1_000}
	big.Buffer(1_000)
	assert.Equal(t, slabChunk, cap(big.buf))
}
