package push_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
)

func signIn(userID, rp string) push.NewRequest {
	return push.NewRequest{UserID: userID, Kind: store.PushSignIn, RPName: rp, IP: "192.0.2.1", Country: "FI", Browser: "Firefox"}
}

func deny(r store.PushRequest) push.Decision {
	return push.Decision{RequestID: r.ID, Decision: push.Deny, Amount: r.Amount, Currency: r.Currency, Payee: r.Payee}
}

func auditKinds(t *testing.T, f *fixture) map[string][]store.AuditEvent {
	t.Helper()
	evs, err := f.db.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]store.AuditEvent{}
	for _, e := range evs {
		out[e.Kind] = append(out[e.Kind], e)
	}
	return out
}

// TestOnePendingPerUserAndRP: a second request of the same relying party
// is refused while the first waits, another relying party's is not, and
// the refusal is audited.
func TestOnePendingPerUserAndRP(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.svc.Create(ctx, signIn("u1", "Assent")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Create(ctx, signIn("u1", "Assent")); !errors.Is(err, push.ErrPending) {
		t.Fatalf("second request of the same RP: %v, want ErrPending", err)
	}
	if _, err := f.svc.Create(ctx, payment("u1")); err != nil {
		t.Fatalf("another RP's request: %v", err)
	}
	if p, err := f.svc.Pending(ctx, "u1"); err != nil || len(p) != 2 {
		t.Fatalf("Pending = %d, %v; want 2", len(p), err)
	}
	refused := auditKinds(t, f)["push.refused"]
	if len(refused) != 1 || refused[0].Details["reason"] != "already_pending" || refused[0].Subject != "u1" {
		t.Errorf("push.refused events: %+v", refused)
	}
	// Once it has expired a new one may go.
	f.advance(120 * time.Second)
	if _, err := f.svc.Create(ctx, signIn("u1", "Assent")); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

// TestRateLimitPerUser: the eleventh request within 15 minutes is refused
// (audited), another user is unaffected, and the window slides.
func TestRateLimitPerUser(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// The default: 10 within 15 minutes (different relying parties, so
	// that one pending request each is not what stops them).
	for i := range 10 {
		if _, err := f.svc.Create(ctx, signIn("u1", fmt.Sprint("RP ", i))); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		f.advance(time.Minute)
	}
	if _, err := f.svc.Create(ctx, signIn("u1", "RP 10")); !errors.Is(err, push.ErrRateLimited) {
		t.Fatalf("eleventh request within 15 minutes: %v, want ErrRateLimited", err)
	}
	f.advance(5*time.Minute + time.Second)
	if _, err := f.svc.Create(ctx, signIn("u1", "RP 10")); err != nil {
		t.Fatalf("once the first left the window: %v", err)
	}

	g := newFixture(t)
	svc, err := push.New(push.Config{Store: g.db, Devices: g.keys, Now: g.clock, TTL: 10 * time.Second,
		Fatigue: push.Fatigue{MaxRequests: 3, RequestWindow: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := svc.Create(ctx, signIn("u1", "Assent")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		g.advance(10 * time.Second)
	}
	if _, err := svc.Create(ctx, signIn("u1", "Assent")); !errors.Is(err, push.ErrRateLimited) {
		t.Fatalf("fourth request within the window: %v, want ErrRateLimited", err)
	}
	if _, err := svc.Create(ctx, signIn("u2", "Assent")); err != nil {
		t.Fatalf("another user: %v", err)
	}
	if ev := auditKinds(t, g)["push.refused"]; len(ev) != 1 || ev[0].Details["reason"] != "rate_limited" {
		t.Errorf("push.refused events: %+v", ev)
	}
	g.advance(30*time.Second + time.Nanosecond) // the first request leaves the window
	if _, err := svc.Create(ctx, signIn("u1", "Assent")); err != nil {
		t.Fatalf("after the window slid: %v", err)
	}
}

// TestLockAfterRepeatedDenials: two denials and a wrong number within ten
// minutes lock the user's push approvals for 15 minutes: audited once,
// announced to subscribers, new requests refused, an approval of what is
// pending refused with the request unchanged, and all back after the lock.
func TestLockAfterRepeatedDenials(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k := f.keys.add("app_1", "u1")
	events, cancel := f.svc.Subscribe("u1")
	defer cancel()

	for i := range 2 {
		r, err := f.svc.Create(ctx, signIn("u1", "Assent"))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if _, err := f.svc.Decide(ctx, "app_1", sign(t, k, r, deny(r))); err != nil {
			t.Fatalf("deny %d: %v", i, err)
		}
		f.advance(4 * time.Minute)
	}
	if _, locked := f.svc.LockedUntil("u1"); locked {
		t.Fatal("locked after two denials")
	}
	// The second denial was 4 minutes ago, the first 8: a wrong number now
	// is the third within 10 minutes.
	bank, err := f.svc.Create(ctx, payment("u1"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.Create(ctx, signIn("u1", "Assent"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := r.Choices[0]
	if wrong == r.Number {
		wrong = r.Choices[1]
	}
	if _, err := f.svc.Decide(ctx, "app_1", sign(t, k, r, approve(r, wrong))); !errors.Is(err, push.ErrWrongNumber) {
		t.Fatalf("wrong number: %v", err)
	}
	until, locked := f.svc.LockedUntil("u1")
	if !locked || !until.Equal(f.clock().Add(15*time.Minute)) {
		t.Fatalf("LockedUntil = %v, %v; want locked until now+15m", until, locked)
	}
	announced := false
	for !announced {
		select {
		case e := <-events:
			announced = e.Request.ID == "" && e.LockedUntil.Equal(until)
		case <-time.After(5 * time.Second):
			t.Fatal("the lock was not announced to subscribers")
		}
	}
	locks := auditKinds(t, f)["push.locked"]
	if len(locks) != 1 || locks[0].Subject != "u1" || locks[0].Details["until"] == "" || locks[0].Details["request_id"] != r.ID {
		t.Errorf("push.locked events: %+v", locks)
	}

	// Locked: no new request, no approval; a denial still counts.
	if _, err := f.svc.Create(ctx, signIn("u1", "Other RP")); !errors.Is(err, push.ErrLocked) {
		t.Errorf("new request while locked: %v, want ErrLocked", err)
	}
	if _, err := f.svc.Decide(ctx, "app_1", sign(t, k, r, approve(r, r.Number))); !errors.Is(err, push.ErrLocked) {
		t.Errorf("approval while locked: %v, want ErrLocked", err)
	}
	if got, _ := f.db.GetPushRequest(ctx, "u1", r.ID); got.Status != store.PushPending || got.Version != 1 {
		t.Errorf("refused approval changed the request: %s v%d", got.Status, got.Version)
	}
	if _, err := f.svc.Wait(ctx, "u1", bank.ID); !errors.Is(err, push.ErrLocked) {
		t.Errorf("Wait while locked: %v, want ErrLocked", err)
	}
	if got, err := f.svc.Decide(ctx, "app_1", sign(t, k, bank, deny(bank))); err != nil || got.Status != store.PushDenied {
		t.Errorf("denial while locked: %+v, %v", got, err)
	}
	if n := len(auditKinds(t, f)["push.locked"]); n != 1 {
		t.Errorf("%d push.locked events, want 1", n)
	}

	// After 15 minutes push works again.
	f.advance(15 * time.Minute)
	if _, locked := f.svc.LockedUntil("u1"); locked {
		t.Fatal("still locked after 15 minutes")
	}
	if _, err := f.svc.Create(ctx, signIn("u1", "Assent")); err != nil {
		t.Errorf("request after the lock: %v", err)
	}
}

// TestUnlock: an operator lifts the lock at once, audited.
func TestUnlock(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	svc, err := push.New(push.Config{Store: f.db, Devices: f.keys, Now: f.clock, Fatigue: push.Fatigue{MaxDenials: 1}})
	if err != nil {
		t.Fatal(err)
	}
	k := f.keys.add("app_1", "u1")
	r, _ := svc.Create(ctx, signIn("u1", "Assent"))
	if _, err := svc.Decide(ctx, "app_1", sign(t, k, r, deny(r))); err != nil {
		t.Fatal(err)
	}
	if _, locked := svc.LockedUntil("u1"); !locked {
		t.Fatal("one denial with MaxDenials 1 did not lock")
	}
	if !svc.Unlock(ctx, "u1", "admin") || svc.Unlock(ctx, "u1", "admin") {
		t.Fatal("Unlock should report true once")
	}
	if _, err := svc.Create(ctx, signIn("u1", "Assent")); err != nil {
		t.Errorf("after unlock: %v", err)
	}
	if ev := auditKinds(t, f)["push.unlocked"]; len(ev) != 1 || ev[0].Actor != "admin" {
		t.Errorf("push.unlocked events: %+v", ev)
	}
}

// TestNumberMatchingPolicy: always asks for a number; by risk, only when
// the level is not low (unknown counts as not low).
func TestNumberMatchingPolicy(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k := f.keys.add("app_1", "u1")
	byRisk, err := push.New(push.Config{Store: f.db, Devices: f.keys, Now: f.clock, NumberMatching: push.NumberByRisk})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		svc   *push.Service
		level string
		want  bool
	}{
		{f.svc, "low", true}, {f.svc, "high", true},
		{byRisk, "low", false}, {byRisk, "medium", true}, {byRisk, "", true},
	}
	for i, tc := range tests {
		n := signIn("u1", "Assent")
		n.RiskLevel = tc.level
		r, err := tc.svc.Create(ctx, n)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got := r.Number != 0 && len(r.Choices) == 3; got != tc.want {
			t.Errorf("case %d (level %q): number matching %v, want %v (%d %v)", i, tc.level, got, tc.want, r.Number, r.Choices)
		}
		if !tc.want {
			// Without a number, an approval must not carry one.
			if _, err := tc.svc.Decide(ctx, "app_1", sign(t, k, r, approve(r, 42))); !errors.Is(err, push.ErrWrongNumber) {
				t.Errorf("case %d: a number where none was asked: %v", i, err)
			}
			if got, err := tc.svc.Decide(ctx, "app_1", sign(t, k, r, approve(r, 0))); err != nil || got.Status != store.PushApproved {
				t.Errorf("case %d: approval without number: %+v %v", i, got, err)
			}
		}
		f.advance(3 * time.Minute)
	}
	if _, err := push.New(push.Config{Store: f.db, Devices: f.keys, NumberMatching: "sometimes"}); err == nil {
		t.Error("an unknown number matching policy was accepted")
	}
}
