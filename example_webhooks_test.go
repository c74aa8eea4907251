package ohx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/withings"
)

// Mounting the Withings and Google Health webhook receivers in your own
// http.ServeMux. Each handler verifies the request its provider's way (a
// secret in the Withings callback path; the subscriber's Authorization secret
// or the ECDSA signature for Google Health) and hands a verified
// ohx.Notification to an ohx.NotifyFunc, which enqueues a push job and
// returns nil only once the job is safe (server.Server.Notify does exactly
// that). When it returns an error, the handler answers 503 and the provider
// delivers the notification again.
func Example_webhooks() {
	wp, err := withings.New(withings.Config{
		ClientID: "withings-client-id", ClientSecret: "withings-client-secret",
		Webhook: withings.WebhookConfig{Secret: "long-random-path-secret"},
	})
	if err != nil {
		panic(err)
	}
	gp, err := fitbit.New(fitbit.Config{
		ClientID: "google-client-id", ClientSecret: "google-client-secret",
		RedirectURL:   "https://ehr.example/oauth/fitbit/callback",
		WebhookSecret: "Bearer long-random-subscriber-secret",
	})
	if err != nil {
		panic(err)
	}

	notifications := make(chan ohx.Notification, 16)
	notify := func(_ context.Context, n ohx.Notification) error {
		select {
		case notifications <- n:
			return nil
		default:
			return errors.New("full") // 503: the provider delivers it again
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/withings/", wp.WebhookHandler(notify))
	mux.Handle("/webhooks/fitbit", gp.WebhookHandler(notify))
	// ... the rest of your service's routes.

	// Withings probes the callback with HEAD when you subscribe, then POSTs
	// form-encoded notifications (the window's end is inclusive at Withings,
	// hence one second more here).
	head := httptest.NewRecorder()
	mux.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/webhooks/withings/long-random-path-secret", nil))
	fmt.Println("withings HEAD:", head.Code)

	req := httptest.NewRequest(http.MethodPost, "/webhooks/withings/long-random-path-secret",
		strings.NewReader("userid=12345&appli=1&startdate=1795161600&enddate=1795165200"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	n := <-notifications
	fmt.Println("withings POST:", rec.Code, n.Provider, n.ExternalUserID, n.Kind, n.Window)

	// A wrong secret is refused and hands nothing on.
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/withings/guess", strings.NewReader("userid=1&appli=1")))
	fmt.Println("withings wrong secret:", rec.Code, len(notifications))

	// Google verifies a new subscriber with two POSTs: with the secret (201
	// expected) and without it (401 or 403 expected).
	for _, auth := range []string{"Bearer long-random-subscriber-secret", ""} {
		req = httptest.NewRequest(http.MethodPost, "/webhooks/fitbit", strings.NewReader(`{"type":"verification"}`))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println("google verification, secret sent:", auth != "", "→", rec.Code)
	}

	// A data notification names a user, a data type and intervals, never values.
	req = httptest.NewRequest(http.MethodPost, "/webhooks/fitbit", strings.NewReader(`{"data":{"version":"1",
		"healthUserId":"health-user-1","operation":"UPSERT","dataType":"steps","intervals":[{
		"physicalTimeInterval":{"startTime":"2026-11-20T08:00:00Z","endTime":"2026-11-20T08:05:00Z"}}]}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer long-random-subscriber-secret")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	n = <-notifications
	fmt.Println("google POST:", rec.Code, n.Provider, n.ExternalUserID, n.Kind, n.DataTypes, n.Window)
	// Output:
	// withings HEAD: 200
	// withings POST: 200 withings 12345 data 2026-11-20T08:00:00Z/2026-11-20T09:00:01Z
	// withings wrong secret: 404 0
	// google verification, secret sent: true → 201
	// google verification, secret sent: false → 401
	// google POST: 204 fitbit health-user-1 data [steps] 2026-11-20T08:00:00Z/2026-11-20T08:05:00Z
}
