// Package connecttest drives ohx's patient connect flow the way a browser
// does, for tests, demos and load tools: it opens the connect page that
// POST /v1/links answers as authorize_url (keeping the binding cookie in a
// cookie jar), sends the page's form, and follows the redirects through the
// provider's authorize endpoint (a fake that approves at once, such as
// withingstest or fitbittest) to ohx's OAuth callback, and reports where
// the callback sends the browser.
//
// A Browser is one browser profile: its cookie jar is its own, so a second
// Browser is a second device. The real-browser test of the server drives
// Chromium; this package is the light HTTP twin for everything else.
package connecttest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Browser is one browser profile: a cookie jar and a client that never
// follows redirects by itself.
type Browser struct {
	// Client sends the requests; its Jar holds the profile's cookies.
	Client *http.Client
}

// New returns a Browser with an empty cookie jar whose requests go through
// base's transport (nil means http.DefaultTransport).
func New(base *http.Client) *Browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if base != nil {
		c.Transport, c.Timeout = base.Transport, base.Timeout
	}
	return &Browser{Client: c}
}

// Page is an opened connect page.
type Page struct {
	// URL is the page's URL.
	URL *url.URL
	// Status is the HTTP status the page answered.
	Status int
	// Body is the page's HTML (at most 256 KiB).
	Body string
	// Action is the absolute URL the form posts to; empty when the page has
	// no form (a page that refuses).
	Action string
	// Form holds the form's hidden fields.
	Form url.Values
}

var (
	formRe   = regexp.MustCompile(`(?s)<form[^>]*\saction="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// Get requests raw without following a redirect and returns the response
// with its body read (at most 256 KiB) and closed.
func (b *Browser) Get(ctx context.Context, raw string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, "", err
	}
	return b.do(req)
}

func (b *Browser) do(req *http.Request) (*http.Response, string, error) {
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	return resp, string(body), err
}

// Open opens the connect page at pageURL.
func (b *Browser) Open(ctx context.Context, pageURL string) (*Page, error) {
	resp, body, err := b.Get(ctx, pageURL) //nolint:bodyclose // Get read and closed the body
	if err != nil {
		return nil, err
	}
	p := &Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: body, Form: url.Values{}}
	m := formRe.FindStringSubmatch(body)
	if m == nil {
		return p, nil
	}
	action, err := p.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return nil, fmt.Errorf("connecttest: form action: %w", err)
	}
	p.Action = action.String()
	for _, h := range hiddenRe.FindAllStringSubmatch(m[2], -1) {
		p.Form.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return p, nil
}

// Submit posts form to the page's form action and returns the response
// (body read and closed); Continue is Submit with the page's own form.
func (b *Browser) Submit(ctx context.Context, p *Page, form url.Values) (*http.Response, string, error) {
	if p.Action == "" {
		return nil, "", fmt.Errorf("connecttest: the page (status %d) has no form", p.Status)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Action, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// Continue sends the page's form and returns the provider URL the button
// leads to.
func (b *Browser) Continue(ctx context.Context, p *Page) (string, error) {
	resp, _, err := b.Submit(ctx, p, p.Form) //nolint:bodyclose // Submit read and closed the body
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("connecttest: the form answered %d, not 303", resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}

// FollowToCallback follows redirects from raw (a provider's authorize URL)
// until ohx's OAuth callback (a path ending in /callback on the host of
// pageURL) answered, and returns the callback's URL and response. It stops
// there: where the callback sends the browser (the EHR's success or error
// URL) is the caller's to check. At most ten hops.
func (b *Browser) FollowToCallback(ctx context.Context, pageURL, raw string) (callback string, resp *http.Response, body string, err error) {
	page, err := url.Parse(pageURL)
	if err != nil {
		return "", nil, "", err
	}
	for range 10 {
		u, err := url.Parse(raw)
		if err != nil {
			return "", nil, "", err
		}
		resp, body, err := b.Get(ctx, raw)
		if err != nil {
			return "", nil, "", err
		}
		if u.Host == page.Host && strings.HasSuffix(u.Path, "/callback") {
			return raw, resp, body, nil
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return "", resp, body, fmt.Errorf("connecttest: %s answered %d before the callback", u.Host, resp.StatusCode)
		}
		next, err := u.Parse(loc)
		if err != nil {
			return "", nil, "", err
		}
		raw = next.String()
	}
	return "", nil, "", errors.New("connecttest: too many redirects")
}

// Connect runs the whole flow from the connect page at pageURL and returns
// the URL the callback redirects to (the EHR's success or error URL, with
// its parameters).
func (b *Browser) Connect(ctx context.Context, pageURL string) (string, error) {
	p, err := b.Open(ctx, pageURL)
	if err != nil {
		return "", err
	}
	if p.Status != http.StatusOK {
		return "", fmt.Errorf("connecttest: the connect page answered %d", p.Status)
	}
	authURL, err := b.Continue(ctx, p)
	if err != nil {
		return "", err
	}
	_, resp, _, err := b.FollowToCallback(ctx, pageURL, authURL) //nolint:bodyclose // read and closed by Get
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("connecttest: the callback answered %d", resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}
