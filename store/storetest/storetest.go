package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/seal"
)

// Config is what the suite hands a Factory: the store under test must read
// its time from Clock and seal tokens with Ring (if it seals at all).
type Config struct {
	// Clock is the time source the store must use.
	Clock *Clock
	// Ring is the key ring the store must seal with.
	Ring *seal.KeyRing
}

// Harness is one fresh, empty store under test plus the optional hooks some
// tests need. The factory registers its cleanup with t.Cleanup.
type Harness struct {
	// Store is the store under test.
	Store store.Store
	// Replica opens another instance over the same data, as a second
	// process or replica would; nil means the suite uses Store again.
	Replica func(t testing.TB) store.Store
	// Reopen opens another instance over the same data that seals with
	// ring and implements store.Rewrapper; nil skips the rotation test.
	Reopen func(t testing.TB, ring *seal.KeyRing) store.Store
	// RawToken reads a link's token as stored, sealed; nil skips the
	// sealing tests.
	RawToken func(t testing.TB, linkID string) store.SealedToken
	// SetRawToken overwrites a link's stored token with s, bypassing
	// sealing; nil skips the swapped-ciphertext test.
	SetRawToken func(t testing.TB, linkID string, s store.SealedToken)
}

// Factory returns a fresh, empty store for one test.
type Factory func(t testing.TB, cfg Config) Harness

// TestKeys returns the fixed keys the suite seals with: the first is the
// primary of Config.Ring; the second is the key the rotation test rotates
// to. Each call returns new keys.
func TestKeys() []seal.Key {
	return []seal.Key{
		{ID: "test-a", Secret: []byte("0123456789abcdef0123456789abcdef")},
		{ID: "test-b", Secret: []byte("fedcba9876543210fedcba9876543210")},
	}
}

func newRing(t testing.TB, keys ...seal.Key) *seal.KeyRing {
	t.Helper()
	r, err := seal.NewKeyRing(keys...)
	require.NoError(t, err)
	return r
}

func setup(t testing.TB, f Factory) (Harness, *Clock) {
	t.Helper()
	c := &Clock{}
	h := f(t, Config{Clock: c, Ring: newRing(t, TestKeys()[0])})
	require.NotNil(t, h.Store, "factory returned no store")
	return h, c
}

func (h Harness) replica(t testing.TB) store.Store {
	if h.Replica == nil {
		return h.Store
	}
	return h.Replica(t)
}

// Run runs the whole conformance suite against stores made by f.
func Run(t *testing.T, f Factory) {
	t.Run("Links", func(t *testing.T) { testLinks(t, f) })
	t.Run("LinkLookups", func(t *testing.T) { testLookups(t, f) })
	t.Run("LinkListing", func(t *testing.T) { testListing(t, f) })
	t.Run("DeleteLink", func(t *testing.T) { testDelete(t, f) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, f) })
	t.Run("TokensSealedAtRest", func(t *testing.T) { testSealedAtRest(t, f) })
	t.Run("SwappedCiphertextFails", func(t *testing.T) { testSwapped(t, f) })
	t.Run("RotationAndRewrap", func(t *testing.T) { testRotation(t, f) })
	t.Run("Cursors", func(t *testing.T) { testCursors(t, f) })
	t.Run("SyncStatus", func(t *testing.T) { testSyncStatus(t, f) })
	t.Run("Locker", func(t *testing.T) {
		RunLocker(t, func(t testing.TB) LockerHarness {
			h, c := setup(t, f)
			return LockerHarness{Locker: h.Store, Other: h.replica(t), Advance: c.Advance}
		})
	})
	t.Run("RefreshRace", func(t *testing.T) { testRefreshRace(t, f) })
	RunConsent(t, f)
	t.Run("InitialSync", func(t *testing.T) { testInitialSync(t, f) })
	t.Run("Changes", func(t *testing.T) { testChanges(t, f) })
	t.Run("ChangeIsAtomic", func(t *testing.T) { testChangeAtomic(t, f) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, f) })
	t.Run("OutboxClaimsAreExclusive", func(t *testing.T) { testOutboxClaims(t, f) })
}

