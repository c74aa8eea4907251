package server

import (
	"context"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
)

// DefaultNotifyLinkTTL is how long a link looked up for a notification is
// reused for the next notifications of the same user (Config.NotifyLinkTTL).
const DefaultNotifyLinkTTL = 250 * time.Millisecond

// maxNotifyLinks bounds the links the notification path remembers.
const maxNotifyLinks = 4096

// notifyLinks remembers, for Config.NotifyLinkTTL, the links notifications
// were looked up for: a burst names the same few users again and again, and
// the lookup (a database query) would otherwise cost more than the rest of
// the intake. Only found links are kept (a user linked a moment ago is never
// refused from memory), the server's own writes of a link forget it, and a
// link another process changed is seen within the TTL. A stale answer is
// harmless: the worker loads the link again and re-applies its status and
// consent before it syncs anything.
type notifyLinks struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	links map[notifyKey]cachedLink
}

type notifyKey struct{ provider, user string }

type cachedLink struct {
	link  ohx.Link
	until time.Time
}

func (c *notifyLinks) get(provider, user string) (ohx.Link, bool) {
	if c.ttl <= 0 {
		return ohx.Link{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.links[notifyKey{provider, user}]
	if !ok || !c.now().Before(e.until) {
		return ohx.Link{}, false
	}
	return e.link, true
}

func (c *notifyLinks) put(provider, user string, l ohx.Link) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.links) >= maxNotifyLinks {
		for k, e := range c.links {
			if !now.Before(e.until) {
				delete(c.links, k)
			}
		}
		if len(c.links) >= maxNotifyLinks {
			clear(c.links)
		}
	}
	c.links[notifyKey{provider, user}] = cachedLink{link: l, until: now.Add(c.ttl)}
}

// forget drops what is remembered of a link: the entry of its user, and any
// entry that holds the link itself (a deletion knows only the link's id;
// the scan is bounded by maxNotifyLinks and runs on link writes only).
func (c *notifyLinks) forget(l ohx.Link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.Provider != "" || l.ExternalUserID != "" {
		delete(c.links, notifyKey{l.Provider, l.ExternalUserID})
	}
	if l.ID == "" {
		return
	}
	for k, e := range c.links {
		if e.link.ID == l.ID {
			delete(c.links, k)
		}
	}
}

// notifiedLink looks up the link of a notified user: from the links
// remembered for notifications, else from the store, where concurrent
// notifications for the same user share one lookup in flight. The shared
// lookup is bounded by its own timeout, so one caller giving up does not
// fail the others.
func (s *Server) notifiedLink(ctx context.Context, provider, user string) (ohx.Link, error) {
	if l, ok := s.notified.get(provider, user); ok {
		return l, nil
	}
	ch := s.lookups.DoChan(provider+"\x00"+user, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultNotifyTimeout)
		defer cancel()
		l, err := s.cfg.Store.LinkByExternalUser(lctx, provider, user)
		if err == nil {
			s.notified.put(provider, user, l)
		}
		return l, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return ohx.Link{}, r.Err
		}
		return r.Val.(ohx.Link), nil
	case <-ctx.Done():
		return ohx.Link{}, ctx.Err()
	}
}
