package push

import (
	"sync"

	"github.com/assent-auth/assent/store"
)

// Event tells a subscriber that a request was created or decided.
type Event struct {
	Request store.PushRequest
}

// hub fans events out to the subscribers of a user, in this process.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan Event]struct{}
}

func newHub() *hub { return &hub{subs: map[string]map[chan Event]struct{}{}} }

func (h *hub) subscribe(userID string) (<-chan Event, func()) {
	ch := make(chan Event, 16)
	h.mu.Lock()
	if h.subs[userID] == nil {
		h.subs[userID] = map[chan Event]struct{}{}
	}
	h.subs[userID][ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[userID], ch)
			if len(h.subs[userID]) == 0 {
				delete(h.subs, userID)
			}
			h.mu.Unlock()
		})
	}
}

func (h *hub) publish(userID string, e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[userID] {
		select {
		case ch <- e:
		default: // a slow subscriber re-reads the store
		}
	}
}
