package withings_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// A provider wired to the in-process fake: link an account through the
// OAuth code flow, then stream a day of data.
func Example() {
	ctx := context.Background()
	fake := withingstest.New(withingstest.Config{})
	st := store.NewMemory()
	p, err := withings.New(withings.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: "https://ehr.example/oauth/withings",
		APIBaseURL:  fake.URL(), AuthURL: fake.AuthURL(),
		Common: provider.Common{HTTPClient: fake.Client(), Tokens: st, Locker: st},
	})
	if err != nil {
		panic(err)
	}

	// The patient's browser goes to the authorize URL; the fake approves at
	// once and redirects back with a code.
	noRedirect := fake.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Get(p.AuthCodeURL("state-123", "", []ohx.DataType{ohx.BodyWeight}))
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	loc, _ := resp.Location()

	link := ohx.Link{ID: "link-1", Patient: "Patient/123"}
	tok, err := p.Exchange(ctx, loc.Query().Get("code"), "", &link)
	if err != nil {
		panic(err)
	}
	_ = st.SaveLink(ctx, link)
	_ = st.SaveToken(ctx, link.ID, tok)
	fmt.Println("state:", loc.Query().Get("state"))
	fmt.Println("scopes:", link.Scopes)

	// The three last full days in the patient's time zone.
	today := time.Now().In(link.Location())
	end := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, today.Location())
	w := ohx.Window{Start: end.AddDate(0, 0, -3).UTC(), End: end.UTC()}
	n := 0
	for s, err := range p.Fetch(ctx, link, []ohx.DataType{ohx.BodyWeight}, w) {
		if err != nil {
			panic(err)
		}
		if s.Recording == ohx.RecordedByDevice { // the scale's, not manual entries
			n++
		}
	}
	fmt.Println("time zone:", link.TimeZone)
	fmt.Println("weigh-ins in three days:", n)
	// Output:
	// state: state-123
	// scopes: [user.info user.metrics]
	// time zone: Europe/Paris
	// weigh-ins in three days: 3
}

// Mounting the notification receiver: the callback must only hand the
// notification on (enqueue a job), never do the work itself, and return nil
// only once the notification is safe. An error makes the handler answer 503,
// and Withings delivers the notification again.
func ExampleProvider_WebhookHandler() {
	p, err := withings.New(withings.Config{
		ClientID: "id", ClientSecret: "secret",
		Webhook: withings.WebhookConfig{Secret: "long-random-secret"},
	})
	if err != nil {
		panic(err)
	}
	queue := make(chan ohx.Notification, 100)
	mux := http.NewServeMux()
	mux.Handle("/webhooks/withings/", p.WebhookHandler(func(_ context.Context, n ohx.Notification) error {
		select {
		case queue <- n:
			return nil
		default:
			return errors.New("queue full") // 503: Withings delivers it again
		}
	}))

	post := func() int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/withings/long-random-secret",
			strings.NewReader("userid=12345&appli=4&startdate=1530576000&enddate=1530698753"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	code := post()
	n := <-queue
	fmt.Println(code, n.ExternalUserID, n.Kind, n.DataTypes, n.Window)

	for len(queue) < cap(queue) {
		queue <- n
	}
	fmt.Println("queue full:", post())
	// Output:
	// 200 12345 data [blood-pressure heart-rate spo2] 2018-07-03T00:00:00Z/2018-07-04T10:05:54Z
	// queue full: 503
}

func ExampleParseNotification() {
	n, ok, err := withings.ParseNotification("userid=12345&appli=46&action=unlink", time.Now())
	fmt.Println(n.ExternalUserID, n.Kind, ok, err)
	// Output: 12345 revoked true <nil>
}
