package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/store"
)

// providerInfo is one entry of GET /v1/providers.
type providerInfo struct {
	Name      string         `json:"name"`
	DataTypes []ohx.DataType `json:"data_types"`
	OAuth     bool           `json:"oauth"`
	Webhooks  bool           `json:"webhooks"`
	Subscribe bool           `json:"subscriptions"`
}

func (s *Server) listProviders(w http.ResponseWriter, _ *http.Request) {
	out := []providerInfo{}
	for _, name := range s.providerNames() {
		p := s.providers[name]
		info := providerInfo{Name: name, DataTypes: providerTypes(p)}
		_, info.OAuth = p.(ohx.Authorizer)
		_, info.Webhooks = p.(ohx.WebhookReceiver)
		_, info.Subscribe = p.(ohx.Subscriber)
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

func (s *Server) providerNames() []string {
	names := make([]string, 0, len(s.providers))
	for n := range s.providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func providerTypes(p ohx.Provider) []ohx.DataType {
	if l, ok := p.(ohx.DataTypeLister); ok {
		return l.DataTypes()
	}
	var all []ohx.DataType
	for _, c := range ohx.DataTypes() {
		all = append(all, c.Type)
	}
	return all
}

// createLinkRequest is the body of POST /v1/links.
type createLinkRequest struct {
	Provider   string         `json:"provider"`
	Patient    string         `json:"patient"`
	DataTypes  []ohx.DataType `json:"data_types,omitempty"`
	SuccessURL string         `json:"success_url"`
	ErrorURL   string         `json:"error_url"`
	TimeZone   string         `json:"time_zone,omitempty"`
	Frequency  string         `json:"frequency,omitempty"`
}

func validPatient(ref string) bool {
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok || id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !patientIDChar(c) {
			return false
		}
	}
	return !strings.Contains(id, "..")
}

// patientIDChar reports whether c may appear in a FHIR id.
func patientIDChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		return true
	}
	return false
}

// allowedRedirect reports whether raw is an absolute URL under one of the
// allow-list prefixes. It rejects user info, control characters and any
// scheme but http(s), so neither open redirects nor header injection pass.
func (s *Server) allowedRedirect(raw string) bool {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\r\n\t\\") {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Host == "" || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	segs, ok := pathSegments(u)
	if !ok {
		return false
	}
	for _, a := range s.allow {
		if u.Scheme == a.Scheme && strings.EqualFold(u.Host, a.Host) && segmentPrefix(allowSegments(a), segs) {
			return true
		}
	}
	return false
}

// pathSegments returns the decoded segments of u's path, refusing paths a
// browser or server would read differently from how they look: dot
// segments ("." and "..", also percent-encoded), encoded slashes or
// backslashes, and control characters.
func pathSegments(u *url.URL) ([]string, bool) {
	raw := u.EscapedPath()
	if raw == "" {
		return nil, true
	}
	if !strings.HasPrefix(raw, "/") {
		return nil, false
	}
	parts := strings.Split(raw[1:], "/")
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		lower := strings.ToLower(p)
		if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
			return nil, false
		}
		d, err := url.PathUnescape(p)
		if err != nil || d == "." || d == ".." || strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, false
		}
		if d == "" && i < len(parts)-1 {
			return nil, false // "//": an empty segment some servers collapse
		}
		out = append(out, d)
	}
	return out, true
}

// allowSegments returns the segments of an allow-list entry, which a URL's
// path must start with, segment by segment: "/patients/" and "/patients"
// both allow "/patients" and "/patients/1", never "/patientsX" nor
// "/patients/%2e%2e/admin".
func allowSegments(a *url.URL) []string {
	segs, _ := pathSegments(a)
	if n := len(segs); n > 0 && segs[n-1] == "" {
		segs = segs[:n-1]
	}
	return segs
}

// segmentPrefix reports whether prefix is a whole-segment prefix of segs.
func segmentPrefix(prefix, segs []string) bool {
	if len(prefix) > len(segs) {
		return false
	}
	for i, p := range prefix {
		if segs[i] != p {
			return false
		}
	}
	return true
}

