package fitbittest

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// bounds is a parsed filter: the half-open range of the filtered field.
type bounds struct {
	lo, hi time.Time // zero = unbounded
}

// filterError is a 400 answer in Google's INVALID_DATA_POINT_FILTER shape.
type filterError struct {
	reasons    []string
	violations []string
}

func (e *filterError) add(reason, desc string, col int) {
	e.reasons = append(e.reasons, reason)
	e.violations = append(e.violations, fmt.Sprintf("%s (at line 1, column %d)", desc, col))
}

func (e *filterError) write(w http.ResponseWriter) {
	var st wire.Status
	st.Error.Code = 400
	st.Error.Status = "INVALID_ARGUMENT"
	st.Error.Message = "Invalid data point filter: " + strings.Join(e.reasons, ", ") + "."
	det := wire.StatusDetails{Type: "type.googleapis.com/google.rpc.BadRequest"}
	for _, v := range e.violations {
		det.FieldViolations = append(det.FieldViolations, wire.FieldViolation{Field: "filter", Description: v})
	}
	st.Error.Details = []wire.StatusDetails{
		errorInfo("INVALID_DATA_POINT_FILTER", "health.googleapis.com", map[string]string{"detailedReasons": strings.Join(e.reasons, ",")}),
		det,
	}
	writeJSON(w, 400, st)
}

type token struct {
	text string
	col  int
	str  bool
}

func tokenize(f string) ([]token, *filterError) {
	var out []token
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(f) && f[j] != '"' {
				if f[j] == '\\' && j+1 < len(f) {
					j++
				}
				b.WriteByte(f[j])
				j++
			}
			if j >= len(f) {
				e := &filterError{}
				e.add("INVALID_DATA_POINT_FILTER_SYNTAX", "Unterminated string.", i+1)
				return nil, e
			}
			out = append(out, token{text: b.String(), col: i + 1, str: true})
			i = j + 1
		case strings.ContainsRune("<>=!", rune(c)):
			j := i + 1
			if j < len(f) && f[j] == '=' {
				j++
			}
			out = append(out, token{text: f[i:j], col: i + 1})
			i = j
		case c == '(' || c == ')':
			out = append(out, token{text: string(c), col: i + 1})
			i++
		default:
			j := i
			for j < len(f) && !strings.ContainsRune(" \t\n\"<>=!()", rune(f[j])) {
				j++
			}
			out = append(out, token{text: f[i:j], col: i + 1})
			i = j
		}
	}
	return out, nil
}

// parseFilter checks a filter against the rules of data type g and returns
// the bounds of its filtered field (converted to instants in loc for civil
// fields).
func parseFilter(f string, g *dataType, loc *time.Location) (bounds, *filterError) {
	var b bounds
	if strings.TrimSpace(f) == "" {
		return b, nil
	}
	toks, ferr := tokenize(f)
	if ferr != nil {
		return b, ferr
	}
	e := &filterError{}
	snake := strings.ReplaceAll(g.id, "-", "_")
	for i := 0; i < len(toks); {
		if i > 0 {
			switch toks[i].text {
			case "AND":
				i++
			case "OR":
				e.add("INVALID_DATA_POINT_FILTER_EXPRESSION_STRUCTURE", "OR is only supported between sleep end time restrictions.", toks[i].col)
				return b, e
			default:
				e.add("INVALID_DATA_POINT_FILTER_UNEXPECTED_TOKEN", fmt.Sprintf("Unexpected token '%s'.", toks[i].text), toks[i].col)
				return b, e
			}
		}
		if i+2 >= len(toks) {
			col := len(f) + 1
			if i < len(toks) {
				col = toks[i].col
			}
			e.add("INVALID_DATA_POINT_FILTER_UNEXPECTED_END_OF_INPUT", "Unexpected end of input.", col)
			return b, e
		}
		member, op, val := toks[i], toks[i+1], toks[i+2]
		i += 3
		if member.str || !val.str {
			e.add("INVALID_DATA_POINT_FILTER_EXPRESSION_STRUCTURE", "Expected a restriction of the form member operator \"value\".", member.col)
			continue
		}
		prefix, _, _ := strings.Cut(member.text, ".")
		switch {
		case strings.Contains(prefix, "-"):
			e.add("INVALID_DATA_POINT_FILTER_DATA_TYPE_RESTRICTION", fmt.Sprintf("Data type '%s' in filter must be snake_case.", prefix), member.col)
			continue
		case prefix != snake:
			e.add("INVALID_DATA_POINT_FILTER_MIXED_DATA_TYPE_RESTRICTION", fmt.Sprintf("Data type '%s' in filter does not match the parent data type '%s'.", prefix, g.id), member.col)
			continue
		}
		field := strings.TrimPrefix(member.text, snake+".")
		kind, ok := g.fields[field]
		if !ok {
			e.add("INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER", fmt.Sprintf("Member '%s' is not supported for filtering.", member.text), member.col)
			continue
		}
		if op.text != ">=" && op.text != "<" || (g.lowerOnly && op.text == "<") {
			e.add("INVALID_DATA_POINT_FILTER_RESTRICTION_COMPARABLE", fmt.Sprintf("Operator '%s' is not supported for member '%s'.", op.text, member.text), op.col)
			continue
		}
		t, err := parseValue(val.text, kind, loc)
		if err != nil {
			e.add("INVALID_DATA_POINT_FILTER_SYNTAX", fmt.Sprintf("Invalid value for member '%s'.", member.text), val.col)
			continue
		}
		if op.text == ">=" {
			if b.lo.IsZero() || t.After(b.lo) {
				b.lo = t
			}
		} else if b.hi.IsZero() || t.Before(b.hi) {
			b.hi = t
		}
	}
	if len(e.reasons) > 0 {
		return b, e
	}
	return b, nil
}

type fieldKind int

const (
	fieldPhysical fieldKind = iota + 1
	fieldCivil
	fieldDate
)

func parseValue(v string, k fieldKind, loc *time.Location) (time.Time, error) {
	switch k {
	case fieldPhysical:
		return time.Parse(time.RFC3339Nano, v)
	case fieldDate:
		t, err := time.Parse("2006-01-02", v)
		return t, err
	default:
		for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, v, loc); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("bad civil time")
	}
}
