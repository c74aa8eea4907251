package validate

import (
	"github.com/openhealthexchange/ohx/internal/fhirname"
	"regexp"
	"strconv"
	"strings"
)

// The schema's patterns run on every string value the fast path checks.
// Go's regexp engine needs about a microsecond for a dateTime, so the
// patterns of the frequent primitive types have a hand-written matcher that
// accepts exactly the same strings (TestPatternMatchers and
// FuzzPatternMatchers compare each with the compiled pattern). Any other
// pattern runs through regexp, as the schema validator runs it.

// Patterns of the R5 schema (fhir.schema.r5.json, definitions of the same
// names), byte for byte.
const (
	patString   = `^^[\s\S]+$$` // string, markdown
	patCode     = `^[^\s]+( [^\s]+)*$`
	patID       = `^[A-Za-z0-9\-\.]{1,64}$`
	patURI      = `^\S*$` // uri, url, canonical
	patDateTime = `^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?)?)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)?)?)?$`
	patInstant  = `^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`
	patDate     = `^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`
	patTime     = `^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?$`
)

// handMatchers maps a schema pattern to its hand-written matcher.
var handMatchers = map[string]func(string) bool{
	patString:   func(s string) bool { return s != "" },
	patCode:     isCode,
	patID:       fhirname.IsID,
	patURI:      isURI,
	patDateTime: isDateTime,
	patInstant:  isInstant,
	patDate:     isDate,
	patTime:     func(s string) bool { rest, ok := clock(s); return ok && rest == "" },
}

// matcher returns the function that tells whether a string matches pattern.
func matcher(pattern string) (func(string) bool, error) {
	if m, ok := handMatchers[pattern]; ok {
		return m, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return re.MatchString, nil
}

// isSpace is \s of Go's regexp: the ASCII white space without \v.
func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') // one test for the usual byte
}

// isURI: no \s at all (a loop: strings.ContainsAny builds its set per call).
func isURI(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return false
		}
	}
	return true
}

// isCode: no \s but single spaces between non-space runs.
func isCode(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if s[i+1] == ' ' {
				return false
			}
			continue
		}
		if isSpace(c) {
			return false
		}
	}
	return true
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

// twoDigits reads two digits at s[0:2] within [lo, hi].
func twoDigits(s string, lo, hi int) bool {
	if len(s) < 2 || !digit(s[0]) || !digit(s[1]) {
		return false
	}
	v := int(s[0]-'0')*10 + int(s[1]-'0')
	return v >= lo && v <= hi
}

// year reads the four-digit year (0001 to 9999) and returns the rest.
func year(s string) (string, bool) {
	if len(s) < 4 || !digit(s[0]) || !digit(s[1]) || !digit(s[2]) || !digit(s[3]) || s[:4] == "0000" {
		return "", false
	}
	return s[4:], true
}

// month reads "-MM".
func month(s string) (string, bool) {
	if len(s) < 3 || s[0] != '-' || !twoDigits(s[1:], 1, 12) {
		return "", false
	}
	return s[3:], true
}

// day reads "-DD".
func day(s string) (string, bool) {
	if len(s) < 3 || s[0] != '-' || !twoDigits(s[1:], 1, 31) {
		return "", false
	}
	return s[3:], true
}

// clock reads hh:mm:ss with an optional fraction of 1 to 9 digits.
func clock(s string) (string, bool) {
	if len(s) < 8 || !twoDigits(s, 0, 23) || s[2] != ':' || !twoDigits(s[3:], 0, 59) || s[5] != ':' || !twoDigits(s[6:], 0, 60) {
		return "", false
	}
	s = s[8:]
	if len(s) > 0 && s[0] == '.' {
		n := 1
		for n < len(s) && digit(s[n]) {
			n++
		}
		if n == 1 || n > 10 {
			return "", false
		}
		s = s[n:]
	}
	return s, true
}

// zone reads Z, +hh:mm or -hh:mm (hh 00 to 13, or 14:00); with bare the
// sign alone is accepted too, as dateTime's pattern does.
func zone(s string, bare bool) bool {
	switch {
	case s == "Z":
		return true
	case len(s) >= 1 && (s[0] == '+' || s[0] == '-'):
		o := s[1:]
		if o == "" {
			return bare
		}
		return len(o) == 5 && (o == "14:00" || twoDigits(o, 0, 13) && o[2] == ':' && twoDigits(o[3:], 0, 59))
	}
	return false
}