func (s *Server) createLink(w http.ResponseWriter, r *http.Request) {
	var req createLinkRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	p, ok := s.providers[req.Provider]
	if !ok && len(s.providers) == 0 {
		writeError(w, http.StatusBadRequest, "unknown_provider", "no provider is configured on this server")
		return
	}
	if !ok {
		writeError(w, http.StatusBadRequest, "unknown_provider", "provider is not configured")
		return
	}
	if _, ok := p.(ohx.Authorizer); !ok {
		writeError(w, http.StatusBadRequest, "no_oauth", "provider does not link through OAuth")
		return
	}
	if !validPatient(req.Patient) {
		writeError(w, http.StatusBadRequest, "invalid_patient", `patient must be a reference like "Patient/123"`)
		return
	}
	if !s.allowedRedirect(req.SuccessURL) || !s.allowedRedirect(req.ErrorURL) {
		writeError(w, http.StatusBadRequest, "redirect_not_allowed", "success_url and error_url must match the redirect allow-list")
		return
	}
	offered := providerTypes(p)
	// Deduplicated and each offered: at most the provider's catalog.
	var types []ohx.DataType
	for _, t := range req.DataTypes {
		if !slices.Contains(offered, t) {
			writeError(w, http.StatusBadRequest, "invalid_data_type", "a data type is unknown or not offered by the provider")
			return
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		types = offered
	}
	if req.TimeZone != "" {
		if _, err := time.LoadLocation(req.TimeZone); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_time_zone", "time_zone must be an IANA zone name")
			return
		}
	}
	freq := ohx.SyncFrequency(req.Frequency)
	switch freq {
	case "", ohx.SyncRealtime, ohx.SyncHourly, ohx.SyncDaily:
	default:
		writeError(w, http.StatusBadRequest, "invalid_frequency", "frequency must be realtime, hourly or daily")
		return
	}
	id, err := newID("lnk_")
	if err != nil {
		s.internal(w, r, err)
		return
	}
	link := ohx.Link{ID: id, Provider: req.Provider, Patient: req.Patient, DataTypes: types,
		TimeZone: req.TimeZone, Frequency: freq, Status: ohx.LinkPending}
	if err := s.cfg.Store.SaveLink(r.Context(), link); err != nil {
		s.internal(w, r, err)
		return
	}
	page, err := s.newConnectFlow(r.Context(), link, req.SuccessURL, req.ErrorURL)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), "link.create", zap.String("link_id", id), zap.String("provider", req.Provider))
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "authorize_url": page})
}

// callback completes the OAuth flow. It consumes the connect flow of the
// state, once, and only with the binding cookie of the browser that opened
// the connect page: a request without it changes nothing. It never echoes
// the code or token; a failure after the flow was consumed redirects to the
// flow's error URL with a short error code.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	provider := r.PathValue("provider")
	q := r.URL.Query()
	st, err := s.state.verify(q.Get("state"), s.cfg.Now())
	if err != nil || st.Provider != provider {
		s.cfg.Logger.Warn("oauth callback with an invalid state", zap.String("provider", provider), zap.Error(err))
		s.messagePage(w, r, http.StatusBadRequest, "invalid", provider)
		return
	}
	f, err := s.cfg.Store.ConsumeConnectFlow(ctx, st.Flow, s.browserOf(r), s.cfg.Now())
	if err != nil || f.LinkID != st.LinkID {
		if errors.Is(err, store.ErrConnectBrowser) {
			s.cfg.Logger.Warn("oauth callback from a browser that did not open the connect page refused",
				zap.String("link_id", st.LinkID), zap.String("provider", provider))
			s.audit(ctx, "connect.refused", zap.String("link_id", st.LinkID), zap.String("reason", "foreign_browser"))
			s.messagePage(w, r, http.StatusForbidden, "browser", provider)
			return
		}
		if errors.Is(err, store.ErrConnectUsed) {
			s.messagePage(w, r, http.StatusConflict, "used", provider)
			return
		}
		s.flowError(w, r, cmpErr(err, ohx.ErrNotFound), provider)
		return
	}
	fail := func(code string, err error) {
		s.cfg.Logger.Warn("oauth callback failed", zap.String("link_id", st.LinkID), zap.String("provider", provider),
			zap.String("error_code", code), zap.Error(err))
		s.redirectOut(w, r, f.ErrorURL, "failed", provider, "error", code, "link_id", st.LinkID)
	}
	link, err := s.cfg.Store.Link(ctx, st.LinkID)
	if err != nil || link.Provider != provider || link.Status != ohx.LinkPending {
		fail("link_not_pending", err)
		return
	}
	if e := q.Get("error"); e != "" {
		s.audit(ctx, "link.consent_denied", zap.String("link_id", link.ID), zap.String("provider", provider))
		fail("consent_denied", nil)
		return
	}
	code := q.Get("code")
	if code == "" {
		fail("missing_code", nil)
		return
	}
	auth, ok := s.providers[provider].(ohx.Authorizer)
	if !ok {
		fail("unknown_provider", nil)
		return
	}
	tok, err := auth.Exchange(ctx, code, s.state.verifier(st), &link)
	if err != nil {
		fail("exchange_failed", err)
		return
	}
	if other, err := s.cfg.Store.LinkByExternalUser(ctx, provider, link.ExternalUserID); err == nil && other.ID != link.ID &&
		other.Status != ohx.LinkRevoked {
		// The same provider account is linked already: keep one link per
		// account (webhooks name users, not links).
		fail("account_already_linked", nil)
		return
	}
	if err := s.cfg.Store.SaveToken(ctx, link.ID, tok); err != nil {
		fail("store_failed", err)
		return
	}
	link.Status = ohx.LinkActive
	if err := s.activate(ctx, link); err != nil {
		if errors.Is(err, store.ErrStatusChanged) || errors.Is(err, ohx.ErrNotFound) {
			fail("link_not_pending", err)
			return
		}
		fail("store_failed", err)
		return
	}
	// external_account lets the EHR show which provider account the
	// patient connected, so a wrong account can be spotted.
	s.audit(ctx, "link.activate", zap.String("link_id", link.ID), zap.String("provider", provider),
		zap.String("external_account", link.ExternalUserID))
	if sub, ok := s.providers[provider].(ohx.Subscriber); ok {
		if err := sub.Subscribe(ctx, link); err != nil {
			// Not fatal: nightly reconciliation and re-ensure cover it.
			s.cfg.Logger.Warn("webhook subscription failed", zap.String("link_id", link.ID), zap.Error(err))
		}
	}
	for _, j := range []ohx.Job{
		{LinkID: link.ID, Trigger: ohx.TriggerDeviceSync},
		{LinkID: link.ID, Trigger: ohx.TriggerInitial},
	} {
		if _, err := s.cfg.Queue.Enqueue(ctx, j, ohx.EnqueueOptions{}); err != nil {
			s.cfg.Logger.Error("enqueue after linking failed", zap.String("link_id", link.ID), zap.Error(err))
		}
	}
	s.redirectOut(w, r, f.SuccessURL, "done", provider, "link_id", link.ID)
}