func sampleLink(id string) ohx.Link {
	return ohx.Link{
		ID:             id,
		Provider:       "withings",
		ExternalUserID: "ext-" + id,
		LegacyUserID:   "legacy-" + id,
		Patient:        "Patient/" + id,
		Scopes:         []string{"user.metrics", "user.activity"},
		DataTypes:      []ohx.DataType{ohx.DataType("heart-rate"), ohx.DataType("weight")},
		TimeZone:       "Europe/Paris",
		Frequency:      ohx.SyncHourly,
		Status:         ohx.LinkActive,
	}
}

func testLinks(t *testing.T, f Factory) {
	h, clock := setup(t, f)
	s := h.Store
	ctx := t.Context()

	_, err := s.Link(ctx, "missing")
	require.ErrorIs(t, err, ohx.ErrNotFound)
	require.Error(t, s.SaveLink(ctx, ohx.Link{}), "a link without id is refused")

	l := sampleLink("l1")
	require.NoError(t, s.SaveLink(ctx, l))
	got, err := s.Link(ctx, "l1")
	require.NoError(t, err)
	want := l
	want.Created, want.Updated = clock.Now(), clock.Now()
	assertLink(t, want, got)

	// Update: Created stays, Updated moves, fields are replaced, empty slices
	// come back nil.
	clock.Advance(time.Hour)
	l.Status = ohx.LinkNeedsReconsent
	l.Scopes = nil
	l.DataTypes = []ohx.DataType{}
	l.TimeZone = ""
	l.Created = time.Time{}
	require.NoError(t, s.SaveLink(ctx, l))
	got, err = s.Link(ctx, "l1")
	require.NoError(t, err)
	want = l
	want.DataTypes = nil
	want.Created, want.Updated = storetestStart(), clock.Now()
	assertLink(t, want, got)

	// The store returns copies.
	got.Scopes = append(got.Scopes, "mutated")
	again, err := s.Link(ctx, "l1")
	require.NoError(t, err)
	assert.Empty(t, again.Scopes)

	// A caller-chosen creation time of a new link is kept.
	created := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	l2 := sampleLink("l2")
	l2.Created = created
	require.NoError(t, s.SaveLink(ctx, l2))
	got, err = s.Link(ctx, "l2")
	require.NoError(t, err)
	assert.True(t, created.Equal(got.Created), "created %v", got.Created)

	// A replica sees the same data.
	got, err = h.replica(t).Link(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkNeedsReconsent, got.Status)
}

func storetestStart() time.Time { return Start }

func assertLink(t testing.TB, want, got ohx.Link) {
	t.Helper()
	assert.True(t, want.Created.Equal(got.Created), "Created: want %v, got %v", want.Created, got.Created)
	assert.True(t, want.Updated.Equal(got.Updated), "Updated: want %v, got %v", want.Updated, got.Updated)
	assert.Equal(t, time.UTC, got.Created.Location())
	want.Created, want.Updated, got.Created, got.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, want, got)
}

