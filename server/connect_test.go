package server_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
)

// patient is one browser profile talking to the harness: it keeps the
// cookies the server sets (whatever their Secure flag: the harness serves
// plain HTTP for a public URL that is https) and never follows redirects.
type patient struct {
	base    string // the server's URL
	cookies map[string]string
	lang    string
}

func newPatient(h *harness) *patient { return newPatientAt(h.http.URL) }

// newPatientAt is a patient of the server at base.
func newPatientAt(base string) *patient { return &patient{base: base, cookies: map[string]string{}} }

func (p *patient) send(t *testing.T, method, raw string, form url.Values) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(t.Context(), method, p.base+u.RequestURI(), body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if p.lang != "" {
		req.Header.Set("Accept-Language", p.lang)
	}
	for k, v := range p.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		p.cookies[ck.Name] = ck.Value
	}
	return resp, string(data)
}

var formToken = regexp.MustCompile(`name="form" value="([^"]+)"`)

// open opens the connect page and returns its form token.
func (p *patient) open(t *testing.T, page string) (*http.Response, string, string) {
	t.Helper()
	resp, body := p.send(t, "GET", page, nil)
	m := formToken.FindStringSubmatch(body)
	if m == nil {
		return resp, body, ""
	}
	return resp, body, m[1]
}

// consent opens the page, sends its form and returns the OAuth state the
// button leads to the provider with.
func (p *patient) consent(t *testing.T, page string) string {
	t.Helper()
	resp, _, token := p.open(t, page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = p.send(t, "POST", page, url.Values{"form": {token}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "consent.example", loc.Host)
	return loc.Query().Get("state")
}

func (p *patient) callback(t *testing.T, query string) (*http.Response, string) {
	t.Helper()
	return p.send(t, "GET", "/oauth/fake/callback?"+query, nil)
}

const goodURL = "https://ehr.example/wearables/done"

func createLink(t *testing.T, h *harness, body string) map[string]string {
	t.Helper()
	resp := h.do(t, "POST", "/v1/links", apiKey, body)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	return decode[map[string]string](t, resp)
}

func linkStatus(t *testing.T, h *harness, id string) ohx.LinkStatus {
	t.Helper()
	l, err := h.store.Link(t.Context(), id)
	require.NoError(t, err)
	return l.Status
}

func TestConnectPageCompletesInTheBrowserThatOpenedIt(t *testing.T) {
	h := newHarness(t)
	created := createLink(t, h, `{"provider":"fake","patient":"Patient/123","data_types":["heart-rate","body-weight","heart-rate"],`+
		`"success_url":"`+goodURL+`","error_url":"`+goodURL+`?failed=1"}`)
	page := created["authorize_url"]
	require.True(t, strings.HasPrefix(page, "https://ohx.example/connect/"), page)

	alice := newPatient(h)
	resp, body, token := alice.open(t, page)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, token)
	assert.Contains(t, body, "Your care provider asks to receive health data from your fake account")
	assert.Contains(t, body, "<li>Heart rate</li>")
	assert.Contains(t, body, "<li>Weight</li>")
	assert.Equal(t, 1, strings.Count(body, "<li>Heart rate</li>"), "data types are deduplicated")
	assert.Contains(t, body, `<form method="post"`)
	assert.NotContains(t, body, "<script", "no JavaScript")
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		cookie = c
	}
	require.NotNil(t, cookie)
	assert.Equal(t, "__Host-ohx-connect", cookie.Name, "https public URL: a __Host- cookie")
	assert.True(t, cookie.Secure)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	assert.Equal(t, "/", cookie.Path)
	assert.Empty(t, cookie.Domain)

	again, _, _ := alice.open(t, page)
	assert.Equal(t, http.StatusOK, again.StatusCode, "the same browser may reload the page")

	mallory := newPatient(h)
	resp, body, _ = mallory.open(t, page)
	assert.Equal(t, http.StatusGone, resp.StatusCode, "a forwarded page is dead once opened")
	assert.Contains(t, body, "This link no longer works")
	resp, _ = mallory.send(t, "POST", page, url.Values{"form": {token}})
	assert.Equal(t, http.StatusGone, resp.StatusCode, "the form is accepted from the opening browser only")

	state := alice.consent(t, page)
	query := "code=good-u1&state=" + url.QueryEscape(state)

	resp, body = mallory.callback(t, query)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a callback from another browser is refused")
	assert.Contains(t, body, "Please finish in the browser you started in")
	resp, _ = newPatient(h).callback(t, query)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "so is one without cookie")
	assert.Equal(t, ohx.LinkPending, linkStatus(t, h, created["id"]))
	assert.Empty(t, h.queue.snapshot())

	resp, _ = alice.callback(t, query)
	require.Equal(t, http.StatusFound, resp.StatusCode, "refused foreign callbacks consumed nothing")
	loc := resp.Header.Get("Location")
	assert.True(t, strings.HasPrefix(loc, goodURL+"?link_id="+created["id"]), loc)
	assert.NotContains(t, loc, "good-u1", "the code never travels on")
	assert.Equal(t, ohx.LinkActive, linkStatus(t, h, created["id"]))
	jobs := h.queue.snapshot()
	require.Len(t, jobs, 2)
	assert.Equal(t, ohx.TriggerDeviceSync, jobs[0].Trigger)
	assert.Equal(t, ohx.TriggerInitial, jobs[1].Trigger)

	view := decode[map[string]any](t, h.do(t, "GET", "/v1/links/"+created["id"], apiKey, ""))
	assert.Equal(t, "u1", view["external_user_id"], "the EHR sees which provider account was connected")
	assert.Equal(t, []any{"heart-rate", "body-weight"}, view["data_types"])

	resp, body = alice.callback(t, query)
	assert.Equal(t, http.StatusConflict, resp.StatusCode, "a state is used once")
	assert.Contains(t, body, "already completed")
	assert.Len(t, h.queue.snapshot(), 2, "nothing queued again")
	resp, _, _ = alice.open(t, page)
	assert.Equal(t, http.StatusGone, resp.StatusCode, "the page does not open after the callback")
}