// cmpErr returns err, or fallback when err is nil (a flow of another link).
func cmpErr(err, fallback error) error {
	if err == nil {
		return fallback
	}
	return err
}

// redirectOut sends the browser to an allow-listed URL with parameters. The
// URL is checked against the allow-list again now, so a URL accepted under
// an older allow-list is never followed: the page of message id (done or
// failed) is shown instead.
func (s *Server) redirectOut(w http.ResponseWriter, r *http.Request, target, page, provider string, kv ...string) {
	if !s.allowedRedirect(target) {
		s.cfg.Logger.Warn("redirect target no longer in the allow-list; showing a page instead", zap.String("provider", provider))
		status := http.StatusOK
		if page == "failed" {
			status = http.StatusBadRequest
		}
		s.messagePage(w, r, status, page, provider)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, withQuery(target, kv...), http.StatusFound)
}

// withQuery adds parameters to an allow-listed URL.
func withQuery(raw string, kv ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "/"
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *Server) listLinks(w http.ResponseWriter, r *http.Request) {
	patient := r.URL.Query().Get("patient")
	if !validPatient(patient) {
		writeError(w, http.StatusBadRequest, "invalid_patient", `query parameter patient must be like "Patient/123"`)
		return
	}
	links, err := s.cfg.Store.LinksByPatient(r.Context(), patient)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]linkView, 0, len(links))
	for _, l := range links {
		v, err := s.linkStatus(r.Context(), l)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": out})
}

func (s *Server) loadLink(w http.ResponseWriter, r *http.Request) (ohx.Link, bool) {
	l, err := s.cfg.Store.Link(r.Context(), r.PathValue("id"))
	if errors.Is(err, ohx.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such link")
		return l, false
	}
	if err != nil {
		s.internal(w, r, err)
		return l, false
	}
	return l, true
}

