package withings

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Status families of the Withings API (docs/providers/withings.md). Withings answers HTTP 200
// and puts the outcome in the body's integer status; 0 alone is success.
const (
	statusOK          = 0
	statusAuth        = 401
	statusTimeout     = 522
	statusRateLimited = 601
	// StatusCallbackInvalid is the notify subscribe status meaning "the
	// callback URL is either unknown or invalid": Withings could not reach
	// it with a HEAD request.
	StatusCallbackInvalid = 293
)

type span struct{ lo, hi int }

// invalidParams are the "invalid params" statuses of the specification.
var invalidParams = []span{
	{201, 213}, {216, 218}, {220, 221}, {223, 223}, {225, 225}, {227, 230},
	{234, 236}, {238, 238}, {240, 252}, {254, 254}, {260, 267}, {271, 272},
	{275, 276}, {283, 288}, {290, 290}, {293, 295}, {297, 297}, {300, 304},
	{321, 321}, {323, 353}, {380, 382}, {400, 400}, {501, 511}, {523, 523},
	{532, 532}, {3017, 3019},
}

// StatusKind classifies a non-zero Withings status into the error kinds the
// engine and the queue act on:
//
//   - 100–102, 200, 401: authentication failed → ohx.KindAuth (refresh, then
//     re-link);
//   - 601: too many requests → ohx.KindRateLimited;
//   - 522 (timeout), 524 (bad state) and the "an error occurred" family →
//     ohx.KindTransient;
//   - the "invalid params" family, 214/277/2553/2555 (unauthorized service)
//     and 2554 (not implemented) → ohx.KindPermanent.
//
// Unknown statuses are treated as transient, so a job retries a bounded
// number of times rather than dropping data.
func StatusKind(status int) ohx.ErrorKind {
	switch {
	case status == statusOK:
		return ohx.KindUnknown
	case status >= 100 && status <= 102, status == 200, status == statusAuth:
		return ohx.KindAuth
	case status == statusRateLimited:
		return ohx.KindRateLimited
	case status == 214, status == 277, status == 2553, status == 2554, status == 2555:
		return ohx.KindPermanent
	case status == statusTimeout, status == 524:
		return ohx.KindTransient
	}
	for _, s := range invalidParams {
		if status >= s.lo && status <= s.hi {
			return ohx.KindPermanent
		}
	}
	return ohx.KindTransient
}

// untilNextMinute returns how long a 601 asks to wait: Withings counts
// requests per application per calendar minute, so the next minute plus up to
// five seconds of jitter, spreading the workers that all hit the limit.
func untilNextMinute(now time.Time) time.Duration {
	next := now.Truncate(time.Minute).Add(time.Minute)
	return next.Sub(now) + time.Duration(rand.Int64N(int64(5*time.Second)))
}

// statusError builds the classified error of a response whose body status is
// not 0. Its message names the operation and codes only: Withings' "error"
// text is not included because it may echo request values.
func statusError(op string, httpStatus, status int, now time.Time) *ohx.ProviderError {
	e := &ohx.ProviderError{
		Provider:   Name,
		Op:         op,
		Kind:       StatusKind(status),
		HTTPStatus: httpStatus,
		Code:       strconv.Itoa(status),
	}
	if e.Kind == ohx.KindRateLimited {
		e.RetryAfter = untilNextMinute(now)
	}
	return e
}

// httpError classifies a non-200 HTTP answer (Withings normally answers 200,
// but proxies and its edge may not).
func httpError(op string, httpStatus int, retryAfter time.Duration, now time.Time) *ohx.ProviderError {
	e := &ohx.ProviderError{Provider: Name, Op: op, HTTPStatus: httpStatus}
	switch {
	case httpStatus == http.StatusTooManyRequests:
		e.Kind = ohx.KindRateLimited
		e.RetryAfter = retryAfter
		if e.RetryAfter <= 0 {
			e.RetryAfter = untilNextMinute(now)
		}
	case httpStatus == http.StatusUnauthorized:
		e.Kind = ohx.KindAuth
	case httpStatus == http.StatusRequestTimeout, httpStatus >= 500:
		e.Kind = ohx.KindTransient
	default:
		e.Kind = ohx.KindPermanent
	}
	return e
}
