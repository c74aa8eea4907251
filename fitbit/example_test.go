package fitbit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
)

// Example links a user of the Google Health fake through the OAuth code
// flow and reads three days of resting heart rate.
func Example() {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }
	fake, err := fitbittest.New(fitbittest.Config{Now: clock})
	if err != nil {
		panic(err)
	}
	defer fake.Close()
	if _, err := fake.AddUser(fitbittest.User{HealthUserID: "demo-user", TimeZone: "Europe/Berlin"}); err != nil {
		panic(err)
	}

	tokens := store.NewMemory()
	p, err := fitbit.New(fitbit.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(), RedirectURL: "https://ehr.example/callback",
		AuthURL: fake.AuthURL(), TokenURL: fake.TokenURL(), RevokeURL: fake.RevokeURL(),
		APIBaseURL: fake.APIBaseURL(), KeysetURL: fake.KeysetURL(),
		Common: provider.Common{Tokens: tokens, Locker: tokens},
	})
	if err != nil {
		panic(err)
	}

	// The browser visits AuthCodeURL; the fake approves and redirects back.
	verifier := "demo-verifier-0123456789-0123456789-0123456789"
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(p.AuthCodeURL("state", verifier, []ohx.DataType{ohx.DailyRestingHeartRate}))
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))

	link := ohx.Link{ID: "link-demo", Patient: "Patient/1"}
	tok, err := p.Exchange(ctx, back.Query().Get("code"), verifier, &link)
	if err != nil {
		panic(err)
	}
	if err := tokens.SaveToken(ctx, link.ID, tok); err != nil {
		panic(err)
	}
	fmt.Println("linked", link.ExternalUserID, link.TimeZone)

	w := ohx.Window{Start: time.Date(2026, 11, 16, 23, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 19, 23, 0, 0, 0, time.UTC)}
	for s, err := range p.Fetch(ctx, link, []ohx.DataType{ohx.DailyRestingHeartRate}, w) {
		if err != nil {
			panic(err)
		}
		fmt.Println(s.Type, s.LocalStart().Format("2006-01-02T15:04-07:00"), s.Unit)
	}
	// Output:
	// linked demo-user Europe/Berlin
	// daily-resting-heart-rate 2026-11-17T00:00+01:00 /min
	// daily-resting-heart-rate 2026-11-18T00:00+01:00 /min
	// daily-resting-heart-rate 2026-11-19T00:00+01:00 /min
}