func TestConnectDenialConsumesTheState(t *testing.T) {
	h := newHarness(t)
	created := createLink(t, h, linkBody(goodURL, goodURL+"/error"))
	p := newPatient(h)
	state := p.consent(t, created["authorize_url"])
	resp, _ := p.callback(t, "error=access_denied&state="+url.QueryEscape(state))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Location"), goodURL+"/error?")
	assert.Contains(t, resp.Header.Get("Location"), "error=consent_denied")

	resp, _ = p.callback(t, "code=good-u1&state="+url.QueryEscape(state))
	assert.Equal(t, http.StatusConflict, resp.StatusCode, "a denied state cannot complete a link afterwards")
	assert.Equal(t, ohx.LinkPending, linkStatus(t, h, created["id"]))
}

func TestConnectExpiresAndRefusesTampering(t *testing.T) {
	h := newHarness(t)
	t.Run("page never opened in time", func(t *testing.T) {
		created := createLink(t, h, linkBody(goodURL, goodURL))
		h.advance(16 * time.Minute)
		resp, _, _ := newPatient(h).open(t, created["authorize_url"])
		assert.Equal(t, http.StatusGone, resp.StatusCode)
	})
	t.Run("state expired at the provider", func(t *testing.T) {
		created := createLink(t, h, linkBody(goodURL, goodURL))
		p := newPatient(h)
		state := p.consent(t, created["authorize_url"])
		h.advance(16 * time.Minute)
		resp, _ := p.callback(t, "code=good-u1&state="+url.QueryEscape(state))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, ohx.LinkPending, linkStatus(t, h, created["id"]))
	})
	t.Run("tampered state", func(t *testing.T) {
		created := createLink(t, h, linkBody(goodURL, goodURL))
		p := newPatient(h)
		state := []byte(p.consent(t, created["authorize_url"]))
		state[5] ^= 1
		resp, _ := p.callback(t, "code=good-u1&state="+url.QueryEscape(string(state)))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp, _ = p.send(t, "GET", "/oauth/withings/callback?code=good-u1&state="+url.QueryEscape(string(state)), nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("tampered form", func(t *testing.T) {
		created := createLink(t, h, linkBody(goodURL, goodURL))
		p := newPatient(h)
		resp, _, token := p.open(t, created["authorize_url"])
		require.Equal(t, http.StatusOK, resp.StatusCode)
		other := "x" // a first character the token does not have (it is random)
		if token[0] == 'x' {
			other = "y"
		}
		for _, form := range []url.Values{{}, {"form": {token[1:]}}, {"form": {other + token[1:]}}, {"form": {token}, "a": {"1"}, "b": {"2"}, "c": {"3"}, "d": {"4"}}} {
			resp, _ = p.send(t, "POST", created["authorize_url"], form)
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusForbidden}, resp.StatusCode, "%v", form)
		}
		resp, _ = p.send(t, "POST", created["authorize_url"], url.Values{"form": {token}})
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the genuine form still works")
	})
	t.Run("unknown and malformed pages", func(t *testing.T) {
		for _, path := range []string{"/connect/" + strings.Repeat("A", 43), "/connect/short", "/connect/" + strings.Repeat("~", 43)} {
			resp, _, _ := newPatient(h).open(t, path)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		}
	})
}

