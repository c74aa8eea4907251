package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/openhealthexchange/ohx"
)

// DefaultMaxPages bounds the pages Pages reads when maxPages is 0.
const DefaultMaxPages = 1000

// ErrTooManyPages is returned (wrapped, matching ohx.ErrPermanent) by Pages
// when a listing has more pages than allowed: the caller should read a
// smaller window.
var ErrTooManyPages = errors.New("provider: too many pages")

// ErrPageLoop is returned (wrapped, matching ohx.ErrTransient) by Pages
// when the provider hands out a page token it handed out before, which would
// otherwise loop for ever.
var ErrPageLoop = errors.New("provider: page token repeated")

// Pages runs a token-paged listing: it calls page with the empty token, then
// with each token page returns, until page returns an empty token or an
// error, ctx ends, a token repeats, or maxPages pages were read (0 means
// DefaultMaxPages). It is the one paging loop of Oura's next_token and
// Google's nextPageToken; the page function sends the request and consumes
// its items.
func Pages(ctx context.Context, maxPages int, page func(ctx context.Context, token string) (next string, err error)) error {
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	seen := map[string]bool{}
	token := ""
	for n := 0; ; n++ {
		if n == maxPages {
			return fmt.Errorf("%w (more than %d): %w", ErrTooManyPages, maxPages, ohx.ErrPermanent)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := page(ctx, token)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("%w: %w", ErrPageLoop, ohx.ErrTransient)
		}
		seen[next] = true
		token = next
	}
}

// PagesError returns err, an error of Pages, as the *ohx.ProviderError of
// provider's operation op when Pages gave up on the listing: ErrTooManyPages
// as permanent with code "too-many-pages", ErrPageLoop as transient with
// code "page-loop" (the wrapped error still matches both sentinels). Any
// other error, such as the page function's own, is returned as it is, and
// nil stays nil.
func PagesError(provider, op string, err error) error {
	switch {
	case errors.Is(err, ErrTooManyPages):
		return &ohx.ProviderError{Provider: provider, Op: op, Kind: ohx.KindPermanent, Code: "too-many-pages", Err: err}
	case errors.Is(err, ErrPageLoop):
		return &ohx.ProviderError{Provider: provider, Op: op, Kind: ohx.KindTransient, Code: "page-loop", Err: err}
	}
	return err
}