func testLookups(t *testing.T, f Factory) {
	h, clock := setup(t, f)
	s := h.Store
	ctx := t.Context()

	a := sampleLink("a")
	a.ExternalUserID = "u1"
	a.Patient = "Patient/p1"
	b := sampleLink("b")
	b.Provider = "fitbit"
	b.ExternalUserID = "u1" // same id at another provider
	b.Patient = "Patient/p1"
	c := sampleLink("c")
	c.ExternalUserID = "u2"
	c.Patient = "Patient/p2"
	for _, l := range []ohx.Link{c, b, a} {
		require.NoError(t, s.SaveLink(ctx, l))
	}

	tests := []struct {
		provider, ext string
		want          string
	}{
		{"withings", "u1", "a"},
		{"fitbit", "u1", "b"},
		{"withings", "u2", "c"},
		{"fitbit", "u2", ""},
		{"withings", "nobody", ""},
		{"withings", "", ""},
	}
	for _, tt := range tests {
		got, err := s.LinkByExternalUser(ctx, tt.provider, tt.ext)
		if tt.want == "" {
			assert.ErrorIs(t, err, ohx.ErrNotFound, "%s/%s", tt.provider, tt.ext)
			continue
		}
		if assert.NoError(t, err, "%s/%s", tt.provider, tt.ext) {
			assert.Equal(t, tt.want, got.ID, "%s/%s", tt.provider, tt.ext)
		}
	}

	// A user linked again: the active link wins over a revoked one even if
	// that one was updated later; among active links the latest wins.
	clock.Advance(time.Minute)
	a2 := sampleLink("a2")
	a2.ExternalUserID = "u1"
	require.NoError(t, s.SaveLink(ctx, a2))
	got, err := s.LinkByExternalUser(ctx, "withings", "u1")
	require.NoError(t, err)
	assert.Equal(t, "a2", got.ID, "most recently updated active link")
	clock.Advance(time.Minute)
	a2.Status = ohx.LinkRevoked
	require.NoError(t, s.SaveLink(ctx, a2))
	got, err = s.LinkByExternalUser(ctx, "withings", "u1")
	require.NoError(t, err)
	assert.Equal(t, "a", got.ID, "active link before a later revoked one")

	byPatient, err := s.LinksByPatient(ctx, "Patient/p1")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, ids(byPatient), "ordered by id")
	none, err := s.LinksByPatient(ctx, "Patient/none")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func ids(ls []ohx.Link) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