// isDateTime follows the pattern's grammar: a year, optionally followed by
// a month, an optional day with an optional time, and an optional zone. A
// zone may follow the month directly, so "2024-01-05:00" is a month and a
// zone; both readings are tried.
func isDateTime(s string) bool {
	s, ok := year(s)
	if !ok {
		return false
	}
	if s == "" {
		return true
	}
	if s, ok = month(s); !ok {
		return false
	}
	if s == "" || zone(s, true) {
		return true
	}
	if s, ok = day(s); !ok {
		return false
	}
	if len(s) > 0 && s[0] == 'T' {
		if s, ok = clock(s[1:]); !ok {
			return false
		}
	}
	return s == "" || zone(s, true)
}

func isInstant(s string) bool {
	s, ok := year(s)
	if !ok {
		return false
	}
	if s, ok = month(s); !ok {
		return false
	}
	if s, ok = day(s); !ok || len(s) == 0 || s[0] != 'T' {
		return false
	}
	if s, ok = clock(s[1:]); !ok {
		return false
	}
	return zone(s, false)
}

func isDate(s string) bool {
	s, ok := year(s)
	if !ok {
		return false
	}
	if s == "" {
		return true
	}
	if s, ok = month(s); !ok {
		return false
	}
	if s == "" {
		return true
	}
	s, ok = day(s)
	return ok && s == ""
}

// Number literals. JSON Schema applies pattern to strings only, so the
// schema lets any JSON number through where FHIR wants a decimal, integer,
// positiveInt or unsignedInt. The fast path checks the literal as written
// against the FHIR datatype's pattern, and integers against the 32-bit range
// FHIR gives them. The R5 schema's decimal pattern ends in "[0-9]{1,9}})?$",
// a stray brace that would demand a literal "}" after every exponent; the
// pattern below is the intended one without it.
var numberLiterals = map[string]func(string) bool{
	"decimal":     isDecimal,
	"integer":     func(s string) bool { return isInt(s, true, false) },
	"positiveInt": func(s string) bool { return isInt(s, false, true) },
	"unsignedInt": func(s string) bool { return isInt(s, false, false) },
}

// numberLiteralsR4 are the R4 (4.0.1) number literals: the R4 schema's
// decimal pattern ^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$ sets no
// digit limits, and its integer pattern ^-?([0]|([1-9][0-9]*))$ admits -0;
// integers are 32-bit as in R5.
var numberLiteralsR4 = map[string]func(string) bool{
	"decimal":     func(s string) bool { return decimalLiteral(s, 0, 0, 0) },
	"integer":     func(s string) bool { return s == "-0" || isInt(s, true, false) },
	"positiveInt": func(s string) bool { return isInt(s, false, true) },
	"unsignedInt": func(s string) bool { return isInt(s, false, false) },
}

// isDecimal matches ^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,9})?$
// on a literal the JSON parser accepted.
func isDecimal(s string) bool {
	return decimalLiteral(s, 18, 17, 9)
}

// decimalLiteral matches a decimal literal the JSON parser accepted with at
// most maxInt integer digits, maxFrac fraction digits and maxExp exponent
// digits (0: no limit).
func decimalLiteral(s string, maxInt, maxFrac, maxExp int) bool {
	over := func(n, limit int) bool { return limit > 0 && n > limit }
	s = strings.TrimPrefix(s, "-")
	n := 0
	for n < len(s) && digit(s[n]) {
		n++
	}
	if n == 0 || over(n, maxInt) || (n > 1 && s[0] == '0') {
		return false
	}
	s = s[n:]
	if len(s) > 0 && s[0] == '.' {
		n = 1
		for n < len(s) && digit(s[n]) {
			n++
		}
		if n == 1 || over(n-1, maxFrac) {
			return false
		}
		s = s[n:]
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		n = 0
		for n < len(s) && digit(s[n]) {
			n++
		}
		if n == 0 || over(n, maxExp) {
			return false
		}
		s = s[n:]
	}
	return s == ""
}

// isInt matches an integer literal without sign or leading zeros (a minus
// when signed allows it), within 32 bits, and above zero when positive.
func isInt(s string, signed, positive bool) bool {
	if strings.HasPrefix(s, "-") && (!signed || s == "-0") {
		return false
	}
	u := strings.TrimPrefix(s, "-")
	if u == "" || (len(u) > 1 && u[0] == '0') {
		return false
	}
	for i := 0; i < len(u); i++ {
		if !digit(u[i]) {
			return false
		}
	}
	v, err := strconv.ParseInt(s, 10, 32)
	return err == nil && (!positive || v > 0)
}
