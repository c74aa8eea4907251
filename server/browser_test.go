package server_test

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

var update = flag.Bool("update", false, "rewrite docs/img/connect.png from the browser test")

// chromium returns the path of an installed Chromium or Chrome, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserProfile starts a headless Chromium with a fresh profile of its own
// (a second profile is a second device: no shared cookie) and returns a tab.
func browserProfile(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(480, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return ctx
}

// ehrSite is the EHR around ohx: ohx mounted under /ohx/, and the EHR's own
// success and error pages. It remembers the callback URLs the browser
// reached.
type ehrSite struct {
	mu        sync.Mutex
	callbacks []string
}

func (e *ehrSite) handler(ohxHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ohx/", http.StripPrefix("/ohx", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/callback") {
			e.mu.Lock()
			e.callbacks = append(e.callbacks, r.URL.String())
			e.mu.Unlock()
		}
		ohxHandler.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /ehr/{page}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><title>EHR</title><h1 id="ehr">` + r.PathValue("page") + `</h1>`))
	})
	return mux
}

// TestConnectFlowInChromium drives a real browser through the connect page,
// the Withings fake's consent, ohx's callback and the EHR's success page,
// then shows that the same callback URL opened in a second browser profile
// is refused. With -update it rewrites the README's screenshot of the page.
func TestConnectFlowInChromium(t *testing.T) {
	path := chromium()
	if path == "" {
		t.Skip("no Chromium installed (.ci/run installs Debian's chromium)")
	}
	fake := withingstest.NewServer(withingstest.Config{})
	t.Cleanup(fake.Close)
	fake.AddUser(withingstest.User{ID: 4711, TimeZone: "Europe/Berlin"})
	fake.ApproveAs(4711)

	site := &ehrSite{}
	// The site's handler is set once ohx knows its public URL (the test
	// server's address).
	var mux atomic.Pointer[http.Handler]
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*mux.Load()).ServeHTTP(w, r) }))
	t.Cleanup(hs.Close)
	st := store.NewMemory()
	wp, err := withings.New(withings.Config{ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: hs.URL + "/ohx/oauth/withings/callback", APIBaseURL: fake.URL(), AuthURL: fake.AuthURL(),
		Common: provider.Common{Tokens: st, Locker: st}})
	require.NoError(t, err)
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{wp}, Links: st, Cursors: st,
		Transformer: discard{}, Publisher: discard{}})
	require.NoError(t, err)
	q, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: []ohx.Provider{wp},
		PublicURL: hs.URL + "/ohx", StateKey: []byte(strings.Repeat("k", 32)), APIKeys: []string{apiKey},
		RedirectAllowlist: []string{hs.URL + "/ehr/"}, OrganizationName: "Riverside Cardiology Clinic"})
	require.NoError(t, err)
	h := site.handler(srv.Handler())
	mux.Store(&h)

	body := `{"provider":"withings","patient":"Patient/42","data_types":["heart-rate","blood-pressure","body-weight","ecg","sleep-session"],` +
		`"success_url":"` + hs.URL + `/ehr/connected","error_url":"` + hs.URL + `/ehr/failed"}`
	req, err := http.NewRequestWithContext(t.Context(), "POST", hs.URL+"/ohx/v1/links", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	created := decode[map[string]string](t, resp)
	_ = resp.Body.Close()
	require.True(t, strings.HasPrefix(created["authorize_url"], hs.URL+"/ohx/connect/"))

	// The patient's browser opens the page.
	alice := browserProfile(t, path)
	page, err := chromedp.Run(alice, chromedp.NavigateResponse(created["authorize_url"]))
	require.NoError(t, err)
	require.Equal(t, int64(http.StatusOK), page.Status)
	heading, err := chromedp.Run(alice, chromedp.Text("h1"))
	require.NoError(t, err)
	assert.Equal(t, "Connect your Withings account", heading)
	text, err := chromedp.Run(alice, chromedp.Text("main"))
	require.NoError(t, err)
	for _, want := range []string{"Riverside Cardiology Clinic", "Heart rate", "Blood pressure", "ECG recordings", "Sleep", "Continue to Withings"} {
		assert.Contains(t, text, want)
	}

	// It reads at 320 px: nothing wider than the screen.
	require.NoError(t, chromedp.Do(alice, chromedp.EmulateViewport(320, 640)))
	overflow, err := chromedp.Run(alice, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	require.NoError(t, err)
	assert.False(t, overflow, "the page scrolls sideways at 320 px")
	require.NoError(t, chromedp.Do(alice, chromedp.EmulateViewport(480, 640)))
	if *update {
		png, err := chromedp.Run(alice, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "img", "connect.png"), png, 0o644))
	}

	// The button: Withings' consent (the fake approves at once), ohx's
	// callback, the EHR's success page.
	require.NoError(t, chromedp.Do(alice, chromedp.Click("#continue"), chromedp.WaitVisible("#ehr")))
	landed, err := chromedp.Run(alice, chromedp.Location())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(landed, hs.URL+"/ehr/connected?link_id="+created["id"]), landed)
	l, err := st.Link(t.Context(), created["id"])
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkActive, l.Status)
	assert.Equal(t, "4711", l.ExternalUserID)

	site.mu.Lock()
	require.Len(t, site.callbacks, 1)
	callback := hs.URL + "/ohx" + site.callbacks[0]
	site.mu.Unlock()

	// The same callback URL in a second profile: refused.
	mallory := browserProfile(t, path)
	refused, err := chromedp.Run(mallory, chromedp.NavigateResponse(callback))
	require.NoError(t, err)
	assert.Equal(t, int64(http.StatusForbidden), refused.Status)
	heading, err = chromedp.Run(mallory, chromedp.Text("h1"))
	require.NoError(t, err)
	assert.Equal(t, "Please finish in the browser you started in", heading)

	// And the page itself, forwarded after it was opened: dead.
	gone, err := chromedp.Run(mallory, chromedp.NavigateResponse(created["authorize_url"]))
	require.NoError(t, err)
	assert.Equal(t, int64(http.StatusGone), gone.Status)
}
