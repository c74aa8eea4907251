package fitbittest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
	"github.com/openhealthexchange/ohx/internal/fakeprovider"
)

// api routes /v4/… requests.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v4/")
	if strings.HasPrefix(path, "projects/") {
		s.subscribersAPI(w, r, path)
		return
	}
	parts := strings.Split(path, "/")
	if len(parts) < 3 || parts[0] != "users" {
		apiError(w, 404, "NOT_FOUND", "Requested entity was not found.")
		return
	}
	op := parts[2]
	if op == "dataTypes" && len(parts) == 5 {
		if strings.HasSuffix(parts[4], ":reconcile") {
			op = "reconcile:" + parts[3]
		} else {
			op = "list:" + parts[3]
		}
	}
	s.count(op)
	if f, ok := s.faults.Next(); ok {
		standardError(w, f.Status, f.RetryAfter)
		return
	}
	g, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	u := g.user
	if parts[1] != "me" && parts[1] != u.HealthUserID {
		apiError(w, 403, "PERMISSION_DENIED", "The caller does not have permission")
		return
	}
	if !s.allow(u) {
		standardError(w, http.StatusTooManyRequests, 0)
		return
	}
	need := func(scope string) bool {
		if slices.Contains(g.scopes, scope) {
			return true
		}
		standardError(w, http.StatusForbidden, 0)
		return false
	}
	switch {
	case r.Method != http.MethodGet:
		apiError(w, 405, "INVALID_ARGUMENT", "Method not allowed.")
	case len(parts) == 3 && parts[2] == "identity":
		writeJSON(w, 200, wire.Identity{Name: "users/me/identity", HealthUserID: u.HealthUserID, LegacyUserID: u.LegacyUserID})
	case len(parts) == 3 && parts[2] == "settings":
		if need(scopePrefix + "settings.readonly") {
			_, off := s.cfg.Now().In(u.loc).Zone()
			d := wire.Duration(time.Duration(off) * time.Second)
			writeJSON(w, 200, wire.Settings{Name: "users/me/settings", TimeZone: u.TimeZone, UTCOffset: &d, WeightUnit: "WEIGHT_UNIT_KILOGRAMS", TemperatureUnit: "TEMPERATURE_UNIT_CELSIUS", DistanceUnit: "DISTANCE_UNIT_KILOMETERS", LanguageLocale: "en-US"})
		}
	case len(parts) == 3 && parts[2] == "pairedDevices":
		if need(scopePrefix + "settings.readonly") {
			s.pairedDevices(w, r, u)
		}
	case len(parts) == 5 && parts[2] == "dataTypes":
		id, reconcile := strings.CutSuffix(parts[4], ":reconcile")
		if id != "dataPoints" {
			apiError(w, 404, "NOT_FOUND", "Requested entity was not found.")
			return
		}
		dt := dataTypes[parts[3]]
		if dt == nil {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid data type ID referenced in the parent data type collection: "+parts[3],
				errorInfo("INVALID_PARENT_DATA_TYPE_COLLECTION", "health.googleapis.com", map[string]string{"dataType": parts[3]}),
				badRequest("parent", fmt.Sprintf("The data type ID '%s' is not supported.", parts[3])))
			return
		}
		if need(dt.scope) {
			s.listPoints(w, r, u, dt, reconcile)
		}
	default:
		apiError(w, 404, "NOT_FOUND", "Requested entity was not found.")
	}
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*grant, bool) {
	tok := fakeprovider.Bearer(r)
	s.mu.Lock()
	a := s.access[tok]
	s.mu.Unlock()
	switch {
	case tok == "":
		missingCredentials(w)
		return nil, false
	case a == nil || a.grant.revoked || !s.cfg.Now().Before(a.expires):
		standardError(w, http.StatusUnauthorized, 0)
		return nil, false
	}
	return a.grant, true
}

