package store_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

// Refreshing a rotating token under the store's lock: take the link's lease,
// re-read the token, refresh only if nobody did meanwhile.
func ExampleMemory_Lock() {
	ctx := context.Background()
	s := store.NewMemory()
	_ = s.SaveToken(ctx, "link-1", ohx.Token{AccessToken: "old", RefreshToken: "r1"})

	seen := "r1" // the refresh token this worker found expired
	release, err := s.Lock(ctx, "refresh:link-1", 30*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer release()
	tok, _ := s.Token(ctx, "link-1")
	if tok.RefreshToken == seen {
		// call the provider here, then:
		_ = s.SaveToken(ctx, "link-1", ohx.Token{AccessToken: "new", RefreshToken: "r2"})
	}
	tok, _ = s.Token(ctx, "link-1")
	fmt.Println(tok.AccessToken)
	// Output: new
}

func ExampleMemory_RecordSync() {
	ctx := context.Background()
	s := store.NewMemory()
	at := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	_ = s.RecordSync(ctx, "link-1", ohx.DataType("weight"), store.SyncResult{At: at, Count: 3})
	_ = s.RecordSync(ctx, "link-1", ohx.DataType("weight"), store.SyncResult{At: at.Add(time.Hour),
		Err: &ohx.ProviderError{Provider: "withings", Op: "getmeas", Kind: ohx.KindRateLimited, HTTPStatus: 429}})
	st, _ := s.SyncStatus(ctx, "link-1")
	w := st["weight"]
	fmt.Println(w.Successes, w.Failures, w.Items, w.LastError)
	// Output: 1 1 3 withings getmeas: rate-limited (http 429)
}