func testListing(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	s := h.Store
	ctx := t.Context()

	all, err := s.Links(ctx, store.LinkQuery{})
	require.NoError(t, err)
	assert.Empty(t, all)

	for i, id := range []string{"e", "a", "d", "b", "c"} {
		l := sampleLink(id)
		if i%2 == 0 {
			l.Provider = "fitbit"
		}
		if id == "d" {
			l.Status = ohx.LinkRevoked
		}
		require.NoError(t, s.SaveLink(ctx, l))
	}
	tests := []struct {
		name string
		q    store.LinkQuery
		want []string
	}{
		{"all", store.LinkQuery{}, []string{"a", "b", "c", "d", "e"}},
		{"provider", store.LinkQuery{Provider: "fitbit"}, []string{"c", "d", "e"}},
		{"status", store.LinkQuery{Status: ohx.LinkActive}, []string{"a", "b", "c", "e"}},
		{"provider and status", store.LinkQuery{Provider: "fitbit", Status: ohx.LinkActive}, []string{"c", "e"}},
		{"first page", store.LinkQuery{Limit: 2}, []string{"a", "b"}},
		{"next page", store.LinkQuery{AfterID: "b", Limit: 2}, []string{"c", "d"}},
		{"last page", store.LinkQuery{AfterID: "d", Limit: 2}, []string{"e"}},
		{"after the end", store.LinkQuery{AfterID: "e"}, nil},
		{"paged with filter", store.LinkQuery{Status: ohx.LinkActive, AfterID: "b", Limit: 2}, []string{"c", "e"}},
	}
	for _, tt := range tests {
		got, err := s.Links(ctx, tt.q)
		require.NoError(t, err, tt.name)
		if tt.want == nil {
			assert.Empty(t, got, tt.name)
			continue
		}
		assert.Equal(t, tt.want, ids(got), tt.name)
	}
	got, err := s.Links(ctx, store.LinkQuery{AfterID: "a", Limit: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	want := sampleLink("b")
	want.Created, want.Updated = Start, Start
	assertLink(t, want, got[0])
}

func testDelete(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	s := h.Store
	ctx := t.Context()
	hr := ohx.DataType("heart-rate")

	for _, id := range []string{"gone", "kept"} {
		require.NoError(t, s.SaveLink(ctx, sampleLink(id)))
		require.NoError(t, s.SaveToken(ctx, id, ohx.Token{AccessToken: "at-" + id, RefreshToken: "rt-" + id}))
		require.NoError(t, s.AdvanceCursor(ctx, id, hr, Start))
		require.NoError(t, s.RecordSync(ctx, id, hr, store.SyncResult{Count: 1}))
	}
	require.NoError(t, s.DeleteLink(ctx, "gone"))
	require.NoError(t, s.DeleteLink(ctx, "never-existed"), "deleting a missing link is not an error")

	_, err := s.Link(ctx, "gone")
	require.ErrorIs(t, err, ohx.ErrNotFound)
	_, err = s.Token(ctx, "gone")
	require.ErrorIs(t, err, ohx.ErrNotFound)
	cur, err := s.Cursors(ctx, "gone")
	require.NoError(t, err)
	assert.Empty(t, cur)
	st, err := s.SyncStatus(ctx, "gone")
	require.NoError(t, err)
	assert.Empty(t, st)

	_, err = s.Link(ctx, "kept")
	require.NoError(t, err)
	tok, err := s.Token(ctx, "kept")
	require.NoError(t, err)
	assert.Equal(t, "rt-kept", tok.RefreshToken)
	cur, err = s.Cursors(ctx, "kept")
	require.NoError(t, err)
	assert.Len(t, cur, 1)
}

func testTokens(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	s := h.Store
	ctx := t.Context()

	_, err := s.Token(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound)
	require.Error(t, s.SaveToken(ctx, "", ohx.Token{AccessToken: "x"}), "a token without link id is refused")

	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	tok := ohx.Token{
		AccessToken:  "access-1",
		RefreshToken: "refresh-1",
		TokenType:    "Bearer",
		Expiry:       time.Date(2026, 1, 2, 5, 0, 0, 0, paris),
		Scope:        "user.metrics user.activity",
	}
	require.NoError(t, s.SaveToken(ctx, "l1", tok))
	got, err := s.Token(ctx, "l1")
	require.NoError(t, err)
	assert.True(t, tok.Expiry.Equal(got.Expiry))
	assert.Equal(t, time.UTC, got.Expiry.Location())
	got.Expiry = tok.Expiry
	assert.Equal(t, tok, got)

	// Replaced, not merged; empty refresh token and zero expiry survive.
	tok2 := ohx.Token{AccessToken: "access-2", TokenType: "Bearer"}
	require.NoError(t, s.SaveToken(ctx, "l1", tok2))
	got, err = h.replica(t).Token(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, tok2, got)
	assert.True(t, got.Expiry.IsZero())
}

func testSealedAtRest(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	if h.RawToken == nil {
		t.Skip("store keeps tokens in process memory only; no RawToken hook")
	}
	ctx := t.Context()
	require.NoError(t, h.Store.SaveToken(ctx, "l1", ohx.Token{AccessToken: "plain-access", RefreshToken: "plain-refresh", TokenType: "Bearer"}))
	raw := h.RawToken(t, "l1")
	for _, v := range []string{raw.AccessToken, raw.RefreshToken} {
		assert.Equal(t, TestKeys()[0].ID, seal.KeyID(v), "sealed under the primary key")
		assert.NotContains(t, v, "plain-")
	}
	assert.Equal(t, "Bearer", raw.TokenType)
}

func testSwapped(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	if h.RawToken == nil || h.SetRawToken == nil {
		t.Skip("store keeps tokens in process memory only; no raw token hooks")
	}
	s := h.Store
	ctx := t.Context()
	require.NoError(t, s.SaveToken(ctx, "A", ohx.Token{AccessToken: "access-A", RefreshToken: "refresh-A"}))
	require.NoError(t, s.SaveToken(ctx, "B", ohx.Token{AccessToken: "access-B", RefreshToken: "refresh-B"}))
	rawA := h.RawToken(t, "A")
	rawB := h.RawToken(t, "B")

	tests := []struct {
		name string
		row  store.SealedToken
	}{
		{"A's whole token in B's row", rawA},
		{"A's refresh token in B's row", store.SealedToken{AccessToken: rawB.AccessToken, RefreshToken: rawA.RefreshToken}},
		{"B's access token in its refresh field", store.SealedToken{AccessToken: rawB.AccessToken, RefreshToken: rawB.AccessToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.SetRawToken(t, "B", tt.row)
			_, err := s.Token(ctx, "B")
			require.ErrorIs(t, err, seal.ErrOpen)
			for _, secret := range []string{"access-A", "refresh-A", "access-B", "refresh-B", rawA.AccessToken, rawA.RefreshToken} {
				assert.NotContains(t, err.Error(), secret, "error leaks a token")
			}
		})
	}
	got, err := s.Token(ctx, "A")
	require.NoError(t, err)
	assert.Equal(t, "refresh-A", got.RefreshToken, "the source row still opens")
}

func testRotation(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	if h.Reopen == nil {
		t.Skip("store does not seal tokens; no Reopen hook")
	}
	ctx := t.Context()
	const n = 5
	for i := range n {
		id := fmt.Sprintf("l%d", i)
		require.NoError(t, h.Store.SaveToken(ctx, id, ohx.Token{AccessToken: "at-" + id, RefreshToken: "rt-" + id}))
	}

	// Rotate: the new key is primary, the old one still opens.
	rotated := h.Reopen(t, newRing(t, TestKeys()[1], TestKeys()[0]))
	got, err := rotated.Token(ctx, "l0")
	require.NoError(t, err)
	assert.Equal(t, "rt-l0", got.RefreshToken)
	require.NoError(t, rotated.SaveToken(ctx, "l0", ohx.Token{AccessToken: "at-l0", RefreshToken: "rt-l0-new"}))
	if h.RawToken != nil {
		assert.Equal(t, TestKeys()[1].ID, seal.KeyID(h.RawToken(t, "l0").RefreshToken), "new writes use the new primary")
	}

	// Without rewrap, dropping the old key strands the other tokens.
	newOnly := h.Reopen(t, newRing(t, TestKeys()[1]))
	_, err = newOnly.Token(ctx, "l1")
	require.ErrorIs(t, err, seal.ErrUnknownKey)

	rw, ok := rotated.(store.Rewrapper)
	require.True(t, ok, "a store that seals implements store.Rewrapper")
	count, err := rw.Rewrap(ctx)
	require.NoError(t, err)
	assert.Equal(t, n-1, count, "every token not already under the primary")
	count, err = rw.Rewrap(ctx)
	require.NoError(t, err)
	assert.Zero(t, count, "rewrap is idempotent")

	for i := range n {
		id := fmt.Sprintf("l%d", i)
		got, err := newOnly.Token(ctx, id)
		require.NoError(t, err, id)
		want := "rt-" + id
		if i == 0 {
			want += "-new"
		}
		assert.Equal(t, want, got.RefreshToken)
	}
	_, err = h.Reopen(t, newRing(t, TestKeys()[0])).Token(ctx, "l1")
	require.ErrorIs(t, err, seal.ErrUnknownKey, "the old key alone no longer opens rewrapped tokens")
}

func testCursors(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	s := h.Store
	ctx := t.Context()
	hr, w := ohx.DataType("heart-rate"), ohx.DataType("weight")

	cur, err := s.Cursors(ctx, "l1")
	require.NoError(t, err)
	assert.Empty(t, cur)

	t0 := time.Date(2026, 1, 1, 10, 0, 0, 123456789, time.UTC)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	steps := []struct {
		name string
		typ  ohx.DataType
		at   time.Time
		want map[ohx.DataType]time.Time
	}{
		{"first", hr, t0, map[ohx.DataType]time.Time{hr: t0}},
		{"forward, in another zone", hr, t0.Add(time.Hour).In(ny), map[ohx.DataType]time.Time{hr: t0.Add(time.Hour)}},
		{"backwards is ignored", hr, t0, map[ohx.DataType]time.Time{hr: t0.Add(time.Hour)}},
		{"same is a no-op", hr, t0.Add(time.Hour), map[ohx.DataType]time.Time{hr: t0.Add(time.Hour)}},
		{"one nanosecond forward", hr, t0.Add(time.Hour + 1), map[ohx.DataType]time.Time{hr: t0.Add(time.Hour + 1)}},
		{"types are independent", w, t0.Add(-24 * time.Hour), map[ohx.DataType]time.Time{hr: t0.Add(time.Hour + 1), w: t0.Add(-24 * time.Hour)}},
	}
	for _, st := range steps {
		require.NoError(t, s.AdvanceCursor(ctx, "l1", st.typ, st.at), st.name)
		got, err := s.Cursors(ctx, "l1")
		require.NoError(t, err)
		require.Len(t, got, len(st.want), st.name)
		for typ, at := range st.want {
			assert.True(t, at.Equal(got[typ]), "%s: %s: want %v, got %v", st.name, typ, at, got[typ])
			assert.Equal(t, time.UTC, got[typ].Location(), st.name)
		}
	}
	other, err := h.replica(t).Cursors(ctx, "l2")
	require.NoError(t, err)
	assert.Empty(t, other, "cursors are per link")

	for name, at := range map[string]time.Time{"zero": {}, "year 1": time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "year 3000": time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		assert.Error(t, s.AdvanceCursor(ctx, "l1", hr, at), name)
	}
	assert.Error(t, s.AdvanceCursor(ctx, "", hr, t0), "empty link id")
	got, err := s.Cursors(ctx, "l1")
	require.NoError(t, err)
	assert.True(t, t0.Add(time.Hour+1).Equal(got[hr]), "bad input changed nothing")

	// Concurrent advances keep the maximum.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			assert.NoError(t, s.AdvanceCursor(ctx, "l3", hr, t0.Add(time.Duration(i)*time.Minute)))
		})
	}
	wg.Wait()
	got, err = s.Cursors(ctx, "l3")
	require.NoError(t, err)
	assert.True(t, t0.Add(19*time.Minute).Equal(got[hr]))
}

