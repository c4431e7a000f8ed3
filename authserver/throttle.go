package authserver

import (
	"sync"
	"time"
)

// throttle counts recent sign-in failures per key (an IP, or the keyed hash
// of an e-mail address whether or not it has an account) in a sliding
// window. It lives in memory: a restart forgets it, while the per-account
// lock that matters for PSD2 is kept in the store.
type throttle struct {
	mu     sync.Mutex
	now    func() time.Time
	window time.Duration
	fails  map[string][]time.Time
	// seen holds, per key, the members seen with it and when last: the
	// distinct accounts tried from one network.
	seen map[string]map[string]time.Time
}

// maxThrottleKeys bounds memory under a flood of distinct keys.
const maxThrottleKeys = 100_000

func newThrottle(now func() time.Time, window time.Duration) *throttle {
	return &throttle{now: now, window: window, fails: map[string][]time.Time{}, seen: map[string]map[string]time.Time{}}
}

// count returns the failures for key within the window.
func (t *throttle) count(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.prune(key))
}

// countSince returns the failures for key at or after since (and within
// the window).
func (t *throttle) countSince(key string, since time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := t.prune(key)
	n := 0
	for i := len(ts) - 1; i >= 0 && !ts[i].Before(since); i-- {
		n++
	}
	return n
}

// see records that member was tried under key (an account from a network).
func (t *throttle) see(key, member string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.seen[key]
	if m == nil {
		if len(t.seen) >= maxThrottleKeys {
			t.sweepSeen()
		}
		m = map[string]time.Time{}
		t.seen[key] = m
	}
	if len(m) < 10_000 {
		m[member] = t.now()
	}
}

// distinctSince counts the members seen under key at or after since.
func (t *throttle) distinctSince(key string, since time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, at := range t.seen[key] {
		if !at.Before(since) {
			n++
		}
	}
	return n
}

func (t *throttle) sweepSeen() {
	cut := t.now().Add(-t.window)
	for k, m := range t.seen {
		for member, at := range m {
			if at.Before(cut) {
				delete(m, member)
			}
		}
		if len(m) == 0 {
			delete(t.seen, k)
		}
	}
	if len(t.seen) >= maxThrottleKeys {
		clear(t.seen)
	}
}

// fail records a failure for each key and returns the largest count.
func (t *throttle) fail(keys ...string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) >= maxThrottleKeys {
		t.sweep()
	}
	n := 0
	now := t.now()
	for _, k := range keys {
		ts := append(t.prune(k), now)
		if len(ts) > 1000 {
			ts = ts[len(ts)-1000:]
		}
		t.fails[k] = ts
		n = max(n, len(ts))
	}
	return n
}

// reset forgets the failures for key (after a success).
func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}

func (t *throttle) prune(key string) []time.Time {
	ts := t.fails[key]
	cut := t.now().Add(-t.window)
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	if i == len(ts) {
		delete(t.fails, key)
		return nil
	}
	return ts[i:]
}

// sweep drops keys with no failure in the window; if that frees nothing,
// it drops everything rather than grow without bound.
func (t *throttle) sweep() {
	for k := range t.fails {
		t.prune(k)
	}
	if len(t.fails) >= maxThrottleKeys {
		clear(t.fails)
	}
}

// delay is the pause before answering the n-th consecutive failure:
// base, 2*base, 4*base ... capped at limit.
func delay(n int, base, limit time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
