package push

import (
	"slices"
	"sync"
	"time"

	"github.com/assent-auth/assent/store"
)

// Event tells a subscriber that a request was created or decided, or
// (with LockedUntil set and Request empty) that the user's push approvals
// were locked after repeated denials.
type Event struct {
	Request     store.PushRequest
	LockedUntil time.Time
}

// hub fans events out to the subscribers of a user, in this process. A
// subscriber is a buffered channel or a function; functions run while the
// hub is locked, so they must only hand the event on.
type hub struct {
	mu   sync.Mutex
	subs map[string][]*subscriber
}

type subscriber struct {
	ch chan Event
	fn func(Event)
}

func newHub() *hub { return &hub{subs: map[string][]*subscriber{}} }

func (h *hub) add(userID string, s *subscriber) func() {
	h.mu.Lock()
	h.subs[userID] = append(h.subs[userID], s)
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			rest := slices.DeleteFunc(h.subs[userID], func(x *subscriber) bool { return x == s })
			if len(rest) == 0 {
				delete(h.subs, userID)
			} else {
				h.subs[userID] = rest
			}
		})
	}
}

func (h *hub) subscribe(userID string) (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, 16)}
	return s.ch, h.add(userID, s)
}

func (h *hub) subscribeFunc(userID string, fn func(Event)) func() {
	return h.add(userID, &subscriber{fn: fn})
}

func (h *hub) publish(userID string, e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subs[userID] {
		if s.fn != nil {
			s.fn(e)
			continue
		}
		select {
		case s.ch <- e:
		default: // a slow subscriber re-reads the store
		}
	}
}
