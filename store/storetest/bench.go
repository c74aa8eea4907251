package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Bench measures the latency of the hot store calls: SaveToken and Token
// (sealing included) and AdvanceCursor and Cursors, over 1,000 links.
func Bench(b *testing.B, f Factory) {
	const links = 1000
	h, _ := setup(b, f)
	s := h.Store
	ctx := b.Context()
	hr := ohx.DataType("heart-rate")
	tok := ohx.Token{AccessToken: "access-token-of-typical-length-0123456789abcdef0123456789", RefreshToken: "refresh-token-0123456789abcdef", TokenType: "Bearer", Expiry: Start.Add(3 * time.Hour), Scope: "user.metrics"}
	for i := range links {
		id := fmt.Sprintf("link-%04d", i)
		if err := s.SaveLink(ctx, sampleLink(id)); err != nil {
			b.Fatal(err)
		}
		if err := s.SaveToken(ctx, id, tok); err != nil {
			b.Fatal(err)
		}
		for _, t := range []ohx.DataType{hr, "weight", "steps"} {
			if err := s.AdvanceCursor(ctx, id, t, Start); err != nil {
				b.Fatal(err)
			}
		}
	}
	id := func(i int) string { return fmt.Sprintf("link-%04d", i%links) }

	b.Run("SaveToken", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := s.SaveToken(ctx, id(i), tok); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Token", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Token(ctx, id(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("AdvanceCursor", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := s.AdvanceCursor(ctx, id(i), hr, Start.Add(time.Duration(i+1)*time.Second)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Cursors", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Cursors(ctx, id(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Link", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Link(ctx, id(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
