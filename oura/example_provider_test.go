package oura_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/oura/ouratest"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
)

// Example links a user of the Oura fake through the OAuth code flow and
// reads three days of nightly HRV (the rMSSD average) and sleep
// sessions, a nap included.
func Example() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }
	fake, err := ouratest.New(ouratest.Config{Now: clock})
	if err != nil {
		panic(err)
	}
	defer fake.Close()
	if _, err := fake.AddUser(ouratest.User{ID: "demo-user", TimeZone: "Europe/Berlin"}); err != nil {
		panic(err)
	}

	tokens := store.NewMemory()
	p, err := oura.New(oura.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(), RedirectURL: "https://ehr.example/oauth/oura/callback",
		APIBaseURL: fake.URL(), AuthURL: fake.AuthURL(), TokenURL: fake.TokenURL(), RevokeURL: fake.RevokeURL(),
		Common: provider.Common{Tokens: tokens, Locker: tokens, Now: clock},
	})
	if err != nil {
		panic(err)
	}

	// The browser visits AuthCodeURL; the fake approves and redirects back.
	types := []ohx.DataType{ohx.DailyHRV, ohx.SleepSession}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(p.AuthCodeURL("state", "", types))
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))

	// Oura reports no time zone: the link carries it.
	link := ohx.Link{ID: "link-demo", Patient: "Patient/1", TimeZone: "Europe/Berlin", DataTypes: types}
	tok, err := p.Exchange(ctx, back.Query().Get("code"), "", &link)
	if err != nil {
		panic(err)
	}
	if err := tokens.SaveToken(ctx, link.ID, tok); err != nil {
		panic(err)
	}
	fmt.Println("linked", link.ExternalUserID, link.Scopes)

	w := ohx.Window{Start: time.Date(2026, 11, 16, 23, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 19, 23, 0, 0, 0, time.UTC)}
	for s, err := range p.Fetch(ctx, link, types, w) {
		if err != nil {
			panic(err)
		}
		fmt.Println(s.Type, s.LocalStart().Format("2006-01-02T15:04-07:00"), s.Unit)
	}
	// Output:
	// linked demo-user [daily ring_configuration]
	// sleep-session 2026-11-17T22:33+01:00 s
	// daily-hrv 2026-11-17T22:33+01:00 ms
	// sleep-session 2026-11-18T23:03+01:00 s
	// daily-hrv 2026-11-18T23:03+01:00 ms
	// sleep-session 2026-11-19T14:00+01:00 s
	// sleep-session 2026-11-19T23:55+01:00 s
	// daily-hrv 2026-11-19T23:55+01:00 ms
}
