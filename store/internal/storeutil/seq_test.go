package storeutil

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInSeqOrder(t *testing.T) {
	rows := func() []Sequenced[string] {
		return []Sequenced[string]{{"b", 2}, {"c", 3}, {"a", 1}}
	}
	assert.Equal(t, []string{"a", "b", "c"}, InSeqOrder(rows(), false))
	assert.Equal(t, []string{"c", "b", "a"}, InSeqOrder(rows(), true))
	got := InSeqOrder[string](nil, false)
	assert.NotNil(t, got, "no rows give an empty slice, not nil")
	assert.Empty(t, got)
}
