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
	if err != nil || u.User != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return false
	}
	for _, a := range s.allow {
		if u.Scheme == a.Scheme && strings.EqualFold(u.Host, a.Host) && strings.HasPrefix(u.EscapedPath(), a.EscapedPath()) {
			return true
		}
	}
	return false
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
	auth, ok := p.(ohx.Authorizer)
	if !ok {
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
	types := req.DataTypes
	for _, t := range types {
		if !slices.Contains(offered, t) {
			writeError(w, http.StatusBadRequest, "invalid_data_type", "a data type is unknown or not offered by the provider")
			return
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
	nonce, err := newNonce()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	st := oauthState{LinkID: id, Provider: req.Provider, Nonce: nonce,
		Expires: s.cfg.Now().Add(s.cfg.StateTTL).Unix(), Success: req.SuccessURL, Failure: req.ErrorURL}
	signed, err := s.state.sign(st)
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
	s.audit(r.Context(), "link.create", zap.String("link_id", id), zap.String("provider", req.Provider))
	writeJSON(w, http.StatusCreated, map[string]string{
		"id":            id,
		"authorize_url": auth.AuthCodeURL(signed, s.state.verifier(st), types),
	})
}

// callback completes the OAuth flow. It never echoes the code or token; an
// error redirects to the link's error URL with a short error code.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	provider := r.PathValue("provider")
	q := r.URL.Query()
	st, err := s.state.verify(q.Get("state"), s.cfg.Now())
	if err != nil || st.Provider != provider {
		s.cfg.Logger.Warn("oauth callback with an invalid state", zap.String("provider", provider), zap.Error(err))
		writeError(w, http.StatusBadRequest, "invalid_state", "the OAuth state is invalid or expired")
		return
	}
	fail := func(code string, err error) {
		s.cfg.Logger.Warn("oauth callback failed", zap.String("link_id", st.LinkID), zap.String("provider", provider),
			zap.String("error_code", code), zap.Error(err))
		http.Redirect(w, r, withQuery(st.Failure, "error", code, "link_id", st.LinkID), http.StatusFound)
	}
	link, err := s.cfg.Store.Link(ctx, st.LinkID)
	if err != nil || link.Provider != provider || link.Status != ohx.LinkPending {
		fail("link_not_pending", err)
		return
	}
	if e := q.Get("error"); e != "" {
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
	if err := s.cfg.Store.SaveLink(ctx, link); err != nil {
		fail("store_failed", err)
		return
	}
	s.notified.forget(link)
	s.audit(ctx, "link.activate", zap.String("link_id", link.ID), zap.String("provider", provider))
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
	http.Redirect(w, r, withQuery(st.Success, "link_id", link.ID), http.StatusFound)
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

// linkView is a link as the API shows it.
type linkView struct {
	ID             string                    `json:"id"`
	Provider       string                    `json:"provider"`
	Patient        string                    `json:"patient"`
	Status         ohx.LinkStatus            `json:"status"`
	DataTypes      []ohx.DataType            `json:"data_types"`
	Scopes         []string                  `json:"scopes,omitempty"`
	TimeZone       string                    `json:"time_zone,omitempty"`
	Frequency      ohx.SyncFrequency         `json:"frequency,omitempty"`
	ExternalUserID string                    `json:"external_user_id,omitempty"`
	Created        time.Time                 `json:"created"`
	Updated        time.Time                 `json:"updated"`
	Cursors        map[ohx.DataType]string   `json:"cursors,omitempty"`
	Sync           map[ohx.DataType]syncView `json:"sync,omitempty"`
}

// syncView is the sync bookkeeping of one (link, data type).
type syncView struct {
	LastAttempt         time.Time `json:"last_attempt,omitzero"`
	LastSuccess         time.Time `json:"last_success,omitzero"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	LastErrorKind       string    `json:"last_error_kind,omitempty"`
	LastError           string    `json:"last_error,omitempty"`
	Successes           int64     `json:"successes"`
	Failures            int64     `json:"failures"`
	ConsecutiveFailures int64     `json:"consecutive_failures"`
	Resources           int64     `json:"resources"`
}

func view(l ohx.Link) linkView {
	return linkView{ID: l.ID, Provider: l.Provider, Patient: l.Patient, Status: l.Status, DataTypes: l.DataTypes,
		Scopes: l.Scopes, TimeZone: l.TimeZone, Frequency: l.Frequency, ExternalUserID: l.ExternalUserID,
		Created: l.Created, Updated: l.Updated}
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
		out = append(out, view(l))
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
	v := view(l)
	cursors, err := s.cfg.Store.Cursors(r.Context(), l.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if len(cursors) > 0 {
		v.Cursors = map[ohx.DataType]string{}
		for t, c := range cursors {
			v.Cursors[t] = c.UTC().Format(time.RFC3339)
		}
	}
	if sr, ok := s.cfg.Store.(store.SyncStatusStore); ok {
		st, err := sr.SyncStatus(r.Context(), l.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if len(st) > 0 {
			v.Sync = map[ohx.DataType]syncView{}
		}
		for t, x := range st {
			v.Sync[t] = syncView{LastAttempt: x.LastAttempt, LastSuccess: x.LastSuccess, LastErrorAt: x.LastErrorAt,
				LastErrorKind: x.LastErrorKind, LastError: x.LastError, Successes: x.Successes, Failures: x.Failures,
				ConsecutiveFailures: x.ConsecutiveFailures, Resources: x.Items}
		}
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
	if err := s.cfg.Store.DeleteLink(ctx, l.ID); err != nil {
		s.internal(w, r, err)
		return
	}
	s.notified.forget(l)
	s.audit(ctx, "link.delete", zap.String("link_id", l.ID), zap.String("provider", l.Provider), zap.Strings("warnings", warnings))
	writeJSON(w, http.StatusOK, map[string]any{"id": l.ID, "deleted": true, "warnings": warnings})
}

// syncRequest is the body of POST /v1/links/{id}/sync.
type syncRequest struct {
	DataTypes []ohx.DataType `json:"data_types,omitempty"`
	Window    *ohx.Window    `json:"window,omitempty"`
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
	j := ohx.Job{LinkID: l.ID, DataTypes: req.DataTypes, Trigger: ohx.TriggerIncremental}
	if req.Window != nil {
		j.Trigger, j.Window = ohx.TriggerBackfill, req.Window
	}
	s.enqueue(w, r, l, j, "sync.manual")
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