func (s *Server) getLink(w http.ResponseWriter, r *http.Request) {
	l, ok := s.loadLink(w, r)
	if !ok {
		return
	}
	v, err := s.linkStatus(r.Context(), l)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// deleteLink revokes the grant at the provider, unsubscribes webhooks and
// deletes the link with its tokens and cursors. Provider failures are
// reported but do not keep the tokens.
func (s *Server) deleteLink(w http.ResponseWriter, r *http.Request) {
	l, ok := s.loadLink(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := s.providers[l.Provider]
	var warnings []string
	if l.Status == ohx.LinkActive {
		if sub, ok := p.(ohx.Subscriber); ok {
			if err := sub.Unsubscribe(ctx, l); err != nil {
				warnings = append(warnings, "unsubscribe failed: "+ohx.KindOf(err).String())
			}
		}
		if rv, ok := p.(ohx.Revoker); ok {
			if err := rv.Revoke(ctx, l); err != nil {
				warnings = append(warnings, "revoke failed: "+ohx.KindOf(err).String())
			}
		}
	}
	c := store.Change{LinkID: l.ID, Delete: true}
	if err := s.emit(&c, events.LinkDeleted, l, events.Data{Reason: "api"}); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.apply(ctx, c); err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(ctx, "link.delete", zap.String("link_id", l.ID), zap.String("provider", l.Provider), zap.Strings("warnings", warnings))
	writeJSON(w, http.StatusOK, map[string]any{"id": l.ID, "deleted": true, "warnings": warnings})
}

// syncRequest is the body of POST /v1/links/{id}/sync. Retract, with a
// window, also marks entered-in-error the link's resources of the window
// that the current mapping no longer produces (what an earlier release wrote
// under other ids).
type syncRequest struct {
	DataTypes []ohx.DataType `json:"data_types,omitempty"`
	Window    *ohx.Window    `json:"window,omitempty"`
	Retract   bool           `json:"retract,omitempty"`
}

func (s *Server) syncLink(w http.ResponseWriter, r *http.Request) {
	l, ok := s.loadLink(w, r)
	if !ok {
		return
	}
	var req syncRequest
	if r.ContentLength != 0 && !decodeJSON(w, r, &req) {
		return
	}
	if !s.checkBackfill(w, req.Window) {
		return
	}
	if req.Retract && req.Window == nil {
		writeError(w, http.StatusBadRequest, "invalid_job", "retract needs a window")
		return
	}
	var types []ohx.DataType
	for _, t := range req.DataTypes {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	j := ohx.Job{LinkID: l.ID, DataTypes: types, Trigger: ohx.TriggerIncremental}
	if req.Window != nil {
		j.Trigger, j.Window, j.Deletion = ohx.TriggerBackfill, req.Window, req.Retract
	}
	action := "sync.manual"
	if j.Deletion {
		action = "sync.retract"
	}
	s.enqueue(w, r, l, j, action)
}

func (s *Server) syncDevices(w http.ResponseWriter, r *http.Request) {
	l, ok := s.loadLink(w, r)
	if !ok {
		return
	}
	s.enqueue(w, r, l, ohx.Job{LinkID: l.ID, Trigger: ohx.TriggerDeviceSync}, "sync.devices")
}

func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, l ohx.Link, j ohx.Job, action string) {
	if l.Status != ohx.LinkActive {
		writeError(w, http.StatusConflict, "link_not_active", "the link is "+string(l.Status))
		return
	}
	if err := j.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_job", "data types or window are invalid")
		return
	}
	id, err := s.cfg.Queue.Enqueue(r.Context(), j, ohx.EnqueueOptions{NoCoalesce: j.Trigger == ohx.TriggerBackfill})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), action, zap.String("link_id", l.ID), zap.String("job_id", id))
	writeJSON(w, http.StatusAccepted, map[string]string{"job_id": id})
}

// listDevices asks the provider for the link's devices now (ohx stores no
// device data); it answers 502 when the provider fails.
func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	l, ok := s.loadLink(w, r)
	if !ok {
		return
	}
	p, ok := s.providers[l.Provider]
	if !ok || l.Status != ohx.LinkActive {
		writeError(w, http.StatusConflict, "link_not_active", "the link is not active")
		return
	}
	devs, err := p.Devices(r.Context(), l)
	if err != nil {
		writeError(w, http.StatusBadGateway, "provider_error", "the provider failed: "+ohx.KindOf(err).String())
		return
	}
	type deviceView struct {
		ID            string         `json:"id"`
		Kind          ohx.DeviceKind `json:"kind"`
		Manufacturer  string         `json:"manufacturer,omitempty"`
		Model         string         `json:"model,omitempty"`
		Firmware      string         `json:"firmware,omitempty"`
		Battery       *float64       `json:"battery_percent,omitempty"`
		BatteryStatus string         `json:"battery_status,omitempty"`
		LastSync      time.Time      `json:"last_sync,omitzero"`
	}
	out := make([]deviceView, 0, len(devs))
	for _, d := range devs {
		out = append(out, deviceView{ID: d.ID, Kind: d.Kind, Manufacturer: d.Manufacturer, Model: d.Model,
			Firmware: d.Firmware, Battery: d.BatteryPercent, BatteryStatus: d.BatteryStatus, LastSync: d.LastSync})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	rid, _ := r.Context().Value(requestIDKey).(string)
	s.cfg.Logger.Error("internal error", zap.String("request_id", rid), zap.Error(err))
	writeError(w, http.StatusInternalServerError, "internal", "internal error; see the server log for request "+rid)
}

// audit writes one audit record: who (API key id), what, when.
func (s *Server) audit(ctx context.Context, action string, fields ...zap.Field) {
	who := keyIDFrom(ctx)
	if who == "" {
		who = "system"
	}
	s.cfg.Audit.Info(action, append([]zap.Field{zap.String("actor", who), zap.Time("at", s.cfg.Now().UTC())}, fields...)...)
}
