package fitbittest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
	"github.com/openhealthexchange/ohx/internal/fakeprovider"
)

// subscriber is a registered webhook endpoint.
type subscriber struct {
	wire.Subscriber
	secret string
}

// RotateKey adds a new signing key and makes it the primary one; the old
// keys stay in the keyset (as Google keeps them during rotation).
func (s *Server) RotateKey() error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("fitbittest: generate key: %w", err)
	}
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("fitbittest: key id: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, &signingKey{id: binary.BigEndian.Uint32(id[:]) | 1, priv: priv})
	return nil
}

// keyset serves the public keys in Tink JSON form.
func (s *Server) keyset(w http.ResponseWriter, _ *http.Request) {
	s.count("keyset")
	s.mu.Lock()
	keys := slices.Clone(s.keys)
	s.mu.Unlock()
	type keyData struct {
		TypeURL         string `json:"typeUrl"`
		Value           string `json:"value"`
		KeyMaterialType string `json:"keyMaterialType"`
	}
	type key struct {
		KeyData          keyData `json:"keyData"`
		Status           string  `json:"status"`
		KeyID            uint32  `json:"keyId"`
		OutputPrefixType string  `json:"outputPrefixType"`
	}
	out := struct {
		PrimaryKeyID uint32 `json:"primaryKeyId"`
		Key          []key  `json:"key"`
	}{PrimaryKeyID: keys[len(keys)-1].id}
	for _, k := range keys {
		out.Key = append(out.Key, key{
			KeyData:          keyData{TypeURL: "type.googleapis.com/google.crypto.tink.EcdsaPublicKey", Value: base64.StdEncoding.EncodeToString(tinkPublicKey(&k.priv.PublicKey)), KeyMaterialType: "ASYMMETRIC_PUBLIC"},
			Status:           "ENABLED",
			KeyID:            k.id,
			OutputPrefixType: "TINK",
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// tinkPublicKey serializes an EcdsaPublicKey proto: params {hash SHA256,
// curve NIST_P256, encoding DER}, x, y (big-endian with a leading zero byte,
// as Tink writes them).
func tinkPublicKey(pub *ecdsa.PublicKey) []byte {
	field := func(b []byte, num int, v []byte) []byte {
		b = binary.AppendUvarint(b, uint64(num<<3|2))
		b = binary.AppendUvarint(b, uint64(len(v)))
		return append(b, v...)
	}
	// Varint fields 1, 2, 3 of EcdsaParams: tags 0x08, 0x10, 0x18.
	params := []byte{0x08, 3, 0x10, 2, 0x18, 2}
	point, err := pub.Bytes() // 0x04 ‖ X ‖ Y, 32 bytes each
	if err != nil || len(point) != 65 {
		return nil
	}
	coord := func(c []byte) []byte { return append([]byte{0}, c...) }
	var b []byte
	b = field(b, 2, params)
	b = field(b, 3, coord(point[1:33]))
	b = field(b, 4, coord(point[33:]))
	return b
}

// Sign returns the signature header value of body with the primary key:
// base64(0x01 ‖ key id ‖ DER ECDSA P-256 SHA-256 signature).
func (s *Server) Sign(body []byte) (string, error) {
	s.mu.Lock()
	k := s.keys[len(s.keys)-1]
	s.mu.Unlock()
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	if err != nil {
		return "", fmt.Errorf("fitbittest: sign: %w", err)
	}
	raw := make([]byte, 5, 5+len(sig))
	raw[0] = 0x01
	binary.BigEndian.PutUint32(raw[1:], k.id)
	return base64.StdEncoding.EncodeToString(append(raw, sig...)), nil
}

// Notification describes a notification the fake sends.
type Notification struct {
	// HealthUserID names the user.
	HealthUserID string
	// DataType is the kebab-case data type ("steps").
	DataType string
	// Operation is "UPSERT" (default) or "DELETE".
	Operation string
	// Start and End bound the changed data.
	Start, End time.Time
}

// NotificationBody returns the JSON body Google sends for n (the documented
// shape, with physical, civil and ISO-8601 civil intervals).
func (s *Server) NotificationBody(n Notification) ([]byte, error) {
	s.mu.Lock()
	var u *user
	for _, c := range s.users {
		if c.HealthUserID == n.HealthUserID {
			u = c
		}
	}
	s.mu.Unlock()
	if u == nil {
		return nil, errors.New("fitbittest: unknown user")
	}
	op := n.Operation
	if op == "" {
		op = "UPSERT"
	}
	ls, le := n.Start.In(u.loc), n.End.In(u.loc)
	body := map[string]any{"data": map[string]any{
		"version": "1", "clientProvidedSubscriptionName": fakeprovider.RandomID(16), "healthUserId": u.HealthUserID,
		"operation": op, "dataType": n.DataType,
		"intervals": []any{map[string]any{
			"physicalTimeInterval":     map[string]string{"startTime": n.Start.UTC().Format(time.RFC3339), "endTime": n.End.UTC().Format(time.RFC3339)},
			"civilDateTimeInterval":    map[string]any{"startDateTime": wire.Civil(ls), "endDateTime": wire.Civil(le)},
			"civilIso8601TimeInterval": map[string]string{"startTime": ls.Format("2006-01-02T15:04:05"), "endTime": le.Format("2006-01-02T15:04:05")},
		}},
	}}
	return json.Marshal(body)
}

// Deliver posts body to endpoint as Google does: with the Authorization
// secret (when not empty) and, when signed, the signature header. It returns
// the endpoint's status.
func (s *Server) Deliver(ctx context.Context, endpoint, secret string, body []byte, signed bool) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("fitbittest: deliver: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Google-Health-API-Webhooks")
	if secret != "" {
		req.Header.Set("Authorization", secret)
	}
	if signed {
		sig, err := s.Sign(body)
		if err != nil {
			return 0, err
		}
		req.Header.Set("GOOGLE-HEALTH-API-SIGNATURE", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fitbittest: deliver: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// Notify sends n, signed, to every active subscriber whose configuration
// includes its data type, and returns the endpoints' statuses.
func (s *Server) Notify(ctx context.Context, n Notification) ([]int, error) {
	body, err := s.NotificationBody(n)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	var subs []*subscriber
	for _, sub := range s.subscribers {
		if sub.State != "ACTIVE" {
			continue
		}
		for _, c := range sub.SubscriberConfigs {
			if slices.Contains(c.DataTypes, n.DataType) {
				subs = append(subs, sub)
				break
			}
		}
	}
	s.mu.Unlock()
	var out []int
	for _, sub := range subs {
		st, err := s.Deliver(ctx, sub.EndpointURI, sub.secret, body, true)
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}

// verify runs Google's verification handshake against an endpoint: with the
// secret it must answer 200 or 201, without it 401 or 403.
func verify(ctx context.Context, endpoint, secret string) bool {
	post := func(auth string) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(`{"type":"verification"}`))
		if err != nil {
			return 0
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Google-Health-API-Webhooks-Verifier")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	with, without := post(secret), post("")
	return (with == 200 || with == 201) && (without == 401 || without == 403)
}

// ProjectClient returns an HTTP client that carries project credentials (a
// bearer token) for the fake's projects.subscribers API, standing in for a
// service account's client; use it with fitbit.Subscribers.
func (s *Server) ProjectClient() *http.Client {
	return &http.Client{Transport: projectTransport{base: s.srv.Client().Transport}}
}

type projectTransport struct{ base http.RoundTripper }

func (p projectTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer fitbittest-project-credentials")
	return p.base.RoundTrip(r)
}

// subscribersAPI serves projects/{p}/subscribers[/{id}]. Any bearer token is
// taken as project credentials; a request without one gets 401.
func (s *Server) subscribersAPI(w http.ResponseWriter, r *http.Request, path string) {
	s.count("subscribers")
	if fakeprovider.Bearer(r) == "" {
		missingCredentials(w)
		return
	}
	parts := strings.Split(path, "/")
	if len(parts) < 3 || parts[2] != "subscribers" || len(parts) > 4 {
		apiError(w, 404, "NOT_FOUND", "Requested entity was not found.")
		return
	}
	parent := parts[0] + "/" + parts[1]
	for _, c := range parts[1] {
		if c < '0' || c > '9' {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid project number in resource name")
			return
		}
	}
	switch {
	case r.Method == http.MethodPost && len(parts) == 3:
		id := r.URL.Query().Get("subscriberId")
		var sub wire.Subscriber
		if id == "" || json.NewDecoder(r.Body).Decode(&sub) != nil || sub.EndpointURI == "" || sub.EndpointAuthorization == nil {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid subscriber.")
			return
		}
		name := parent + "/subscribers/" + id
		s.mu.Lock()
		_, exists := s.subscribers[name]
		s.mu.Unlock()
		if exists {
			apiError(w, 409, "ALREADY_EXISTS", "Subscriber already exists.")
			return
		}
		if !verify(r.Context(), sub.EndpointURI, sub.EndpointAuthorization.Secret) {
			apiError(w, 400, "FAILED_PRECONDITION", "Endpoint verification failed.")
			return
		}
		now := s.cfg.Now().UTC()
		ns := &subscriber{secret: sub.EndpointAuthorization.Secret, Subscriber: wire.Subscriber{
			Name: name, EndpointURI: sub.EndpointURI, SubscriberConfigs: sub.SubscriberConfigs, State: "ACTIVE",
			EndpointAuthorization: &wire.EndpointAuthorization{SecretSet: true}, CreateTime: &now, UpdateTime: &now,
		}}
		s.mu.Lock()
		s.subscribers[name] = ns
		s.mu.Unlock()
		writeJSON(w, 200, ns.Subscriber)
	case r.Method == http.MethodGet && len(parts) == 3:
		s.mu.Lock()
		resp := wire.SubscribersResponse{Subscribers: []wire.Subscriber{}}
		for name, sub := range s.subscribers {
			if strings.HasPrefix(name, parent+"/") {
				resp.Subscribers = append(resp.Subscribers, sub.Subscriber)
			}
		}
		s.mu.Unlock()
		slices.SortFunc(resp.Subscribers, func(a, b wire.Subscriber) int { return strings.Compare(a.Name, b.Name) })
		resp.TotalSize = len(resp.Subscribers)
		writeJSON(w, 200, resp)
	case r.Method == http.MethodPatch && len(parts) == 4:
		name := path
		var patch wire.Subscriber
		if json.NewDecoder(r.Body).Decode(&patch) != nil {
			apiError(w, 400, "INVALID_ARGUMENT", "Invalid subscriber.")
			return
		}
		s.mu.Lock()
		sub := s.subscribers[name]
		s.mu.Unlock()
		if sub == nil {
			apiError(w, 404, "NOT_FOUND", "Subscriber not found.")
			return
		}
		mask := strings.Split(r.URL.Query().Get("updateMask"), ",")
		endpoint, secret := sub.EndpointURI, sub.secret
		if slices.Contains(mask, "endpointUri") {
			endpoint = patch.EndpointURI
		}
		if slices.Contains(mask, "endpointAuthorization") && patch.EndpointAuthorization != nil {
			secret = patch.EndpointAuthorization.Secret
		}
		if (endpoint != sub.EndpointURI || secret != sub.secret) && !verify(r.Context(), endpoint, secret) {
			apiError(w, 400, "FAILED_PRECONDITION", "Endpoint verification failed.")
			return
		}
		s.mu.Lock()
		sub.EndpointURI, sub.secret = endpoint, secret
		if slices.Contains(mask, "subscriberConfigs") {
			sub.SubscriberConfigs = patch.SubscriberConfigs
		}
		now := s.cfg.Now().UTC()
		sub.UpdateTime = &now
		out := sub.Subscriber
		s.mu.Unlock()
		writeJSON(w, 200, out)
	case r.Method == http.MethodDelete && len(parts) == 4:
		s.mu.Lock()
		_, ok := s.subscribers[path]
		delete(s.subscribers, path)
		s.mu.Unlock()
		if !ok {
			apiError(w, 404, "NOT_FOUND", "Subscriber not found.")
			return
		}
		writeJSON(w, 200, map[string]any{})
	default:
		apiError(w, 405, "INVALID_ARGUMENT", "Method not allowed.")
	}
}
