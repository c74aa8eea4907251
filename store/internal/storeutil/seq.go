package storeutil

import (
	"cmp"
	"slices"
)

// Sequenced is a value with its write order (an outbox entry and its seq).
type Sequenced[T any] struct {
	Value T
	Seq   int64
}

// InSeqOrder returns the values of rows ordered by Seq, ascending or, with
// desc, descending (an UPDATE … RETURNING promises no order). The result
// is empty, not nil, when rows is. rows is sorted in place.
func InSeqOrder[T any](rows []Sequenced[T], desc bool) []T {
	slices.SortFunc(rows, func(a, b Sequenced[T]) int {
		if desc {
			return cmp.Compare(b.Seq, a.Seq)
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r.Value
	}
	return out
}