// allow counts a request against the user's per-minute quota.
func (s *Server) allow(u *user) bool {
	if s.cfg.RateLimitPerMinute < 0 {
		return true
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.windowStart[u.HealthUserID]) >= time.Minute {
		s.windowStart[u.HealthUserID] = now
		s.windowCount[u.HealthUserID] = 0
	}
	s.windowCount[u.HealthUserID]++
	return s.windowCount[u.HealthUserID] <= s.cfg.RateLimitPerMinute
}

func (s *Server) pairedDevices(w http.ResponseWriter, r *http.Request, u *user) {
	size := 5
	if v, err := strconv.Atoi(r.URL.Query().Get("pageSize")); err == nil && v > 0 {
		size = min(v, 100)
	}
	start := 0
	if t := r.URL.Query().Get("pageToken"); t != "" {
		v, err := strconv.Atoi(t)
		if err != nil || v < 0 || v > len(u.Devices) {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid page token.")
			return
		}
		start = v
	}
	end := min(start+size, len(u.Devices))
	resp := wire.PairedDevicesResponse{PairedDevices: u.Devices[start:end]}
	if end < len(u.Devices) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	writeJSON(w, 200, resp)
}

// pageToken carries the query's fingerprint and where the next page starts
// (points strictly older than Before).
type pageToken struct {
	Query  uint64 `json:"q"`
	Before int64  `json:"b"`
}

func fingerprint(q map[string][]string, reconcile bool, typ string) uint64 {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s|%v|%s|%s|%s", typ, reconcile, strings.Join(q["filter"], ""), strings.Join(q["pageSize"], ""), strings.Join(q["dataSourceFamily"], ""))
	return h.Sum64()
}

var families = []string{"all-sources", "google-wearables", "google-sources", "self-sources"}

// listPoints serves dataPoints.list and dataPoints.reconcile: newest first,
// paged with nextPageToken.
func (s *Server) listPoints(w http.ResponseWriter, r *http.Request, u *user, dt *dataType, reconcile bool) {
	q := r.URL.Query()
	if reconcile && dt.noRecon {
		apiError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Data type '%s' does not support reconciliation.", dt.id))
		return
	}
	family := q.Get("dataSourceFamily")
	if family != "" {
		if !reconcile && dt.noFamily {
			apiError(w, 400, "INVALID_ARGUMENT", fmt.Sprintf("Data source family is not supported for data type '%s'.", dt.id),
				errorInfo("INVALID_DATA_POINT_DATA_SOURCE_FAMILY", "health.googleapis.com", nil))
			return
		}
		f, ok := strings.CutPrefix(family, "users/me/dataSourceFamilies/")
		if !ok {
			f, ok = strings.CutPrefix(family, "users/"+u.HealthUserID+"/dataSourceFamilies/")
		}
		if !ok || !slices.Contains(families, f) {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid data source family: "+family,
				errorInfo("INVALID_DATA_POINT_DATA_SOURCE_FAMILY", "health.googleapis.com", nil))
			return
		}
		family = f
	}
	size := 1440
	if dt.maxPage < size {
		size = dt.maxPage
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid page size.")
			return
		}
		if n > 0 {
			size = min(n, dt.maxPage)
		}
	}
	b, ferr := parseFilter(q.Get("filter"), dt, u.loc)
	if ferr != nil {
		ferr.write(w)
		return
	}
	if !b.lo.IsZero() && !b.hi.IsZero() && !b.hi.After(b.lo) {
		apiError(w, 400, "INVALID_ARGUMENT", "Query end time must be strictly larger than start time")
		return
	}
	fp := fingerprint(q, reconcile, dt.id)
	before := time.Time{}
	if t := q.Get("pageToken"); t != "" {
		raw, err := base64.RawURLEncoding.DecodeString(t)
		var pt pageToken
		if err != nil || json.Unmarshal(raw, &pt) != nil || pt.Query != fp {
			apiError(w, 400, "INVALID_ARGUMENT", "The page token is invalid or the request parameters changed since the previous page.")
			return
		}
		before = time.Unix(0, pt.Before).UTC()
	}
	pg := page{s: s, u: u, dt: dt, reconcile: reconcile}
	if keep := family != "google-wearables" || dt.wearable; keep {
		pg.keys = s.points(u, dt, b, before, size+1)
	}
	if len(pg.keys) > size {
		raw, _ := json.Marshal(pageToken{Query: fp, Before: pg.keys[size-1].UnixNano()})
		pg.keys, pg.next = pg.keys[:size], base64.RawURLEncoding.EncodeToString(raw)
	}
	pg.write(w)
}

