package withings

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
)

// Notification categories (appli) of the Withings Notify API.
const (
	AppliWeight      = 1
	AppliTemperature = 2
	AppliPressure    = 4
	AppliActivity    = 16
	AppliSleep       = 44
	AppliUser        = 46
	AppliBedIn       = 50
	AppliBedOut      = 51
	AppliInflateDone = 52
	AppliECG         = 54
	AppliECGFailed   = 55
	AppliGlucose     = 58
)

// DefaultApplis returns the categories Subscribe subscribes when
// Config.Applis is nil: weight and body composition, blood pressure/SpO2,
// activity, sleep, user events (unlink) and ECG. Temperature (2) is left out
// because only third parties document it. Each call returns a new slice.
func DefaultApplis() []int {
	return []int{AppliWeight, AppliPressure, AppliActivity, AppliSleep, AppliUser, AppliECG}
}

// appliScopes is the scope each category needs.
var appliScopes = map[int]string{
	AppliWeight: ScopeMetrics, AppliTemperature: ScopeMetrics, AppliPressure: ScopeMetrics,
	AppliActivity: ScopeActivity, AppliSleep: ScopeActivity, AppliUser: ScopeInfo,
	AppliBedIn: ScopeSleepEvents, AppliBedOut: ScopeSleepEvents, AppliInflateDone: ScopeSleepEvents,
	AppliECG: ScopeMetrics, AppliECGFailed: ScopeMetrics, AppliGlucose: ScopeMetrics,
}

// Subscription is one notification subscription of a user.
type Subscription struct {
	// Appli is the notification category.
	Appli int
	// CallbackURL is where Withings posts the notifications.
	CallbackURL string
	// Comment is the subscription's comment.
	Comment string
}

func (p *Provider) applis(link ohx.Link) []int {
	want := p.cfg.Applis
	if want == nil {
		want = DefaultApplis()
	}
	scopes := splitScopes(link.Scopes)
	var out []int
	for _, a := range want {
		if len(scopes) == 0 || slices.Contains(scopes, appliScopes[a]) {
			out = append(out, a)
		}
	}
	return out
}

func (p *Provider) callbackURL() (string, error) {
	if p.cfg.CallbackURL == "" {
		return "", &ohx.ProviderError{Provider: Name, Op: "notify", Kind: ohx.KindPermanent, Err: errors.New("no callback URL configured")}
	}
	return p.cfg.CallbackURL, nil
}

// Subscriptions lists the link's notification subscriptions (notify list).
func (p *Provider) Subscriptions(ctx context.Context, link ohx.Link) ([]Subscription, error) {
	var b notifyListBody
	if err := p.call(ctx, link, "notify.list", "/notify", url.Values{"action": {"list"}}, &b); err != nil {
		return nil, err
	}
	out := make([]Subscription, 0, len(b.Profiles))
	for _, pr := range b.Profiles {
		out = append(out, Subscription{Appli: int(pr.Appli), CallbackURL: pr.CallbackURL, Comment: pr.Comment})
	}
	return out, nil
}

// Subscribe implements ohx.Subscriber: it subscribes the configured callback
// URL to every category the link's scopes allow that is not subscribed yet.
// It is idempotent, so calling it again re-ensures lost subscriptions (for
// example after Withings removed one for failed deliveries). Status 293
// means Withings could not reach the callback URL with a HEAD request.
func (p *Provider) Subscribe(ctx context.Context, link ohx.Link) error {
	cb, err := p.callbackURL()
	if err != nil {
		return err
	}
	have, err := p.Subscriptions(ctx, link)
	if err != nil {
		return err
	}
	for _, a := range p.applis(link) {
		if slices.ContainsFunc(have, func(s Subscription) bool { return s.Appli == a && s.CallbackURL == cb }) {
			continue
		}
		form := url.Values{}
		form.Set("action", "subscribe")
		form.Set("callbackurl", cb)
		form.Set("appli", strconv.Itoa(a))
		form.Set("comment", "ohx")
		if err := p.call(ctx, link, "notify.subscribe", "/notify", form, nil); err != nil {
			return err
		}
		p.log.Info("subscribed to notifications", zap.String("link_id", link.ID), zap.Int("appli", a))
	}
	return nil
}

// Unsubscribe implements ohx.Subscriber: it revokes every subscription of
// the configured callback URL (idempotent: nothing left is success). A grant
// that is already revoked has no subscriptions left either.
func (p *Provider) Unsubscribe(ctx context.Context, link ohx.Link) error {
	cb, err := p.callbackURL()
	if err != nil {
		return err
	}
	have, err := p.Subscriptions(ctx, link)
	if err != nil {
		if errors.Is(err, ohx.ErrTokenRevoked) || errors.Is(err, ohx.ErrNotLinked) {
			return nil
		}
		return err
	}
	for _, s := range have {
		if s.CallbackURL != cb {
			continue
		}
		form := url.Values{}
		form.Set("action", "revoke")
		form.Set("callbackurl", cb)
		form.Set("appli", strconv.Itoa(s.Appli))
		if err := p.call(ctx, link, "notify.revoke", "/notify", form, nil); err != nil {
			return err
		}
	}
	return nil
}
