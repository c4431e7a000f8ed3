package push_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
)

func TestFormatMinor(t *testing.T) {
	tests := []struct {
		minor  int64
		digits int
		want   string
	}{
		{4990, 2, "49.90"}, {5, 2, "0.05"}, {0, 2, "0.00"}, {1200, 0, "1200"}, {1234, 3, "1.234"}, {100000000, 2, "1000000.00"},
	}
	for _, tc := range tests {
		got, err := push.FormatMinor(tc.minor, tc.digits)
		if err != nil || got != tc.want {
			t.Errorf("FormatMinor(%d, %d) = %q, %v; want %q", tc.minor, tc.digits, got, err, tc.want)
		}
	}
	for _, bad := range [][2]int64{{-1, 2}, {1, -1}, {1, 5}} {
		if _, err := push.FormatMinor(bad[0], int(bad[1])); !errors.Is(err, push.ErrInvalidRequest) {
			t.Errorf("FormatMinor(%d, %d): %v, want ErrInvalidRequest", bad[0], bad[1], err)
		}
	}
}

// TestCreateRefusesMalformed: a payment must carry a well-formed amount,
// currency and payee; a sign-in none of them.
func TestCreateRefusesMalformed(t *testing.T) {
	f := newFixture(t)
	tests := map[string]func(*push.NewRequest){
		"unknown kind":          func(n *push.NewRequest) { n.Kind = "transfer" },
		"no user":               func(n *push.NewRequest) { n.UserID = "" },
		"no amount":             func(n *push.NewRequest) { n.Amount = "" },
		"comma decimal":         func(n *push.NewRequest) { n.Amount = "49,90" },
		"negative":              func(n *push.NewRequest) { n.Amount = "-1.00" },
		"leading zero":          func(n *push.NewRequest) { n.Amount = "049.90" },
		"exponent":              func(n *push.NewRequest) { n.Amount = "1e3" },
		"lower-case currency":   func(n *push.NewRequest) { n.Currency = "eur" },
		"no payee":              func(n *push.NewRequest) { n.Payee = " " },
		"payee with newline":    func(n *push.NewRequest) { n.Payee = "Shop\nPay Mallory" },
		"payee too long":        func(n *push.NewRequest) { n.Payee = strings.Repeat("x", 201) },
		"sign-in with amount":   func(n *push.NewRequest) { n.Kind = store.PushSignIn },
		"invalid UTF-8 rp name": func(n *push.NewRequest) { n.RPName = "Sh\xffop" },
	}
	for name, mutate := range tests {
		n := payment("u1")
		mutate(&n)
		if _, err := f.svc.Create(t.Context(), n); !errors.Is(err, push.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if rs, _ := f.db.ListPushRequests(t.Context(), "u1"); len(rs) != 0 {
		t.Errorf("refused requests were stored: %+v", rs)
	}
}

// TestPaymentWait is the API a payment flow (CIBA) uses: create a payment
// approval, wait for it. Tampered, foreign and revoked decisions do not
// wake the waiter nor change the request; the device's approval of the
// amount and payee as shown does.
func TestPaymentWait(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mine := f.keys.add("app_mine", "u1")
	theirs := f.keys.add("app_theirs", "u2")
	revoked := f.keys.add("app_revoked", "u1")
	f.keys.revoke("app_revoked")
	amount, _ := push.FormatMinor(129900, 2)
	r, err := f.svc.Create(ctx, push.NewRequest{UserID: "u1", Kind: store.PushPayment, RPName: "Example Bank",
		Amount: amount, Currency: "EUR", Payee: "Example Shop Oy", RiskLevel: "medium"})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		r   store.PushRequest
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		got, err := f.svc.Wait(ctx, "u1", r.ID)
		done <- outcome{got, err}
	}()

	refused := []struct {
		device string
		d      push.Decision
		want   error
	}{
		{"app_mine", func() push.Decision {
			d := approve(r, r.Number)
			d.Amount = "12.99"
			return sign(t, mine, r, d)
		}(), push.ErrTampered},
		{"app_mine", func() push.Decision {
			d := approve(r, r.Number)
			d.Payee = "Mallory Ltd"
			return sign(t, mine, r, d)
		}(), push.ErrTampered},
		{"app_theirs", sign(t, theirs, r, approve(r, r.Number)), push.ErrUnknownRequest},
		{"app_revoked", sign(t, revoked, r, approve(r, r.Number)), push.ErrUnknownDevice},
		{"app_mine", sign(t, theirs, r, approve(r, r.Number)), push.ErrBadSignature},
	}
	for i, tc := range refused {
		if _, err := f.svc.Decide(ctx, tc.device, tc.d); !errors.Is(err, tc.want) {
			t.Errorf("refusal %d: %v, want %v", i, err, tc.want)
		}
	}
	if got, _ := f.db.GetPushRequest(ctx, "u1", r.ID); got.Status != store.PushPending || got.Version != 1 || got.Amount != "1299.00" {
		t.Fatalf("refused decisions changed the request: %+v", got)
	}
	select {
	case o := <-done:
		t.Fatalf("the waiter woke on a refused decision: %+v %v", o.r, o.err)
	case <-time.After(50 * time.Millisecond):
	}

	if _, err := f.svc.Decide(ctx, "app_mine", sign(t, mine, r, approve(r, r.Number))); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-done:
		if o.err != nil || o.r.Status != store.PushApproved || o.r.DeviceID != "app_mine" || o.r.Amount != "1299.00" || o.r.Payee != "Example Shop Oy" {
			t.Fatalf("Wait = %+v, %v", o.r, o.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter was not notified")
	}
	// Waiting on a decided request returns at once.
	if got, err := f.svc.Wait(ctx, "u1", r.ID); err != nil || got.Status != store.PushApproved {
		t.Errorf("Wait on a decided request: %+v, %v", got, err)
	}
	if _, err := f.svc.Wait(ctx, "u2", r.ID); !errors.Is(err, push.ErrUnknownRequest) {
		t.Errorf("Wait under another user: %v, want ErrUnknownRequest", err)
	}
}

// TestWaitExpiresAndCancels uses the real clock and a short life.
func TestWaitExpiresAndCancels(t *testing.T) {
	f := newFixture(t)
	svc, err := push.New(push.Config{Store: f.db, Devices: f.keys, TTL: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Create(t.Context(), payment("u1"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := svc.Wait(t.Context(), "u1", r.ID); !errors.Is(err, push.ErrExpired) || time.Since(start) > 5*time.Second {
		t.Fatalf("Wait = %v after %v, want ErrExpired", err, time.Since(start))
	}
	if time.Now().Before(r.ExpiresAt) {
		t.Fatal("Wait returned before the expiry")
	}
	r2, err := svc.Create(t.Context(), signIn("u2", "Assent"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := svc.Wait(ctx, "u2", r2.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a cancelled context: %v", err)
	}
}
