package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/sqlite"
)

// TestKeysRewrapOpensOnlyTheStore rotates the key ring of a SQLite store
// while OHX_REDIS_URL points at a port nobody listens on: rewrapping needs
// the store alone, so Redis being down does not stop it.
func TestKeysRewrapOpensOnlyTheStore(t *testing.T) {
	dir := t.TempDir()
	oldKey, err := seal.GenerateKey("k1")
	require.NoError(t, err)
	newKey, err := seal.GenerateKey("k2")
	require.NoError(t, err)

	// A store with one token sealed under k1.
	ring, err := seal.NewKeyRing(oldKey)
	require.NoError(t, err)
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "ohx.db"), ring)
	require.NoError(t, err)
	require.NoError(t, st.SaveLink(t.Context(), ohx.Link{ID: "lnk-1", Provider: "withings", Patient: "Patient/1", Status: ohx.LinkActive}))
	require.NoError(t, st.SaveToken(t.Context(), "lnk-1", ohx.Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, st.Close())

	env := map[string]string{
		"OHX_DATA_DIR": dir, "OHX_SECRET_KEYS": newKey.Encode() + "," + oldKey.Encode(),
		"OHX_REDIS_URL": "redis://" + freeAddr(t) + "/0",
	}
	old := environ
	environ = func(k string) string { return env[k] }
	t.Cleanup(func() { environ = old })

	// The whole daemon cannot start: the closed port is really closed.
	cfg, err := loadConfig(environ)
	require.NoError(t, err)
	_, err = wire(t.Context(), cfg, wireOptions{logOut: &lockedBuffer{}})
	require.ErrorContains(t, err, "redis")

	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"keys", "rewrap"}, &stdout, &stderr), stderr.String())
	assert.Equal(t, "rewrapped 1 tokens under key k2\n", stdout.String())
	assert.Contains(t, stderr.String(), `"keys.rewrap"`, "the audit trail records the rotation")

	// The token now opens with k2 alone.
	ring, err = seal.NewKeyRing(newKey)
	require.NoError(t, err)
	st, err = sqlite.Open(t.Context(), filepath.Join(dir, "ohx.db"), ring)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	tok, err := st.Token(t.Context(), "lnk-1")
	require.NoError(t, err)
	assert.Equal(t, "rt", tok.RefreshToken)
}

func TestKeysEventsSecret(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, runKeys(t.Context(), []string{"events-secret"}, &out, &errOut))
	secret := strings.TrimSpace(out.String())
	key, err := events.ParseSecret(secret)
	require.NoError(t, err, "a secret OHX_EVENTS_SECRET accepts")
	assert.Len(t, key, 32)
	assert.Contains(t, errOut.String(), "OHX_EVENTS_SECRET")
}