// points returns the sort keys of up to limit points of dt inside the
// filter bounds b, older than before (when set), newest first, and no point
// after now; the point of key t is dt.make(s, u, t).
func (s *Server) points(u *user, dt *dataType, b bounds, before time.Time, limit int) []time.Time {
	now := s.cfg.Now().UTC()
	keys := make([]time.Time, 0, min(limit, 1<<14))
	switch {
	case dt.step != nil:
		step := dt.step(s)
		hi := now.Add(time.Nanosecond)
		if !b.hi.IsZero() && b.hi.Before(hi) {
			hi = b.hi
		}
		if !before.IsZero() && before.Before(hi) {
			hi = before
		}
		lo := b.lo
		if lo.IsZero() {
			lo = now.Add(-30 * 24 * time.Hour)
		}
		// Last grid instant strictly before hi.
		t := time.Unix(0, (hi.UnixNano()-1)/int64(step)*int64(step)).UTC()
		for ; !t.Before(lo) && len(keys) < limit; t = t.Add(-step) {
			if dt.present(u, t) {
				keys = append(keys, t)
			}
		}
	case dt.daily:
		// Dates before today (local) whose date lies in the filter.
		today := now.In(u.loc)
		last := time.Date(today.Year(), today.Month(), today.Day()-1, 0, 0, 0, 0, time.UTC)
		if !b.hi.IsZero() && !b.hi.After(last) {
			last = b.hi.AddDate(0, 0, -1)
		}
		first := last.AddDate(0, 0, -90)
		if !b.lo.IsZero() && b.lo.After(first) {
			first = b.lo
		}
		for d := last; !d.Before(first) && len(keys) < limit; d = d.AddDate(0, 0, -1) {
			if !before.IsZero() && !d.Before(before) {
				continue
			}
			keys = append(keys, d)
		}
	default:
		lo, hi := b.lo, b.hi
		if lo.IsZero() {
			lo = now.Add(-30 * 24 * time.Hour)
		}
		if hi.IsZero() || hi.After(now) {
			hi = now.Add(48 * time.Hour)
		}
		// Walk the civil days around the filter range, newest first.
		day := hi.In(u.loc).AddDate(0, 0, 2)
		stop := lo.In(u.loc).AddDate(0, 0, -2)
		for ; !day.Before(stop) && len(keys) < limit; day = day.AddDate(0, 0, -1) {
			evs := dt.events(s, u, day)
			for i := len(evs) - 1; i >= 0; i-- {
				t := evs[i]
				fk := t
				if dt.filterKey != nil {
					fk = dt.filterKey(s, u, t)
				}
				end := t
				if dt.filterKey != nil {
					end = fk
				}
				if fk.Before(b.lo) || (!b.hi.IsZero() && !fk.Before(b.hi)) || end.After(now) {
					continue
				}
				if !before.IsZero() && !t.Before(before) {
					continue
				}
				keys = append(keys, t)
				if len(keys) >= limit {
					break
				}
			}
		}
	}
	return keys
}

// missingCredentials writes Google's 401 for a request without a token.
func missingCredentials(w http.ResponseWriter) {
	apiError(w, 401, "UNAUTHENTICATED", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
		errorInfo("CREDENTIALS_MISSING", "googleapis.com", nil))
}
