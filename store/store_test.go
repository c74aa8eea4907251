package store_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/storetest"
)

func TestSyncErrorMessage(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name     string
		err      error
		kind     string
		msg      string
		mustLack string
	}{
		{"nil", nil, "", "", ""},
		{"cancelled", fmt.Errorf("sync: %w", context.Canceled), "cancelled", "cancelled", ""},
		{"deadline", context.DeadlineExceeded, "cancelled", "cancelled", ""},
		{"sentinel", fmt.Errorf("token for value 88: %w", ohx.ErrTokenRevoked), "revoked", "revoked error", "88"},
		{"provider error with status and code", &ohx.ProviderError{Provider: "fitbit", Op: "dataPoints.list", Kind: ohx.KindRateLimited, HTTPStatus: 429, Code: "RESOURCE_EXHAUSTED", Err: errors.New("spo2 97")},
			"rate-limited", "fitbit dataPoints.list: rate-limited (http 429, RESOURCE_EXHAUSTED)", "97"},
		{"provider error with code only", &ohx.ProviderError{Provider: "withings", Op: "getmeas", Kind: ohx.KindAuth, Code: "401"}, "auth", "withings getmeas: auth (401)", ""},
		{"provider error bare", &ohx.ProviderError{Provider: "withings", Op: "getmeas", Kind: ohx.KindPermanent}, "permanent", "withings getmeas: permanent", ""},
		{"long fields are cut", &ohx.ProviderError{Provider: "p", Op: long, Kind: ohx.KindTransient}, "transient", "p " + long[:195] + "...", ""},
		{"cut never splits a rune", &ohx.ProviderError{Provider: "p", Op: strings.Repeat("é", 150), Kind: ohx.KindTransient}, "transient", "p " + strings.Repeat("é", 97) + "...", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, msg := store.SyncErrorMessage(tt.err)
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.msg, msg)
			assert.LessOrEqual(t, len(msg), 200)
			if tt.mustLack != "" {
				assert.NotContains(t, msg, tt.mustLack)
			}
		})
	}
}

func TestTokenSealing(t *testing.T) {
	ring, err := seal.NewKeyRing(storetest.TestKeys()[0])
	require.NoError(t, err)
	tok := ohx.Token{AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer", Expiry: storetest.Start, Scope: "s"}
	sealed, err := store.SealToken(ring, "l1", tok)
	require.NoError(t, err)
	assert.Equal(t, "Bearer", sealed.TokenType)
	assert.NotEqual(t, "at", sealed.AccessToken)

	got, err := store.OpenToken(ring, "l1", sealed)
	require.NoError(t, err)
	assert.Equal(t, tok, got)

	_, err = store.OpenToken(ring, "l2", sealed)
	require.ErrorIs(t, err, seal.ErrOpen)
	assert.Contains(t, err.Error(), `access token of link "l2"`)

	swapped := sealed
	swapped.AccessToken, swapped.RefreshToken = sealed.RefreshToken, sealed.AccessToken
	_, err = store.OpenToken(ring, "l1", swapped)
	require.ErrorIs(t, err, seal.ErrOpen, "fields are bound too")

	rotated, err := seal.NewKeyRing(storetest.TestKeys()[1], storetest.TestKeys()[0])
	require.NoError(t, err)
	re, changed, err := store.RewrapToken(rotated, "l1", sealed)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, storetest.TestKeys()[1].ID, seal.KeyID(re.AccessToken))
	assert.Equal(t, storetest.TestKeys()[1].ID, seal.KeyID(re.RefreshToken))
	_, changed, err = store.RewrapToken(rotated, "l1", re)
	require.NoError(t, err)
	assert.False(t, changed)
	_, _, err = store.RewrapToken(rotated, "l2", sealed)
	require.ErrorIs(t, err, seal.ErrOpen)
}

// TestNoHeavyDependencies checks that importing store (and store/seal) links
// no database or Redis driver.
func TestNoHeavyDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", ".", "./seal").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, heavy := range []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/redis/go-redis", "github.com/stretchr/testify"} {
		assert.NotContains(t, string(out), heavy)
	}
	assert.Contains(t, string(out), "github.com/openhealthexchange/ohx/store/seal", "the listing is real")
}
