package withings

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

// DefaultWebhookMaxBody bounds a notification body; real ones are under 200
// bytes.
const DefaultWebhookMaxBody = 8 << 10

// DefaultNotifyTimeout bounds the notify callback, so that the answer stays
// within the 2 seconds Withings allows.
const DefaultNotifyTimeout = 1500 * time.Millisecond

// WebhookConfig configures the notification receiver.
//
// Withings does not sign notifications. Authenticity comes from an
// unguessable secret in the callback URL (compared in constant time), an
// optional allow-list of Withings' published IP ranges, and "pull to
// confirm": a notification only names a user and a time range, and the data
// is always fetched with that user's token.
type WebhookConfig struct {
	// Secret is the unguessable part of the callback URL. The handler accepts
	// it as the last path segment (…/withings/<secret>) or as the query
	// parameter "secret" or "token". Empty means every request is refused
	// (404): a receiver without a secret accepts nothing.
	Secret string
	// AllowCIDRs, when not empty, restricts senders to these networks
	// (Withings publishes them as DNS TXT records of ipblock-notify.withings.net).
	AllowCIDRs []string
	// ClientIP returns the sender's address; nil means the request's
	// RemoteAddr. Behind a reverse proxy, supply a function that reads the
	// header your proxy sets.
	ClientIP func(r *http.Request) (netip.Addr, bool)
	// MaxBody bounds the request body; 0 means DefaultWebhookMaxBody.
	MaxBody int64
	// NotifyTimeout bounds the notify callback; 0 means
	// DefaultNotifyTimeout.
	NotifyTimeout time.Duration
}

// appliTypes maps a notification category to the data types to pull.
var appliTypes = map[int][]ohx.DataType{
	AppliWeight: {ohx.BodyWeight, ohx.FatFreeMass, ohx.BodyFatRatio, ohx.FatMass, ohx.MuscleMass,
		ohx.Hydration, ohx.BoneMass, ohx.PulseWaveVelocity, ohx.VO2Max, ohx.HeartRate,
		ohx.BodyTemperature, ohx.SkinTemperature},
	AppliTemperature: {ohx.BodyTemperature, ohx.SkinTemperature},
	AppliPressure:    {ohx.BloodPressure, ohx.HeartRate, ohx.SpO2},
	AppliActivity:    {ohx.Steps, ohx.HeartRate},
	AppliSleep:       {ohx.SleepSession, ohx.HeartRate, ohx.RespiratoryRate, ohx.HRVRMSSD, ohx.HRVSDNN},
	AppliECG:         {ohx.ECG},
}

// appliDataTypes returns the data types a notification of category appli
// announces; nil for categories that carry no data ohx syncs.
func appliDataTypes(appli int) []ohx.DataType {
	ts := appliTypes[appli]
	if ts == nil {
		return nil
	}
	return append([]ohx.DataType(nil), ts...)
}

// dayMargin widens a notification's Y-m-d date, whose time zone is unknown
// to the receiver, to every zone on earth.
const dayMargin = 14 * time.Hour

// ErrMalformedNotification is returned by ParseNotification for a body that
// is not a Withings notification.
var ErrMalformedNotification = errors.New("withings: malformed notification")

func malformed(what string) error {
	return fmt.Errorf("%w: %s", ErrMalformedNotification, what)
}

// ParseNotification parses a notification's form body. ok is false (with a
// nil error) for a well-formed notification that asks for nothing: a
// category ohx does not sync, or a user event other than unlink/delete.
//
// The window is [startdate, enddate+1 s) when given, the Y-m-d date widened
// by 14 h on each side when only date is given, and zero otherwise.
// Category 46 with action "unlink" or "delete" gives ohx.NotifyRevoked.
func ParseNotification(body string, received time.Time) (n ohx.Notification, ok bool, err error) {
	form, err := url.ParseQuery(strings.TrimSpace(body))
	if err != nil {
		return n, false, malformed("not a form")
	}
	user := form.Get("userid")
	if user == "" || len(user) > 20 || strings.Trim(user, "0123456789") != "" {
		return n, false, malformed("userid")
	}
	appli, err := strconv.Atoi(form.Get("appli"))
	if err != nil || appli < 0 {
		return n, false, malformed("appli")
	}
	n = ohx.Notification{Provider: Name, ExternalUserID: user, Kind: ohx.NotifyData, Received: received}
	start, end := form.Get("startdate"), form.Get("enddate")
	switch {
	case start != "" || end != "":
		s, err1 := strconv.ParseInt(start, 10, 64)
		e, err2 := strconv.ParseInt(end, 10, 64)
		if err1 != nil || err2 != nil || s <= 0 || e < s || e > 1<<40 {
			return ohx.Notification{}, false, malformed("startdate/enddate")
		}
		n.Window = ohx.Window{Start: time.Unix(s, 0).UTC(), End: time.Unix(e+1, 0).UTC()}
	case form.Get("date") != "":
		d, err := time.Parse(time.DateOnly, form.Get("date"))
		if err != nil {
			return ohx.Notification{}, false, malformed("date")
		}
		n.Window = ohx.Window{Start: d.Add(-dayMargin), End: d.Add(24*time.Hour + dayMargin)}
	}
	if appli == AppliUser {
		switch form.Get("action") {
		case "unlink", "delete":
			n.Kind = ohx.NotifyRevoked
			n.Window = ohx.Window{}
			return n, true, nil
		}
		return ohx.Notification{}, false, nil
	}
	n.DataTypes = appliDataTypes(appli)
	if n.DataTypes == nil {
		return ohx.Notification{}, false, nil
	}
	return n, true, nil
}

