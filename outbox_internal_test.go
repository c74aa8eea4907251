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

func TestOutboxSendsADeviceAgainOnlyWhenItChanged(t *testing.T) {
	o := newOutbox(100, 500)
	dev := func(id, body string) Resource { return Resource{Type: "Device", ID: id, JSON: []byte(body)} }
	obs := Resource{Type: "Observation", ID: "o1", JSON: []byte(`{}`)}

	first := []Resource{obs, dev("sw", `{"v":1}`), dev("bad", `{}`)}
	assert.Len(t, o.unsent(first), 3, "nothing acknowledged yet")
	assert.Equal(t, 1, o.acknowledged(first, PublishResult{Rejected: []Rejection{{Key: "Device/bad"}}}))

	again := o.unsent([]Resource{obs, dev("sw", `{"v":1}`), dev("bad", `{}`)})
	assert.Equal(t, []string{"Observation/o1", "Device/bad"}, keys(again), "the acknowledged Device is dropped, the rejected one is not")

	changed := o.unsent([]Resource{dev("sw", `{"v":2}`)})
	assert.Equal(t, []string{"Device/sw"}, keys(changed), "a Device whose JSON changed is sent again")
}

func keys(rs []Resource) []string {
	out := make([]string, len(rs))
	for i := range rs {
		out[i] = rs[i].Key()
	}
	return out
}
