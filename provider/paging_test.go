package provider_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

func TestPagesFollowsTokensToTheEnd(t *testing.T) {
	var seen []string
	err := provider.Pages(t.Context(), 0, func(_ context.Context, token string) (string, error) {
		seen = append(seen, token)
		if len(seen) == 3 {
			return "", nil
		}
		return "t" + strconv.Itoa(len(seen)), nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"", "t1", "t2"}, seen)
}

func TestPagesStops(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		max   int
		page  func(n int) (string, error)
		is    []error
		pages int
	}{
		{"page error", 0, func(n int) (string, error) {
			if n == 2 {
				return "", boom
			}
			return "t" + strconv.Itoa(n), nil
		}, []error{boom}, 2},
		{"repeated token", 0, func(int) (string, error) { return "same", nil }, []error{provider.ErrPageLoop, ohx.ErrTransient}, 2},
		{"too many pages", 5, func(n int) (string, error) { return "t" + strconv.Itoa(n), nil }, []error{provider.ErrTooManyPages, ohx.ErrPermanent}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := provider.Pages(t.Context(), tc.max, func(context.Context, string) (string, error) {
				n++
				return tc.page(n)
			})
			for _, target := range tc.is {
				assert.ErrorIs(t, err, target)
			}
			assert.Equal(t, tc.pages, n)
		})
	}
}

func TestPagesHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := provider.Pages(ctx, 0, func(context.Context, string) (string, error) {
		n++
		cancel()
		return "next" + strconv.Itoa(n), nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, n)
}

func TestChunks(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	w := ohx.Window{Start: t0, End: t0.Add(65 * day)}
	var got []ohx.Window
	for c := range provider.Chunks(w, 30*day) {
		got = append(got, c)
	}
	assert.Equal(t, []ohx.Window{
		{Start: t0, End: t0.Add(30 * day)},
		{Start: t0.Add(30 * day), End: t0.Add(60 * day)},
		{Start: t0.Add(60 * day), End: t0.Add(65 * day)},
	}, got)

	got = nil
	for c := range provider.Chunks(w, 0) {
		got = append(got, c)
	}
	assert.Equal(t, []ohx.Window{w}, got, "no size: the window whole")

	for range provider.Chunks(ohx.Window{Start: t0, End: t0}, day) {
		t.Fatal("an empty window yields nothing")
	}
	n := 0
	for range provider.Chunks(w, day) {
		n++
		break
	}
	assert.Equal(t, 1, n, "stops when the consumer stops")
}

func TestPagesErrorNamesTheOperation(t *testing.T) {
	boom := errors.New("boom")
	assert.NoError(t, provider.PagesError("acme", "items.list", nil))
	assert.Same(t, boom, provider.PagesError("acme", "items.list", boom), "the page function's errors pass unchanged")

	tooMany := provider.Pages(t.Context(), 2, func(_ context.Context, token string) (string, error) { return token + "x", nil })
	loop := provider.Pages(t.Context(), 0, func(context.Context, string) (string, error) { return "same", nil })
	for _, tc := range []struct {
		err  error
		kind ohx.ErrorKind
		code string
		is   error
	}{
		{tooMany, ohx.KindPermanent, "too-many-pages", provider.ErrTooManyPages},
		{loop, ohx.KindTransient, "page-loop", provider.ErrPageLoop},
	} {
		err := provider.PagesError("acme", "items.list", tc.err)
		var pe *ohx.ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "acme", pe.Provider)
		assert.Equal(t, "items.list", pe.Op)
		assert.Equal(t, tc.kind, pe.Kind)
		assert.Equal(t, tc.code, pe.Code)
		assert.ErrorIs(t, err, tc.is)
		assert.Equal(t, tc.kind, ohx.KindOf(err))
	}
}