func TestConnectCookieOnPlainHTTP(t *testing.T) {
	h := newHarness(t)
	srv, err := server.New(server.Config{Store: h.store, Queue: h.queue, Engine: &ohx.Engine{}, Providers: []ohx.Provider{h.prov},
		PublicURL: "http://localhost:8080", StateKey: []byte(strings.Repeat("k", 32)), APIKeys: []string{apiKey},
		RedirectAllowlist: []string{"https://ehr.example/wearables/"}, Now: h.clock, OrganizationName: "Clinic <Nord>"})
	require.NoError(t, err)
	h.srv = srv
	h.http.Config.Handler = srv.Handler()
	created := createLink(t, h, linkBody(goodURL, goodURL))
	resp, body, _ := newPatient(h).open(t, created["authorize_url"])
	require.Equal(t, http.StatusOK, resp.StatusCode)
	c := resp.Cookies()[0]
	assert.Equal(t, "ohx-connect", c.Name, "no __Host- prefix on plain http")
	assert.False(t, c.Secure)
	assert.True(t, c.HttpOnly)
	assert.Contains(t, body, "Clinic &lt;Nord&gt;", "the organisation's name is escaped")
}

func TestConnectPageIsLocalisable(t *testing.T) {
	h := newHarness(t)
	srv, err := server.New(server.Config{Store: h.store, Queue: h.queue, Engine: &ohx.Engine{}, Providers: []ohx.Provider{h.prov},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), APIKeys: []string{apiKey},
		RedirectAllowlist: []string{"https://ehr.example/wearables/"}, Now: h.clock,
		Messages: map[string]server.Messages{"de": {"connect.title": "{provider}-Konto verbinden", "type.heart-rate": "Herzfrequenz"}}})
	require.NoError(t, err)
	h.http.Config.Handler = srv.Handler()
	created := createLink(t, h, `{"provider":"fake","patient":"Patient/1","data_types":["heart-rate","steps"],"success_url":"`+goodURL+`","error_url":"`+goodURL+`"}`)
	p := newPatient(h)
	p.lang = "de-DE,de;q=0.9,en;q=0.5"
	_, body, _ := p.open(t, created["authorize_url"])
	assert.Contains(t, body, `<html lang="de">`)
	assert.Contains(t, body, "fake-Konto verbinden")
	assert.Contains(t, body, "<li>Herzfrequenz</li>")
	assert.Contains(t, body, "<li>Steps</li>", "a missing translation falls back to English")

	_, err = server.New(server.Config{Store: h.store, Queue: h.queue, StateKey: make([]byte, 32), Messages: map[string]server.Messages{"not a tag!": {}}})
	assert.Error(t, err)
}

