package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/server/connecttest"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// TestServeRefusesForgedAndUnboundedWork attacks a running `ohxd serve` as
// the security review did: a forged Withings unlink leaves the link active,
// a notification with startdate=1 makes no provider request for data older
// than the push clamp, and a 1900–2100 backfill answers 400.
func TestServeRefusesForgedAndUnboundedWork(t *testing.T) {
	bin := daemonBinary(t)
	wfake := withingstest.NewServer(withingstest.Config{})
	t.Cleanup(wfake.Close)
	const user = 2002
	wfake.AddUser(withingstest.User{ID: user, TimeZone: "Europe/Paris"})
	wfake.ApproveAs(user)

	addr := freeAddr(t)
	publicURL := "http://" + addr
	key, err := seal.GenerateKey("consent")
	require.NoError(t, err)
	apiKey, secret := randomHex(16), randomHex(16)
	var linkID string
	d := startDaemon(t, bin, addr, map[string]string{
		"OHX_ADDR": addr, "OHX_DATA_DIR": t.TempDir(), "OHX_API_KEYS": apiKey, "OHX_SECRET_KEYS": key.Encode(),
		"OHX_PUBLIC_URL": publicURL, "OHX_REDIRECT_ALLOWLIST": "https://ehr.example/done",
		"OHX_WITHINGS_CLIENT_ID": wfake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET": wfake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET": secret, "OHX_WITHINGS_API_URL": wfake.URL(), "OHX_WITHINGS_AUTH_URL": wfake.AuthURL(),
		"OHX_INITIAL_DAYS": "1", "OHX_WEBHOOK_DEBOUNCE": "100ms", "OHX_WITHINGS_REQUESTS_PER_MINUTE": "60000",
		"OHX_LOG_LEVEL": "warn",
	})
	post := func(path, ctype, body string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.url+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", ctype)
		if strings.HasPrefix(path, "/v1/") {
			req.Header.Set("Authorization", "Bearer "+apiKey)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		if strings.HasPrefix(path, "/v1/links") && resp.StatusCode == http.StatusCreated {
			var created map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
			landing, err := connecttest.New(nil).Connect(t.Context(), created["authorize_url"])
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(landing, "https://ehr.example/done?link_id="), landing)
			linkID = created["id"]
		}
		return resp.StatusCode
	}
	require.Equal(t, http.StatusCreated, post("/v1/links", "application/json",
		`{"provider":"withings","patient":"Patient/7","data_types":["body-weight"],"success_url":"https://ehr.example/done","error_url":"https://ehr.example/done"}`))
	link := func() map[string]any {
		var v map[string]any
		require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/links/"+linkID, apiKey, &v))
		return v
	}
	require.Equal(t, "active", link()["status"])
	settle := func(what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for calm := 0; calm < 3; {
			var q struct {
				Depth map[string]int `json:"depth"`
			}
			require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/queue", apiKey, &q))
			busy := 0
			for _, n := range q.Depth {
				busy += n
			}
			if busy == 0 {
				calm++
			} else {
				calm = 0
			}
			require.True(t, time.Now().Before(deadline), "the queue did not settle: %s", what)
			time.Sleep(200 * time.Millisecond)
		}
	}
	settle("initial sync")

	webhook := "/webhooks/withings/" + secret
	form := "application/x-www-form-urlencoded"
	t.Run("forged unlink leaves the link active", func(t *testing.T) {
		wfake.ResetCalls()
		for _, action := range []string{"unlink", "delete"} {
			require.Equal(t, http.StatusOK, post(webhook, form, "userid="+strconv.Itoa(user)+"&appli=46&action="+action))
		}
		deadline := time.Now().Add(60 * time.Second)
		for len(wfake.CallsOf(withingstest.OpGetDevice)) == 0 {
			require.True(t, time.Now().Before(deadline), "ohx never asked Withings to confirm")
			time.Sleep(100 * time.Millisecond)
		}
		settle("revocation check")
		assert.Equal(t, "active", link()["status"], "Withings still honours the grant: the unlink was forged")
		assert.Equal(t, http.StatusAccepted, post("/v1/links/"+linkID+"/sync", "application/json", `{}`), "syncs still run")
	})

	t.Run("startdate=1 reads nothing older than the clamp", func(t *testing.T) {
		settle("manual sync")
		wfake.ResetCalls()
		now := time.Now()
		body := url.Values{"userid": {strconv.Itoa(user)}, "appli": {strconv.Itoa(withings.AppliWeight)},
			"startdate": {"1"}, "enddate": {strconv.FormatInt(now.Unix(), 10)}}
		require.Equal(t, http.StatusOK, post(webhook, form, body.Encode()))
		deadline := time.Now().Add(60 * time.Second)
		for len(wfake.CallsOf(withingstest.OpGetmeas)) == 0 {
			require.True(t, time.Now().Before(deadline), "the push job never read")
			time.Sleep(100 * time.Millisecond)
		}
		settle("push job")
		floor := now.Add(-7*24*time.Hour - time.Hour).Unix() // the clamp, less the push margin and an hour's alignment
		calls := wfake.Calls()
		assert.Less(t, len(calls), 10, "a bounded window takes a handful of requests, not three weeks of the app's budget")
		for _, c := range calls {
			for _, p := range []string{"startdate", "lastupdate"} {
				if v := c.Params.Get(p); v != "" {
					n, err := strconv.ParseInt(v, 10, 64)
					require.NoError(t, err)
					assert.GreaterOrEqual(t, n, floor, "%s asked %s=%s", c.Op, p, v)
				}
			}
		}
	})

	t.Run("1900-2100 backfill answers 400", func(t *testing.T) {
		assert.Equal(t, http.StatusBadRequest, post("/v1/links/"+linkID+"/sync", "application/json",
			`{"window":{"start":"1900-01-01T00:00:00Z","end":"2100-01-01T00:00:00Z"}}`))
	})

	t.Run("a real unlink, confirmed, revokes", func(t *testing.T) {
		settle("before the unlink")
		wfake.RevokeUser(user) // the user unlinked ohx at Withings
		require.Equal(t, http.StatusOK, post(webhook, form, "userid="+strconv.Itoa(user)+"&appli=46&action=unlink"))
		deadline := time.Now().Add(60 * time.Second)
		for link()["status"] != "revoked" {
			require.True(t, time.Now().Before(deadline), "the confirmed unlink did not revoke the link")
			time.Sleep(100 * time.Millisecond)
		}
		assert.Equal(t, http.StatusConflict, post("/v1/links/"+linkID+"/sync", "application/json", `{}`))
	})
}

func TestKeyFilesReadableByOthersAreRefused(t *testing.T) {
	dir := t.TempDir()
	k, err := seal.GenerateKey("k1")
	require.NoError(t, err)
	path := filepath.Join(dir, "secret-keys")
	require.NoError(t, os.WriteFile(path, []byte(k.Encode()+"\n"), 0o600))
	require.NoError(t, os.Chmod(path, 0o644))
	_, err = loadKeyRing(&config{DataDir: dir}, nil)
	require.ErrorContains(t, err, "chmod 600")
	require.NoError(t, os.Chmod(path, 0o600))
	_, err = loadKeyRing(&config{DataDir: dir}, nil)
	require.NoError(t, err)

	pem := filepath.Join(dir, "fhir.pem")
	require.NoError(t, os.WriteFile(pem, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o640))
	_, err = readPrivate(pem)
	require.ErrorContains(t, err, "readable or writable by others")
}