func testSyncStatus(t *testing.T, f Factory) {
	h, clock := setup(t, f)
	s := h.Store
	ctx := t.Context()
	hr, w := ohx.DataType("heart-rate"), ohx.DataType("weight")

	st, err := s.SyncStatus(ctx, "l1")
	require.NoError(t, err)
	assert.Empty(t, st)

	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	t1 := Start.Add(time.Minute)
	provErr := &ohx.ProviderError{Provider: "withings", Op: "getmeas", Kind: ohx.KindTransient, HTTPStatus: 503, Code: "2554",
		Err: errors.New("body had heart rate 72 bpm")}
	steps := []struct {
		name string
		typ  ohx.DataType
		r    store.SyncResult
		want store.SyncStatus
	}{
		{
			name: "first success, clock time",
			typ:  hr, r: store.SyncResult{Count: 10, Samples: 600},
			want: store.SyncStatus{DataType: hr, LastAttempt: Start, LastSuccess: Start, Successes: 1, Items: 10, SamplesRead: 600},
		},
		{
			name: "provider failure keeps only classified fields",
			typ:  hr, r: store.SyncResult{At: t1.In(paris), Err: fmt.Errorf("sync: %w", provErr), Count: 3, Samples: 7},
			want: store.SyncStatus{DataType: hr, LastAttempt: t1, LastSuccess: Start, LastErrorAt: t1, LastErrorKind: "transient",
				LastError: "withings getmeas: transient (http 503, 2554)", Successes: 1, Failures: 1, ConsecutiveFailures: 1, Items: 10, SamplesRead: 600},
		},
		{
			name: "unclassified failure keeps no text",
			typ:  hr, r: store.SyncResult{At: t1.Add(time.Minute), Err: errors.New("fhir: Observation value 72 rejected")},
			want: store.SyncStatus{DataType: hr, LastAttempt: t1.Add(time.Minute), LastSuccess: Start, LastErrorAt: t1.Add(time.Minute),
				LastErrorKind: "unknown", LastError: "unknown error", Successes: 1, Failures: 2, ConsecutiveFailures: 2, Items: 10, SamplesRead: 600},
		},
		{
			name: "success resets the streak, keeps the last error",
			typ:  hr, r: store.SyncResult{At: t1.Add(2 * time.Minute), Count: 5, Samples: 300},
			want: store.SyncStatus{DataType: hr, LastAttempt: t1.Add(2 * time.Minute), LastSuccess: t1.Add(2 * time.Minute), LastErrorAt: t1.Add(time.Minute),
				LastErrorKind: "unknown", LastError: "unknown error", Successes: 2, Failures: 2, Items: 15, SamplesRead: 900},
		},
		{
			name: "cancelled",
			typ:  w, r: store.SyncResult{At: t1, Err: context.Canceled},
			want: store.SyncStatus{DataType: w, LastAttempt: t1, LastErrorAt: t1, LastErrorKind: "cancelled", LastError: "cancelled", Failures: 1, ConsecutiveFailures: 1},
		},
	}
	for _, step := range steps {
		require.NoError(t, s.RecordSync(ctx, "l1", step.typ, step.r), step.name)
		all, err := h.replica(t).SyncStatus(ctx, "l1")
		require.NoError(t, err)
		assertSync(t, step.want, all[step.typ], step.name)
	}
	all, err := s.SyncStatus(ctx, "l1")
	require.NoError(t, err)
	assert.Len(t, all, 2)
	for _, v := range all {
		assert.NotContains(t, v.LastError, "72")
	}
	assert.Error(t, s.RecordSync(ctx, "", hr, store.SyncResult{}), "empty link id")
	_ = clock
}

