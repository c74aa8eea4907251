package fitbit

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openhealthexchange/ohx"
)

func TestIndexDeviceNames(t *testing.T) {
	ids := indexDeviceNames([]ohx.Device{
		{ID: "tracker-1", Model: "Charge 6"},
		{ID: "watch-1", Model: "Pixel Watch 3"},
		{ID: "watch-2", Model: "pixel watch 3 "}, // the same product twice: ambiguous
		{ID: "scale-1", Model: ""},               // no product name: matches nothing
	})
	assert.Equal(t, map[string]string{"charge 6": "tracker-1"}, ids)
	assert.Equal(t, "tracker-1", ids[foldName(" CHARGE 6")])
}
