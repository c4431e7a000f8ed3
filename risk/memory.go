package risk

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// MemoryHistory is an in-memory History for tests, simulations and small
// deployments. It is safe for concurrent use. It keeps at most a bounded
// number of sign-ins, payments and failure times per user and per network;
// Prune drops what is older than a cut-off.
type MemoryHistory struct {
	mu       sync.RWMutex
	users    map[string]*memUser
	networks map[netip.Prefix]*memNetwork
}

const (
	memMaxSignIns  = 200
	memMaxPayments = 1000
	memMaxFailures = 4096
)

type memUser struct {
	signIns    []SignIn        // oldest first
	payments   []PaymentRecord // oldest first
	devices    map[string]time.Time
	payees     map[string]struct{}
	failures   []time.Time // oldest first
	lastReport time.Time
}

type memNetwork struct {
	failures []time.Time          // oldest first
	accounts map[string]time.Time // account -> last attempt
}

var _ History = (*MemoryHistory)(nil)

// NewMemoryHistory returns an empty history.
func NewMemoryHistory() *MemoryHistory {
	return &MemoryHistory{users: map[string]*memUser{}, networks: map[netip.Prefix]*memNetwork{}}
}

func (h *MemoryHistory) user(id string) *memUser {
	u := h.users[id]
	if u == nil {
		u = &memUser{devices: map[string]time.Time{}, payees: map[string]struct{}{}}
		h.users[id] = u
	}
	return u
}

func (h *MemoryHistory) network(ip netip.Addr) *memNetwork {
	p := NetworkOf(ip)
	n := h.networks[p]
	if n == nil {
		n = &memNetwork{accounts: map[string]time.Time{}}
		h.networks[p] = n
	}
	return n
}

// insertSorted appends v keeping s ordered by time (appends are almost
// always in order) and drops the oldest beyond max.
func insertSorted[T any](s []T, v T, t func(T) time.Time, max int) []T {
	i := len(s)
	for i > 0 && t(s[i-1]).After(t(v)) {
		i--
	}
	s = append(s, v)
	copy(s[i+1:], s[i:])
	s[i] = v
	if len(s) > max {
		s = append(s[:0], s[len(s)-max:]...)
	}
	return s
}

func ident(t time.Time) time.Time { return t }

// AddSignIn records a successful sign-in. A strong sign-in also makes its
// device known; every sign-in counts as an attempt from its network.
func (h *MemoryHistory) AddSignIn(userID string, s SignIn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.user(userID)
	u.signIns = insertSorted(u.signIns, s, func(s SignIn) time.Time { return s.Time }, memMaxSignIns)
	if s.Strong && s.DeviceID != "" {
		if first, ok := u.devices[s.DeviceID]; !ok || s.Time.Before(first) {
			u.devices[s.DeviceID] = s.Time
		}
	}
	if s.IP.IsValid() {
		n := h.network(s.IP)
		if s.Time.After(n.accounts[userID]) {
			n.accounts[userID] = s.Time
		}
	}
}

// AddDevice records that the user enrolled or verified the device at t.
func (h *MemoryHistory) AddDevice(userID, deviceID string, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.user(userID)
	if first, ok := u.devices[deviceID]; !ok || t.Before(first) {
		u.devices[deviceID] = t
	}
}

// AddFailure records a failed attempt on the account from ip (which may be
// the zero Addr when unknown).
func (h *MemoryHistory) AddFailure(userID string, ip netip.Addr, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.user(userID)
	u.failures = insertSorted(u.failures, t, ident, memMaxFailures)
	if ip.IsValid() {
		n := h.network(ip)
		n.failures = insertSorted(n.failures, t, ident, memMaxFailures)
		if t.After(n.accounts[userID]) {
			n.accounts[userID] = t
		}
	}
}

// AddPayment records an authorised payment.
func (h *MemoryHistory) AddPayment(userID string, p PaymentRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.user(userID)
	u.payments = insertSorted(u.payments, p, func(p PaymentRecord) time.Time { return p.Time }, memMaxPayments)
	if p.Payee != "" {
		u.payees[p.Payee] = struct{}{}
	}
}

// AddReport records that the user reported "this wasn't me" at t.
func (h *MemoryHistory) AddReport(userID string, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.user(userID)
	if t.After(u.lastReport) {
		u.lastReport = t
	}
}

// Prune forgets failures and network attempts before cut. Sign-ins,
// payments and devices are kept (bounded per user).
func (h *MemoryHistory) Prune(cut time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range h.users {
		u.failures = dropBefore(u.failures, cut)
	}
	for p, n := range h.networks {
		n.failures = dropBefore(n.failures, cut)
		for a, t := range n.accounts {
			if t.Before(cut) {
				delete(n.accounts, a)
			}
		}
		if len(n.failures) == 0 && len(n.accounts) == 0 {
			delete(h.networks, p)
		}
	}
}

func dropBefore(s []time.Time, cut time.Time) []time.Time {
	i := sort.Search(len(s), func(i int) bool { return !s[i].Before(cut) })
	return append(s[:0], s[i:]...)
}

// countSince counts the times at or after since in a sorted slice.
func countSince(s []time.Time, since time.Time) int {
	i := sort.Search(len(s), func(i int) bool { return !s[i].Before(since) })
	return len(s) - i
}

// User implements History.
func (h *MemoryHistory) User(ctx context.Context, q UserQuery, f *UserFacts) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	u := h.users[q.UserID]
	if u == nil {
		return nil
	}
	for i := len(u.signIns) - 1; i >= 0 && len(f.SignIns) < q.SignIns; i-- {
		f.SignIns = append(f.SignIns, u.signIns[i])
	}
	for i := len(u.payments) - 1; i >= 0 && len(f.Payments) < q.Payments; i-- {
		p := &u.payments[i]
		if p.Time.Before(q.PaymentsSince) {
			break
		}
		f.Payments = append(f.Payments, *p)
	}
	if q.DeviceID != "" {
		f.DeviceFirstSeen = u.devices[q.DeviceID]
	}
	if q.Payee != "" {
		_, f.PayeeKnown = u.payees[q.Payee]
	}
	f.Failures = countSince(u.failures, q.FailuresSince)
	f.LastReport = u.lastReport
	return nil
}

// Network implements History.
func (h *MemoryHistory) Network(ctx context.Context, q NetworkQuery, f *NetworkFacts) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := h.networks[q.Network]
	if n == nil {
		return nil
	}
	f.Failures = countSince(n.failures, q.FailuresSince)
	for _, t := range n.accounts {
		if !t.Before(q.AccountsSince) {
			f.Accounts++
		}
	}
	return nil
}