// webhook is the notification receiver.
type webhook struct {
	p       *Provider
	secret  []byte
	allow   []netip.Prefix
	ip      func(*http.Request) (netip.Addr, bool)
	maxBody int64
	timeout time.Duration
	notify  ohx.NotifyFunc
}

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("withings: bad allow-list entry %q", c)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("withings: bad allow-list entry %q", c)
		}
		out = append(out, pr.Masked())
	}
	return out, nil
}

func remoteIP(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// WebhookHandler implements ohx.WebhookReceiver. The handler:
//
//   - refuses senders outside Webhook.AllowCIDRs (403) and requests without
//     the right secret (404), queuing nothing;
//   - answers HEAD and GET with 200 (Withings probes the callback with HEAD
//     on subscribe);
//   - parses a POSTed form (userid, appli, startdate, enddate, date,
//     deviceid, action), answers 400 to a malformed one and 413 to an
//     oversized one, queuing nothing;
//   - calls notify once for a notification that names data or an unlink,
//     with a context bounded by Webhook.NotifyTimeout (Withings wants an
//     answer within 2 s), and answers 200 only when notify returned nil:
//     the notification is durable. When notify fails (or is nil), it
//     answers 503 with Retry-After, which Withings retries (any status of
//     400 or more is a failed delivery; it tries up to 10 times over about
//     five hours). A well-formed notification that asks for nothing (a
//     category ohx does not sync) is answered 200 without calling notify.
//
// The handler cannot know whether the userid is linked: the receiver of the
// notification (the daemon) drops unknown users and acknowledges them like
// known ones, so the sender learns nothing about who is linked. Allow-list
// entries that do not parse make every request fail with 500; New reports
// them earlier.
func (p *Provider) WebhookHandler(notify ohx.NotifyFunc) http.Handler {
	h := &webhook{p: p, secret: []byte(p.cfg.Webhook.Secret), ip: p.cfg.Webhook.ClientIP, maxBody: p.cfg.Webhook.MaxBody,
		timeout: p.cfg.Webhook.NotifyTimeout, notify: notify}
	h.allow, _ = parsePrefixes(p.cfg.Webhook.AllowCIDRs)
	if h.ip == nil {
		h.ip = remoteIP
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultWebhookMaxBody
	}
	if h.timeout <= 0 {
		h.timeout = DefaultNotifyTimeout
	}
	return h
}

func (h *webhook) authorized(r *http.Request) bool {
	path := strings.TrimRight(r.URL.Path, "/")
	got := path[strings.LastIndexByte(path, '/')+1:]
	ok := provider.SecretEqual(got, string(h.secret)) // false for an empty secret
	q := r.URL.Query()
	for _, k := range [...]string{"secret", "token"} {
		if v := q.Get(k); v != "" {
			ok = provider.SecretEqual(v, string(h.secret)) || ok
		}
	}
	return ok
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := h.serve(w, r)
	h.p.metrics.WebhookRequest(Name, status)
}

func (h *webhook) reply(w http.ResponseWriter, status int) int {
	if status != http.StatusOK {
		http.Error(w, http.StatusText(status), status)
		return status
	}
	w.WriteHeader(status)
	return status
}

func (h *webhook) serve(w http.ResponseWriter, r *http.Request) int {
	if len(h.allow) > 0 {
		a, ok := h.ip(r)
		allowed := false
		for _, pr := range h.allow {
			if ok && pr.Contains(a) {
				allowed = true
				break
			}
		}
		if !allowed {
			return h.reply(w, http.StatusForbidden)
		}
	} else if len(h.p.cfg.Webhook.AllowCIDRs) > 0 {
		return h.reply(w, http.StatusInternalServerError) // unparsable allow-list: fail closed
	}
	if !h.authorized(r) {
		return h.reply(w, http.StatusNotFound)
	}
	switch r.Method {
	case http.MethodHead, http.MethodGet:
		return h.reply(w, http.StatusOK)
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "HEAD, GET, POST")
		return h.reply(w, http.StatusMethodNotAllowed)
	}
	body, status, err := provider.ReadBody(w, r, h.maxBody)
	if err != nil {
		return h.reply(w, status)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return h.reply(w, http.StatusUnsupportedMediaType)
	}
	n, ok, err := ParseNotification(string(body), h.p.now().UTC())
	if err != nil {
		h.p.log.Info("malformed Withings notification", zap.Error(err))
		return h.reply(w, http.StatusBadRequest)
	}
	if !ok {
		return h.reply(w, http.StatusOK)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
	defer cancel()
	if err := provider.Notify(ctx, h.notify, n); err != nil {
		h.p.log.Warn("Withings notification not queued; asking Withings to retry", zap.Error(err))
		return provider.RetryLater(w)
	}
	return h.reply(w, http.StatusOK)
}