func TestRedirectAllowListIsSegmentAware(t *testing.T) {
	h := newHarness(t)
	for name, bad := range map[string]string{
		"encoded dot segments": "https://ehr.example/wearables/%2e%2e/admin",
		"mixed-case encoding":  "https://ehr.example/wearables/%2E%2e/admin",
		"dot segments":         "https://ehr.example/wearables/../admin",
		"single dot":           "https://ehr.example/wearables/./x",
		"encoded slash":        "https://ehr.example/wearables%2f..%2fadmin",
		"encoded backslash":    "https://ehr.example/wearables/%5c..%5cadmin",
		"prefix of a segment":  "https://ehr.example/wearablesX/done",
		"double slash":         "https://ehr.example/wearables//evil.example/",
		"other port":           "https://ehr.example:8443/wearables/done",
	} {
		t.Run(name, func(t *testing.T) {
			resp := h.do(t, "POST", "/v1/links", apiKey, linkBody(bad, goodURL))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
		})
	}
	for _, ok := range []string{goodURL, "https://ehr.example/wearables/", "https://ehr.example/wearables", "https://EHR.example/wearables/a/b?x=1"} {
		assert.Equal(t, http.StatusCreated, h.do(t, "POST", "/v1/links", apiKey, linkBody(ok, goodURL)).StatusCode, ok)
	}
	_, err := server.New(server.Config{Store: h.store, Queue: h.queue, StateKey: make([]byte, 32),
		RedirectAllowlist: []string{"https://ehr.example/a/%2e%2e/"}})
	assert.Error(t, err, "an allow-list entry with dot segments is refused")
}

func TestRedirectTargetIsCheckedAgainAtRedirectTime(t *testing.T) {
	h := newHarness(t)
	created := createLink(t, h, linkBody(goodURL, goodURL))
	p := newPatient(h)
	state := p.consent(t, created["authorize_url"])
	// The operator narrowed the allow-list since (a restart, another replica).
	srv, err := server.New(server.Config{Store: h.store, Queue: h.queue, Engine: &ohx.Engine{}, Providers: []ohx.Provider{h.prov},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), Now: h.clock,
		RedirectAllowlist: []string{"https://ehr.example/other/"}})
	require.NoError(t, err)
	h.http.Config.Handler = srv.Handler()
	resp, body := p.callback(t, "code=good-u1&state="+url.QueryEscape(state))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Location"), "no redirect to a URL the allow-list no longer holds")
	assert.Contains(t, body, "Your fake account is connected")
	assert.Equal(t, ohx.LinkActive, linkStatus(t, h, created["id"]))
}

func TestDataTypesAreDeduplicatedAndCapped(t *testing.T) {
	h := newHarness(t)
	types := strings.Repeat(`"heart-rate",`, 50000)
	created := createLink(t, h, `{"provider":"fake","patient":"Patient/1","data_types":[`+types+`"steps"],"success_url":"`+goodURL+`","error_url":"`+goodURL+`"}`)
	l, err := h.store.Link(t.Context(), created["id"])
	require.NoError(t, err)
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.Steps}, l.DataTypes)
	assert.Equal(t, http.StatusBadRequest, h.do(t, "POST", "/v1/links", apiKey,
		`{"provider":"fake","patient":"Patient/1","data_types":["heart-rate","no-such-type"],"success_url":"`+goodURL+`","error_url":"`+goodURL+`"}`).StatusCode)
}

func TestPendingLinksExpire(t *testing.T) {
	h := newHarness(t)
	created := createLink(t, h, linkBody(goodURL, goodURL))
	fresh := activeLink(t, h, "active", "u9")
	entries, err := h.srv.SchedulerEntries(server.SchedulerConfig{})
	require.NoError(t, err)
	var expire func() error
	for _, e := range entries {
		if e.Name == "expire" {
			expire = func() error { return e.Run(t.Context(), h.clock()) }
		}
	}
	require.NotNil(t, expire)
	require.NoError(t, expire())
	assert.Equal(t, ohx.LinkPending, linkStatus(t, h, created["id"]), "young pending links stay")
	h.advance(61 * time.Minute)
	require.NoError(t, expire())
	_, err = h.store.Link(t.Context(), created["id"])
	require.ErrorIs(t, err, ohx.ErrNotFound, "a link pending for more than an hour is deleted")
	assert.Equal(t, ohx.LinkActive, linkStatus(t, h, fresh.ID), "active links are left alone")
	_, err = h.store.OpenConnectFlow(t.Context(), strings.Repeat("0", 64), "b", h.clock())
	require.ErrorIs(t, err, ohx.ErrNotFound)

	_, err = server.New(server.Config{Store: h.store, Queue: h.queue, StateKey: make([]byte, 32), PendingLinkTTL: time.Minute})
	assert.Error(t, err, "a pending TTL shorter than the consent itself is refused")
}

var _ store.ConnectStore = server.Store(nil)
