package ouratest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/internal/fakeprovider"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
)

// maxHeartRateSpan is the longest heartrate window the fake answers; Oura
// fails longer ones (the status and body are assumed).
const maxHeartRateSpan = 30 * 24 * time.Hour

// collectionScopes says which scope each collection needs; personal_info
// needs none for its id.
var collectionScopes = map[string]string{
	"heartrate": "heartrate", "sleep": "daily", "daily_activity": "daily", "daily_readiness": "daily",
	"daily_sleep": "daily", "daily_spo2": "spo2", "daily_stress": "stress", "daily_resilience": "stress",
	"vO2_max": "heart_health", "daily_cardiovascular_age": "heart_health", "workout": "workout",
	"ring_configuration": "ring_configuration", "personal_info": "",
}

// doc is one document of a day-indexed collection with the time Oura's date
// filter compares.
type doc struct {
	id     string
	filter time.Time // compared as local wall-clock time
	ready  time.Time // exists once now reaches it
	body   any
}

// docs returns the documents of collection c filed under u's day d.
func (s *Server) docs(u *user, c string, d wire.Date) []doc {
	dd := s.day(u, d)
	mid := d.In(u.loc)
	switch c {
	case "sleep":
		out := make([]doc, 0, len(dd.sleeps))
		for i := range dd.sleeps {
			sl := &dd.sleeps[i]
			out = append(out, doc{sl.ID, sl.BedtimeStart.Time, sl.BedtimeEnd.Time, sl})
		}
		return out
	case "daily_activity":
		return []doc{{dd.activity.ID, dd.activity.Timestamp.Time, dd.activity.Timestamp.Time, &dd.activity}}
	case "daily_readiness":
		return []doc{{dd.readiness.ID, dd.readiness.Timestamp.Time, dd.readyAt, &dd.readiness}}
	case "daily_sleep":
		return []doc{{dd.dailySleep.ID, dd.dailySleep.Timestamp.Time, dd.readyAt, &dd.dailySleep}}
	case "daily_spo2":
		return []doc{{dd.spo2.ID, mid, dd.readyAt, &dd.spo2}}
	case "daily_stress":
		return []doc{{dd.stress.ID, mid, dd.endOfDay, &dd.stress}}
	case "daily_resilience":
		return []doc{{dd.resilience.ID, mid, dd.endOfDay, &dd.resilience}}
	case "daily_cardiovascular_age":
		return []doc{{dd.cvAge.ID, mid, dd.readyAt, &dd.cvAge}}
	case "vO2_max":
		if dd.vo2 == nil {
			return nil
		}
		return []doc{{dd.vo2.ID, dd.vo2.Timestamp.Time, dd.vo2.Timestamp.Time, dd.vo2}}
	case "workout":
		return []doc{{dd.workout.ID, dd.workout.StartDatetime.Time, dd.workout.EndDatetime.Time, &dd.workout}}
	}
	return nil
}

// wall returns t's wall-clock reading as a zone-less instant (in UTC), the
// way Oura's date filters compare.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// collection serves GET /v2/usercollection/{type}[/{id}].
func (s *Server) collection(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/usercollection/")
	name, id, _ := strings.Cut(rest, "/")
	s.count(name)
	s.mu.Lock()
	s.queries[name] = r.URL.Query()
	s.mu.Unlock()
	if f, ok := s.faults.Next(); ok {
		s.standardError(w, f)
		return
	}
	g, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	scope, known := collectionScopes[name]
	if !known {
		detail(w, http.StatusNotFound, "Not Found")
		return
	}
	if scope != "" && !slices.Contains(g.scopes, scope) {
		// Quoted from a real answer (daily_resilience without stress).
		detail(w, http.StatusUnauthorized, fmt.Sprintf("Token is not authorized access %s scope.", scope))
		return
	}
	u := g.user
	switch {
	case name == "personal_info":
		s.personalInfo(w, u, g)
	case name == "ring_configuration":
		rings := make([]any, 0, len(u.Rings))
		for _, rg := range u.Rings {
			size := float64(rg.Size)
			rings = append(rings, wire.RingConfiguration{ID: rg.ID, Color: &rg.Color, Design: &rg.Design, FirmwareVersion: &rg.Firmware,
				HardwareType: &rg.HardwareType, SetUpAt: wire.Time{Time: rg.SetUpAt}, Size: &size})
		}
		s.page(w, r, rings, s.cfg.PageSize)
	case id != "":
		s.byID(w, u, name, id)
	case name == "heartrate":
		s.heartRate(w, r, u)
	default:
		s.daily(w, r, u, name)
	}
}

// authenticate checks the bearer token and the token's rate limit.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*grant, bool) {
	tok := fakeprovider.Bearer(r)
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.access[tok]
	if a == nil || a.grant.revoked || !now.Before(a.expires) {
		detail(w, http.StatusUnauthorized, "Invalid or expired token.")
		return nil, false
	}
	if s.cfg.RateLimit > 0 {
		times := s.requests[tok]
		cut := now.Add(-s.cfg.RateLimitWindow)
		i := 0
		for i < len(times) && !times[i].After(cut) {
			i++
		}
		times = times[i:]
		if len(times) >= s.cfg.RateLimit {
			s.requests[tok] = times
			s.rateLimitHeaders(w, times[0].Add(s.cfg.RateLimitWindow))
			detail(w, http.StatusTooManyRequests, "Too many requests.")
			return nil, false
		}
		s.requests[tok] = append(times, now)
	}
	return a.grant, true
}

