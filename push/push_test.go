package push_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// keyring is an in-memory DeviceKeys.
type keyring struct {
	mu   sync.Mutex
	keys map[string]devices.DeviceKey
}

func (k *keyring) AppDeviceKey(_ context.Context, id string) (devices.DeviceKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	d, ok := k.keys[id]
	if !ok {
		return d, fmt.Errorf("device %s: %w", id, devices.ErrNotFound)
	}
	return d, nil
}

func (k *keyring) add(id, userID string) *ecdsa.PrivateKey {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.mu.Lock()
	k.keys[id] = devices.DeviceKey{DeviceID: id, UserID: userID, Key: &priv.PublicKey}
	k.mu.Unlock()
	return priv
}

func (k *keyring) revoke(id string) {
	k.mu.Lock()
	delete(k.keys, id)
	k.mu.Unlock()
}

type fixture struct {
	db   *bolt.DB
	svc  *push.Service
	keys *keyring
	now  time.Time
	mu   sync.Mutex
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "assent.db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db, keys: &keyring{keys: map[string]devices.DeviceKey{}}, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	for _, u := range []string{"u1", "u2"} {
		if err := db.CreateUser(t.Context(), store.User{ID: u, CreatedAt: f.now, UpdatedAt: f.now}); err != nil {
			t.Fatal(err)
		}
	}
	f.svc, err = push.New(push.Config{Store: db, Devices: f.keys, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func payment(userID string) push.NewRequest {
	return push.NewRequest{UserID: userID, Kind: store.PushPayment, RPName: "Shop", IP: "192.0.2.1", Country: "FI",
		Browser: "Firefox", Amount: "49.90", Currency: "EUR", Payee: "Example Shop Oy"}
}

func sign(t testing.TB, priv *ecdsa.PrivateKey, r store.PushRequest, d push.Decision) push.Decision {
	t.Helper()
	sig, err := ecdsa.SignASN1(rand.Reader, priv, d.Digest(r.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	d.Signature = sig
	return d
}

func approve(r store.PushRequest, number int) push.Decision {
	return push.Decision{RequestID: r.ID, Decision: push.Approve, Number: number, Amount: r.Amount, Currency: r.Currency, Payee: r.Payee}
}

func TestNumbers(t *testing.T) {
	f := newFixture(t)
	for range 50 {
		f.advance(3 * time.Minute)
		r, err := f.svc.Create(t.Context(), payment("u1"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Number < 10 || r.Number > 99 || len(r.Choices) != 3 || !slices.Contains(r.Choices, r.Number) {
			t.Fatalf("number %d choices %v", r.Number, r.Choices)
		}
		c := slices.Clone(r.Choices)
		slices.Sort(c)
		if len(slices.Compact(c)) != 3 {
			t.Fatalf("choices not distinct: %v", r.Choices)
		}
		if !r.ExpiresAt.Equal(f.clock().Add(120 * time.Second)) {
			t.Fatalf("expiry %v", r.ExpiresAt)
		}
	}
}

func TestOnePendingPerUser(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.Create(t.Context(), payment("u1")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Create(t.Context(), payment("u1")); !errors.Is(err, push.ErrPending) {
		t.Fatalf("second request: %v, want ErrPending", err)
	}
	if _, err := f.svc.Create(t.Context(), payment("u2")); err != nil {
		t.Fatalf("another user's request: %v", err)
	}
}

// TestDecisionRefusals sends every kind of bad decision; each is refused
// with its reason, audited, and leaves the request as it was.
func TestDecisionRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mine := f.keys.add("app_mine", "u1")
	theirs := f.keys.add("app_theirs", "u2")
	revoked := f.keys.add("app_revoked", "u1")
	f.keys.revoke("app_revoked")
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r, err := f.svc.Create(ctx, payment("u1"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := r.Choices[0]
	if wrong == r.Number {
		wrong = r.Choices[1]
	}
	tamper := func(fn func(*push.Decision)) push.Decision {
		d := approve(r, r.Number)
		fn(&d)
		return sign(t, mine, r, d)
	}
	tests := []struct {
		name   string
		device string
		d      push.Decision
		want   error
	}{
		{"forged signature", "app_mine", sign(t, forger, r, approve(r, r.Number)), push.ErrBadSignature},
		{"signature over another nonce", "app_mine", func() push.Decision {
			d := approve(r, r.Number)
			other := r
			other.Nonce = []byte("another nonce")
			return sign(t, mine, other, d)
		}(), push.ErrBadSignature},
		{"fields changed after signing", "app_mine", func() push.Decision {
			d := sign(t, mine, r, approve(r, r.Number))
			d.Amount = "1.00"
			return d
		}(), push.ErrBadSignature},
		{"tampered amount", "app_mine", tamper(func(d *push.Decision) { d.Amount = "4990" }), push.ErrTampered},
		{"tampered payee", "app_mine", tamper(func(d *push.Decision) { d.Payee = "Mallory Ltd" }), push.ErrTampered},
		{"tampered currency", "app_mine", tamper(func(d *push.Decision) { d.Currency = "USD" }), push.ErrTampered},
		{"wrong number", "app_mine", sign(t, mine, r, approve(r, wrong)), push.ErrWrongNumber},
		{"another user's device", "app_theirs", sign(t, theirs, r, approve(r, r.Number)), push.ErrUnknownRequest},
		{"revoked device", "app_revoked", sign(t, revoked, r, approve(r, r.Number)), push.ErrUnknownDevice},
		{"unknown device", "app_nobody", sign(t, mine, r, approve(r, r.Number)), push.ErrUnknownDevice},
		{"malformed", "app_mine", push.Decision{RequestID: r.ID, Decision: "maybe"}, push.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := f.db.ListAudit(ctx, 0, 1000)
			_, err := f.svc.Decide(ctx, tc.device, tc.d)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decide = %v, want %v", err, tc.want)
			}
			got, _ := f.db.GetPushRequest(ctx, "u1", r.ID)
			if got.Status != store.PushPending || got.Version != 1 {
				t.Errorf("request changed: %s v%d", got.Status, got.Version)
			}
			after, _ := f.db.ListAudit(ctx, 0, 1000)
			if len(after) != len(before)+1 || after[len(after)-1].Kind != "push.decision_refused" || after[len(after)-1].Details["reason"] != push.Reason(tc.want) {
				t.Errorf("not audited as refused with reason %s: %+v", push.Reason(tc.want), after[len(after)-1])
			}
		})
	}

	// The right decision wins once; a replay and a late one are refused.
	d := sign(t, mine, r, approve(r, r.Number))
	got, err := f.svc.Decide(ctx, "app_mine", d)
	if err != nil || got.Status != store.PushApproved || got.DeviceID != "app_mine" {
		t.Fatalf("valid decision: %+v, %v", got, err)
	}
	if _, err := f.svc.Decide(ctx, "app_mine", d); !errors.Is(err, push.ErrAlreadyDecided) {
		t.Errorf("replayed decision: %v, want ErrAlreadyDecided", err)
	}
}

func TestExpiryIsExact(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k := f.keys.add("app_1", "u1")
	r, _ := f.svc.Create(ctx, payment("u1"))
	f.advance(120 * time.Second)
	if _, err := f.svc.Decide(ctx, "app_1", sign(t, k, r, approve(r, r.Number))); !errors.Is(err, push.ErrExpired) {
		t.Fatalf("at the deadline: %v, want ErrExpired", err)
	}
	f2 := newFixture(t)
	k2 := f2.keys.add("app_1", "u1")
	r2, _ := f2.svc.Create(ctx, payment("u1"))
	f2.advance(120*time.Second - time.Nanosecond)
	if _, err := f2.svc.Decide(ctx, "app_1", sign(t, k2, r2, approve(r2, r2.Number))); err != nil {
		t.Fatalf("just before the deadline: %v", err)
	}
}

func TestNotMeReachesRiskHistory(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k := f.keys.add("app_1", "u1")
	r, _ := f.svc.Create(ctx, payment("u1"))
	d := push.Decision{RequestID: r.ID, Decision: push.Deny, NotMe: true, Amount: r.Amount, Currency: r.Currency, Payee: r.Payee}
	got, err := f.svc.Decide(ctx, "app_1", sign(t, k, r, d))
	if err != nil || got.Status != store.PushDenied || !got.NotMe {
		t.Fatalf("deny: %+v, %v", got, err)
	}
	if last, err := f.db.LastReport(ctx, "u1"); err != nil || !last.Equal(f.clock()) {
		t.Errorf("LastReport = %v, %v", last, err)
	}
	evs, _ := f.db.ListAudit(ctx, 0, 100)
	if evs[len(evs)-1].Kind != "push.reported" {
		t.Errorf("last event %s, want push.reported", evs[len(evs)-1].Kind)
	}
}

// TestConcurrentDecisions races 100 valid decisions from four devices of
// the same user on one request: exactly one wins.
func TestConcurrentDecisions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	var keys []*ecdsa.PrivateKey
	for i := range 4 {
		keys = append(keys, f.keys.add(fmt.Sprint("app_", i), "u1"))
	}
	r, _ := f.svc.Create(ctx, payment("u1"))
	events, cancel := f.svc.Subscribe("u1")
	defer cancel()
	var wins, decided atomic.Int32
	var wg sync.WaitGroup
	for i := range 100 {
		d := sign(t, keys[i%4], r, approve(r, r.Number))
		wg.Go(func() {
			_, err := f.svc.Decide(ctx, fmt.Sprint("app_", i%4), d)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, push.ErrAlreadyDecided):
				decided.Add(1)
			default:
				t.Errorf("decision %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || decided.Load() != 99 {
		t.Fatalf("%d wins, %d already decided; want 1 and 99", wins.Load(), decided.Load())
	}
	select {
	case e := <-events:
		if e.Request.ID != r.ID || e.Request.Status != store.PushApproved {
			t.Errorf("event %+v", e.Request)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event for the decision")
	}
}

type wakerFunc func(context.Context, store.PushRequest) int

func (f wakerFunc) Wake(ctx context.Context, r store.PushRequest) int { return f(ctx, r) }

func TestCreateWakesDevices(t *testing.T) {
	f := newFixture(t)
	woken := make(chan string, 1)
	svc, err := push.New(push.Config{Store: f.db, Devices: f.keys, Now: f.clock,
		Waker: wakerFunc(func(_ context.Context, r store.PushRequest) int { woken <- r.ID; return 1 })})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Create(t.Context(), payment("u1"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-woken:
		if id != r.ID {
			t.Errorf("woke for %s, want %s", id, r.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waker was not called")
	}
}
