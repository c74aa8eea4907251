package ohx

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutboxSendsADeviceAgainOnlyWhenItChanged(t *testing.T) {
	o := newOutbox(100)
	dev := func(id, body string) Resource { return Resource{Type: "Device", ID: id, JSON: []byte(body)} }
	obs := Resource{Type: "Observation", ID: "o1", JSON: []byte(`{}`)}

	o.add([]Resource{obs, dev("sw", `{"v":1}`), dev("bad", `{}`)})
	sent := o.next(true)
	assert.Equal(t, []string{"Observation/o1", "Device/sw", "Device/bad"}, keys(sent), "nothing queued before")
	o.acknowledged(len(sent), PublishResult{Rejected: []Rejection{{Key: "Device/bad"}}})

	o.add([]Resource{obs, dev("sw", `{"v":1}`), dev("bad", `{}`)})
	assert.Equal(t, []string{"Observation/o1", "Device/bad"}, keys(o.next(true)), "the acknowledged Device is dropped, the rejected one is not")
	o.acknowledged(2, PublishResult{})

	o.add([]Resource{dev("sw", `{"v":2}`)})
	assert.Equal(t, []string{"Device/sw"}, keys(o.next(true)), "a Device whose JSON changed is sent again")
}

func TestOutboxSendsWholeBundlesAndMovesCursorsBehindTheirResources(t *testing.T) {
	o := newOutbox(10)
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	batch := func(n int) []Resource {
		rs := make([]Resource, n)
		for i := range rs {
			rs[i] = Resource{Type: "Observation", ID: "o", JSON: []byte(`{}`)}
		}
		return rs
	}

	o.add(batch(25))
	o.mark(HeartRate, at)
	require.Len(t, o.next(false), 20, "two whole bundles; five wait")
	assert.Empty(t, o.acknowledged(20, PublishResult{}), "the move waits for the five")

	o.add(batch(8))
	o.mark(HeartRate, at.Add(time.Hour))
	require.Len(t, o.next(false), 10, "the five carried and five new fill a bundle")
	marks := o.acknowledged(10, PublishResult{})
	require.Len(t, marks, 1, "the first move's resources are all acknowledged, the second's not")
	assert.Equal(t, at, marks[0].at)

	assert.Empty(t, o.next(false), "three do not fill a bundle")
	require.Len(t, o.next(true), 3, "the last call takes the rest")
	marks = o.acknowledged(3, PublishResult{})
	require.Len(t, marks, 1)
	assert.Equal(t, at.Add(time.Hour), marks[0].at)

	o.mark(Steps, at)
	assert.Len(t, o.ready(), 1, "a move with nothing queued before it is ready at once")

	none := newOutbox(0)
	none.add(batch(7))
	assert.Len(t, none.next(false), 7, "without bundles every batch goes out whole")
}

func keys(rs []Resource) []string {
	out := make([]string, len(rs))
	for i := range rs {
		out[i] = rs[i].Key()
	}
	return out
}
