package storeutil

// Scanner is a row that scans into Go values: pgx.Row, *sql.Row, and the
// current row of Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is the part of pgx.Rows and *sql.Rows that reading a result needs.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Collect scans every row of rows with scan, then reports rows.Err; it
// returns the first error as it is, for the caller to wrap. The caller
// still closes rows.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// CollectMap is Collect into a map, which is empty (not nil) when there are
// no rows; a later row replaces an earlier one with the same key.
func CollectMap[K comparable, V any](rows Rows, scan func(Scanner) (K, V, error)) (map[K]V, error) {
	out := map[K]V{}
	for rows.Next() {
		k, v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// TokenRow is a row of the tokens table as Rewrap reads it: the link id and
// the sealed access and refresh tokens.
type TokenRow struct {
	LinkID, Access, Refresh string
}

// ScanTokenRow scans the columns link_id, access_token, refresh_token.
func ScanTokenRow(r Scanner) (TokenRow, error) {
	var t TokenRow
	err := r.Scan(&t.LinkID, &t.Access, &t.Refresh)
	return t, err
}