func assertSync(t testing.TB, want, got store.SyncStatus, msg string) {
	t.Helper()
	for _, p := range []struct {
		name string
		w, g time.Time
	}{{"LastAttempt", want.LastAttempt, got.LastAttempt}, {"LastSuccess", want.LastSuccess, got.LastSuccess}, {"LastErrorAt", want.LastErrorAt, got.LastErrorAt}} {
		assert.True(t, p.w.Equal(p.g), "%s: %s: want %v, got %v", msg, p.name, p.w, p.g)
		if !p.g.IsZero() {
			assert.Equal(t, time.UTC, p.g.Location(), "%s: %s", msg, p.name)
		}
	}
	want.LastAttempt, want.LastSuccess, want.LastErrorAt = time.Time{}, time.Time{}, time.Time{}
	got.LastAttempt, got.LastSuccess, got.LastErrorAt = time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, want, got, msg)
}

// testRefreshRace: 20 workers (alternating between two instances) find the
// access token expired and refresh it the way the provider toolkit does: take
// the link's lock, re-read the token, and refresh only if it is still the one
// they saw. The rotating refresh token must be spent exactly once.
func testRefreshRace(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	ctx := t.Context()
	stores := []store.Store{h.Store, h.replica(t)}
	require.NoError(t, h.Store.SaveToken(ctx, "l1", ohx.Token{AccessToken: "at-0", RefreshToken: "rt-0"}))

	var (
		spent   atomic.Int32
		holders atomic.Int32
		start   = make(chan struct{})
		wg      sync.WaitGroup
	)
	for i := range 20 {
		s := stores[i%2]
		wg.Go(func() {
			<-start
			release, err := s.Lock(ctx, "refresh:l1", time.Minute)
			if !assert.NoError(t, err) {
				return
			}
			defer release()
			assert.Equal(t, int32(1), holders.Add(1), "two workers hold the lease")
			defer holders.Add(-1)
			tok, err := s.Token(ctx, "l1")
			if !assert.NoError(t, err) {
				return
			}
			if tok.RefreshToken != "rt-0" {
				return // another worker refreshed; use its token
			}
			runtime.Gosched()
			spent.Add(1)
			assert.NoError(t, s.SaveToken(ctx, "l1", ohx.Token{AccessToken: "at-1", RefreshToken: "rt-1"}))
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), spent.Load(), "refresh token spent exactly once")
	tok, err := h.Store.Token(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, "rt-1", tok.RefreshToken)
}
