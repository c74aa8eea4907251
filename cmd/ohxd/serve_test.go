package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeWithoutProvider runs `ohxd serve` with no provider configured:
// it starts, warns, answers health probes and the API (no providers, link
// creation refused with a clear 400), runs no workers, and stops cleanly.
func TestServeWithoutProvider(t *testing.T) {
	addr := freeAddr(t)
	apiKey := randomHex(16)
	env := map[string]string{"OHX_ADDR": addr, "OHX_DATA_DIR": t.TempDir(), "OHX_API_KEYS": apiKey,
		"OHX_REDIRECT_ALLOWLIST": "https://ehr.example/"}
	old := environ
	environ = func(k string) string { return env[k] }
	t.Cleanup(func() { environ = old })

	ctx, stop := context.WithCancel(t.Context())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, io.Discard, logs) }()
	base := "http://" + addr
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(base + "/livez")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)

	status, body := call(http.MethodGet, "/readyz", "")
	assert.Equal(t, http.StatusOK, status, "store and queue are ready")
	assert.Equal(t, "ready", body["status"])
	status, body = call(http.MethodGet, "/v1/providers", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"providers": []any{}}, body)
	status, body = call(http.MethodPost, "/v1/links", `{"provider":"withings","patient":"Patient/1",`+
		`"success_url":"https://ehr.example/ok","error_url":"https://ehr.example/err"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "no provider is configured on this server", body["message"])
	status, _ = call(http.MethodGet, "/v1/queue", "")
	assert.Equal(t, http.StatusOK, status, "the queue can be inspected")

	stop()
	require.NoError(t, <-done)
	text := logs.String()
	assert.Contains(t, text, `{"level":"warn",`)
	assert.Regexp(t, `"level":"warn".*"msg":"no provider is configured: set OHX_WITHINGS_CLIENT_ID, OHX_GOOGLE_CLIENT_ID and/or OHX_OURA_CLIENT_ID`, text)
	assert.Regexp(t, `"level":"warn".*"msg":"no provider is configured: no workers and no scheduler run"`, text)
	assert.Contains(t, text, `"workers":false`)
}
