package publish_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/publish"
)

func TestParseWriteMode(t *testing.T) {
	for _, m := range []publish.WriteMode{publish.WritePut, publish.WriteConditionalCreate, publish.WriteConditionalUpdate} {
		got, err := publish.ParseWriteMode(m.String())
		require.NoError(t, err)
		assert.Equal(t, m, got, "String and ParseWriteMode agree")
	}
	for _, bad := range []string{"", "PUT", "patch", " put", "unknown"} {
		_, err := publish.ParseWriteMode(bad)
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), "want put, conditional-create or conditional-update")
	}
}

func TestWriteModeText(t *testing.T) {
	var cfg struct {
		Mode publish.WriteMode `json:"mode"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"mode":"conditional-update"}`), &cfg))
	assert.Equal(t, publish.WriteConditionalUpdate, cfg.Mode)
	out, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"mode":"conditional-update"}`, string(out))

	require.Error(t, json.Unmarshal([]byte(`{"mode":"merge"}`), &cfg))
	assert.Equal(t, publish.WriteConditionalUpdate, cfg.Mode, "a bad value leaves the mode as it was")
	_, err = publish.WriteMode(7).MarshalText()
	require.Error(t, err)
}
