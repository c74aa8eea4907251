package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// fuzzAuth is a provider with an OAuth face that accepts code "good".
type fuzzAuth struct{ ohxtest.Provider }

func (p *fuzzAuth) AuthCodeURL(state, _ string, _ []ohx.DataType) string {
	return "https://consent.example/authorize?state=" + url.QueryEscape(state)
}

func (p *fuzzAuth) Exchange(_ context.Context, code, _ string, l *ohx.Link) (ohx.Token, error) {
	if code != "good" {
		return ohx.Token{}, &ohx.ProviderError{Provider: "fake", Op: "exchange", Kind: ohx.KindPermanent}
	}
	l.ExternalUserID = "u1"
	return ohx.Token{AccessToken: "a", RefreshToken: "r"}, nil
}

// FuzzConnectRequests throws arbitrary secrets, cookies, forms and states at
// the connect page and the OAuth callback while one genuine flow waits
// opened in a browser. Whatever arrives: no panic, no 5xx, no redirect but
// to the provider (from the form) or the allow-listed URLs, and the pending
// link is never activated by a request without the opening browser's cookie.
func FuzzConnectRequests(f *testing.F) {
	st := store.NewMemory()
	prov := &fuzzAuth{Provider: ohxtest.Provider{ProviderName: "fake"}}
	s, err := New(Config{Store: st, Queue: nopQueue{}, Engine: &ohx.Engine{}, Providers: []ohx.Provider{prov},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)),
		RedirectAllowlist: []string{"https://ehr.example/wearables/"}, Now: func() time.Time { return fuzzNow }})
	if err != nil {
		f.Fatal(err)
	}
	link := ohx.Link{ID: "lnk_fuzz", Provider: "fake", Patient: "Patient/1", Status: ohx.LinkPending}
	if err := st.SaveLink(context.Background(), link); err != nil {
		f.Fatal(err)
	}
	page, err := s.newConnectFlow(context.Background(), link, "https://ehr.example/wearables/ok", "https://ehr.example/wearables/no")
	if err != nil {
		f.Fatal(err)
	}
	secret := path.Base(page)
	browser := strings.Repeat("b", 43)
	if _, err := st.OpenConnectFlow(context.Background(), hashHex(secret), hashHex(browser), fuzzNow); err != nil {
		f.Fatal(err)
	}
	good, _ := s.state.sign(oauthState{LinkID: link.ID, Provider: "fake", Nonce: "n", Flow: hashHex(secret), Expires: fuzzNow.Add(time.Minute).Unix()})
	h := s.Handler()

	f.Add(secret, "", "", "good", good)
	f.Add(secret, strings.Repeat("c", 43), s.formToken(hashHex(secret), hashHex(browser)), "good", good)
	f.Add(strings.Repeat("A", 43), browser, "x", "", "garbage.state")
	f.Add("..%2f..%2fv1%2flinks", "", "form=%zz", "good", "")
	f.Fuzz(func(t *testing.T, sec, cookie, form, code, state string) {
		requests := []*http.Request{
			httptest.NewRequest(http.MethodGet, "/connect/"+url.PathEscape(sec), nil),
			httptest.NewRequest(http.MethodPost, "/connect/"+url.PathEscape(sec), strings.NewReader("form="+url.QueryEscape(form))),
			httptest.NewRequest(http.MethodGet, "/oauth/fake/callback?"+url.Values{"code": {code}, "state": {state}}.Encode(), nil),
		}
		requests[1].Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, r := range requests {
			if cookie != browser {
				r.AddCookie(&http.Cookie{Name: s.cookieName(), Value: url.QueryEscape(cookie)})
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s answered %d", r.Method, r.URL.Path, w.Code)
			}
			if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, "https://consent.example/") &&
				!strings.HasPrefix(loc, "https://ehr.example/wearables/") {
				t.Fatalf("%s %s redirected to %q", r.Method, r.URL.Path, loc)
			}
		}
		l, err := st.Link(context.Background(), link.ID)
		if err != nil || l.Status != ohx.LinkPending {
			t.Fatalf("the link changed without the opening browser: %v %v", l.Status, err)
		}
	})
}

// FuzzRedirectAllowList checks that a URL the allow-list accepts stays
// under the allowed prefix however a browser resolves it.
func FuzzRedirectAllowList(f *testing.F) {
	s, err := New(Config{Store: store.NewMemory(), Queue: nopQueue{}, StateKey: make([]byte, 32),
		RedirectAllowlist: []string{"https://ehr.example/wearables/"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"https://ehr.example/wearables/done", "https://ehr.example/wearables/%2e%2e/admin",
		"https://ehr.example/wearables/../admin", "https://ehr.example/wearablesX", "https://ehr.example/wearables%2f..%2f",
		"https://ehr.example/wearables/a?b=../c#..", "https://ehr.example/wearables/%252e%252e/x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !s.allowedRedirect(raw) {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted an unparsable URL %q", raw)
		}
		resolved := u.ResolveReference(&url.URL{Path: ""})
		p, err := url.PathUnescape(resolved.EscapedPath())
		if err != nil {
			t.Fatalf("accepted %q with a bad escape", raw)
		}
		if !strings.EqualFold(u.Host, "ehr.example") || u.Scheme != "https" || p != "/wearables" && !strings.HasPrefix(path.Clean(p)+"/", "/wearables/") {
			t.Fatalf("accepted %q, which resolves to %q", raw, p)
		}
	})
}

// nopQueue accepts every job and runs none.
type nopQueue struct{}

func (nopQueue) Enqueue(context.Context, ohx.Job, ohx.EnqueueOptions) (string, error) {
	return "job", nil
}
func (nopQueue) Run(ctx context.Context, _ ohx.Handler) error { <-ctx.Done(); return nil }
