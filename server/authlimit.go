package server

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Failed API authentication is limited per client address: each failure
// spends one token of the address's budget (AuthFailuresPerMinute per
// minute, as many in a burst); an address with no token left gets 429 for
// every request, right key or not, so guessing keys gains nothing. Each
// failure within the budget is audited ("api.auth_failed"); the throttled
// ones are logged. The budgets are per process: several replicas allow one
// budget each.

// maxTrackedAddrs bounds the addresses remembered; past it the table starts
// afresh (a flood of addresses cannot grow memory).
const maxTrackedAddrs = 10000

type authFailures struct {
	mu    sync.Mutex
	addrs map[netip.Addr]*rate.Limiter
}

func (f *authFailures) limiter(a netip.Addr, perMinute int, create bool) *rate.Limiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.addrs[a]; l != nil || !create {
		return l
	}
	if f.addrs == nil || len(f.addrs) >= maxTrackedAddrs {
		f.addrs = map[netip.Addr]*rate.Limiter{}
	}
	l := rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute)
	f.addrs[a] = l
	return l
}

// clientAddr returns the request's client address (Config.ClientIP, else
// the connection's remote address); IPv6 addresses count by their /64.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	var a netip.Addr
	ok := false
	if s.cfg.ClientIP != nil {
		a, ok = s.cfg.ClientIP(r)
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		a, err = netip.ParseAddr(host)
		ok = err == nil
	}
	if !ok {
		return netip.Addr{}
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// authThrottled answers 429 when the client address has used up its budget
// of failed authentications; it reports whether it answered.
func (s *Server) authThrottled(w http.ResponseWriter, r *http.Request) bool {
	l := s.failures.limiter(s.clientAddr(r), s.cfg.AuthFailuresPerMinute, false)
	if l == nil || l.TokensAt(s.cfg.Now()) >= 1 {
		return false
	}
	s.cfg.Logger.Warn("API request from an address throttled after failed authentications",
		zap.String("client", s.clientAddr(r).String()))
	w.Header().Set("Retry-After", "60")
	writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed authentications from this address")
	return true
}

// authFailed answers 401, spends one token of the address's budget and
// audits the failure.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request) {
	addr := s.clientAddr(r)
	s.failures.limiter(addr, s.cfg.AuthFailuresPerMinute, true).AllowN(s.cfg.Now(), 1)
	s.audit(r.Context(), "api.auth_failed", zap.String("client", addr.String()), zap.String("method", r.Method),
		zap.Bool("key_sent", r.Header.Get("Authorization") != ""))
	w.Header().Set("WWW-Authenticate", `Bearer realm="ohx"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "a valid API key is required")
}
