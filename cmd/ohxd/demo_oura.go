package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/oura/ouratest"
)

// The demo's Oura part: a fake of the Oura cloud with one user, the
// daemon's OHX_OURA_* configuration pointing at it, and one signed webhook
// delivery once the daemon has created its subscriptions.

// demoOura is the demo's Oura fake and user.
type demoOura struct {
	fake *ouratest.Server
	user ouratest.User
}

// demoOuraUser is the Oura fake's user (personal_info.id) of the demo
// patient; the patient lives in Tokyo, far from UTC, so Oura's day rules
// show.
const (
	demoOuraUser     = "demo-oura-user-1"
	demoOuraTimeZone = "Asia/Tokyo"
)

// startOuraFake starts the Oura fake on the demo's clock, with one user and
// no rate limit.
func (d *demo) startOuraFake() (err error) {
	if d.oura.fake, err = ouratest.New(ouratest.Config{Now: d.fixed, RateLimit: -1}); err != nil {
		return err
	}
	d.oura.user, err = d.oura.fake.AddUser(ouratest.User{ID: demoOuraUser, TimeZone: demoOuraTimeZone})
	return err
}

// closeOura stops the Oura fake.
func (d *demo) closeOura() {
	if d.oura.fake != nil {
		d.oura.fake.Close()
	}
}

// ouraEnv adds the daemon's Oura configuration: the fake's endpoints and
// application, a fresh verification token.
func (d *demo) ouraEnv(env map[string]string) {
	f := d.oura.fake
	env["OHX_OURA_CLIENT_ID"], env["OHX_OURA_CLIENT_SECRET"] = f.ClientID(), f.ClientSecret()
	env["OHX_OURA_WEBHOOK_TOKEN"] = randomHex(16)
	env["OHX_OURA_API_URL"], env["OHX_OURA_AUTH_URL"] = f.URL(), f.AuthURL()
	env["OHX_OURA_TOKEN_URL"], env["OHX_OURA_REVOKE_URL"] = f.TokenURL(), f.RevokeURL()
	env["OHX_OURA_REQUESTS_PER_MINUTE"] = "6000"
}

// demoOuraPatient is the patient the demo links to Oura. Oura reports no
// time zone, so the link is created with the patient's.
func demoOuraPatient() *demoPatient {
	return &demoPatient{patient: "Patient/demo-oura-1", provider: oura.Name, timeZone: demoOuraTimeZone}
}

// sendOuraWebhook waits until the daemon has subscribed to Oura's webhooks
// (it does so once it listens, answering Oura's verification calls), then
// has the fake deliver one signed event: last night's sleep document was
// created. The daemon must accept it (204).
func (d *demo) sendOuraWebhook(ctx context.Context) error {
	if err := waitOuraSubscribed(ctx, d.oura.fake); err != nil {
		return err
	}
	ev, err := d.oura.fake.EventFor(d.oura.user.ID, "create", "sleep", d.flags.base.Add(-12*time.Hour))
	if err != nil {
		return fmt.Errorf("oura webhook: %w", err)
	}
	deliveries := d.oura.fake.Deliver(ctx, ev)
	if len(deliveries) != 1 {
		return fmt.Errorf("oura webhook: %d subscriptions took the event, want 1", len(deliveries))
	}
	dl := deliveries[0]
	if dl.Err != nil {
		return fmt.Errorf("oura webhook: %w", dl.Err)
	}
	if dl.Status != http.StatusNoContent {
		return fmt.Errorf("oura webhook: the daemon answered %d", dl.Status)
	}
	return nil
}

// waitOuraSubscribed waits until the fake holds a subscription for every
// event of every data type the daemon subscribes. The deadline only guards
// against a hang.
func waitOuraSubscribed(ctx context.Context, f *ouratest.Server) error {
	want := 3 * len(oura.DefaultWebhookDataTypes()) // create, update, delete
	deadline := time.Now().Add(2 * time.Minute)
	for len(f.Subscriptions()) < want {
		if time.Now().After(deadline) {
			return errors.New("oura webhook: the daemon did not subscribe within 2 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// stoppedClock is the demo scheduler's clock: it stands still like every
// other clock of the demo, so no scheduled work (polls, the nightly
// reconciliation, renewals) runs during a demo and its output depends on
// nothing but its flags. Oura's subscriptions are made at start-up, not by
// the scheduler.
type stoppedClock struct{ now func() time.Time }

func (c stoppedClock) Now() time.Time                     { return c.now() }
func (stoppedClock) After(time.Duration) <-chan time.Time { return nil }