func (s *Server) personalInfo(w http.ResponseWriter, u *user, g *grant) {
	info := wire.PersonalInfo{ID: u.ID}
	if slices.Contains(g.scopes, "personal") {
		info.Age, info.Weight, info.Height, info.BiologicalSex = f(42), f(80.5), f(1.8), str("female")
	}
	if slices.Contains(g.scopes, "email") {
		info.Email = str(u.ID + "@example.com")
	}
	writeJSON(w, http.StatusOK, info)
}

// byID answers one document, or 404 "Document not found.".
func (s *Server) byID(w http.ResponseWriter, u *user, name, id string) {
	now := s.cfg.Now()
	today := wire.DateOf(now.In(u.loc))
	for d, n := today.AddDays(1), 0; n < 400; d, n = d.AddDays(-1), n+1 {
		for _, dc := range s.docs(u, name, d) {
			if dc.id == id && !dc.ready.After(now) {
				writeJSON(w, http.StatusOK, dc.body)
				return
			}
		}
	}
	detail(w, http.StatusNotFound, "Document not found.")
}

// bound parses a start_date/end_date value (a date, or a date-time read in
// the user's zone) as a wall-clock time. ok is false for a malformed one.
func bound(v string, loc *time.Location) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return wall(t.In(loc)), true
	}
	return time.Time{}, false
}

// daily answers a day-indexed collection with the filter Oura was seen to
// apply: each document's filter time (its timestamp, bedtime_start or day)
// is compared as wall-clock time with the bounds, a date meaning 00:00, both
// ends included. So a daily_activity (timestamp 04:00) of end_date's day is
// left out while a daily_readiness (timestamp 00:00) is in, and a sleep
// period that began the evening before start_date is left out. Defaults:
// end_date today, start_date the day before end_date.
func (s *Server) daily(w http.ResponseWriter, r *http.Request, u *user, name string) {
	q := r.URL.Query()
	now := s.cfg.Now()
	end := wall(now.In(u.loc)).Truncate(24 * time.Hour)
	if v := q.Get("end_date"); v != "" {
		var ok bool
		if end, ok = bound(v, u.loc); !ok {
			validation(w, "end_date", v)
			return
		}
	}
	start := end.AddDate(0, 0, -1)
	if v := q.Get("start_date"); v != "" {
		var ok bool
		if start, ok = bound(v, u.loc); !ok {
			validation(w, "start_date", v)
			return
		}
	}
	var out []any
	if !end.Before(start) && end.Sub(start) <= 3*366*24*time.Hour {
		// Documents filed a day either side can match the wall-clock filter.
		first := wire.DateOf(start).AddDays(-1)
		last := wire.DateOf(end).AddDays(1)
		for d := first; d.Compare(last) <= 0; d = d.AddDays(1) {
			for _, dc := range s.docs(u, name, d) {
				ft := wall(dc.filter)
				if dc.ready.After(now) || ft.Before(start) || ft.After(end) {
					continue
				}
				out = append(out, dc.body)
			}
		}
	}
	s.page(w, r, out, s.cfg.PageSize)
}

// heartRate answers heartrate over [start_datetime, end_datetime] (both
// included); no window means the last 24 hours, more than 30 days is
// refused.
func (s *Server) heartRate(w http.ResponseWriter, r *http.Request, u *user) {
	q := r.URL.Query()
	now := s.cfg.Now()
	end, start := now, now.Add(-24*time.Hour)
	if v := q.Get("end_datetime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			validation(w, "end_datetime", v)
			return
		}
		end = t
		if q.Get("start_datetime") == "" {
			start = end.Add(-24 * time.Hour)
		}
	}
	if v := q.Get("start_datetime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			validation(w, "start_datetime", v)
			return
		}
		start = t
	}
	if end.Sub(start) > maxHeartRateSpan {
		detail(w, http.StatusBadRequest, "The time range cannot exceed 30 days.")
		return
	}
	rows := s.heartRates(u, start, end, now)
	out := make([]any, len(rows))
	for i := range rows {
		out[i] = rows[i]
	}
	s.page(w, r, out, s.cfg.HeartRatePageSize)
}

// page answers one page of items, with a next_token bound to the query.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any, size int) {
	q := r.URL.Query()
	token := q.Get("next_token")
	q.Del("next_token")
	sum := sha256.Sum256([]byte(r.URL.Path + "?" + q.Encode()))
	bind := hex.EncodeToString(sum[:6])
	offset := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		parts := strings.SplitN(string(raw), ":", 2)
		n, nerr := 0, error(nil)
		if len(parts) == 2 {
			n, nerr = strconv.Atoi(parts[0])
		}
		if err != nil || len(parts) != 2 || nerr != nil || parts[1] != bind || n < 0 || n > len(items) {
			detail(w, http.StatusBadRequest, "Invalid next_token.")
			return
		}
		offset = n
	}
	endAt := min(offset+size, len(items))
	body := struct {
		Data      []any   `json:"data"`
		NextToken *string `json:"next_token"`
	}{Data: items[offset:endAt]}
	if body.Data == nil {
		body.Data = []any{}
	}
	if endAt < len(items) {
		next := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(endAt) + ":" + bind))
		body.NextToken = &next
	}
	writeJSON(w, http.StatusOK, body)
}
