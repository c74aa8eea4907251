package ohx

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBatchFill(t *testing.T) {
	for _, c := range []struct{ size, bundle, overhead, want int }{
		{500, 100, 1, 499},  // one Provenance: 5 whole bundles
		{500, 100, 2, 498},  // Provenance and Device
		{500, 0, 1, 500},    // the publisher has no bundles
		{500, 100, -3, 500}, // fewer resources than samples: no model
		{500, 100, 100, 500},
		{500, 1000, 1, 999}, // one bundle is more than a batch: fill one
		{40, 100, 1, 99},
		{560, 100, 1, 599}, // the nearest whole number of bundles
	} {
		assert.Equal(t, c.want, batchFill(c.size, c.bundle, c.overhead), "%+v", c)
	}
}
