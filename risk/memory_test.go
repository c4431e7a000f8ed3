package risk

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryHistoryUser(t *testing.T) {
	h := NewMemoryHistory()
	ip := mustAddr("81.2.69.10")
	// out of order on purpose
	for _, d := range []int{3, 1, 2} {
		h.AddSignIn("u", SignIn{Time: t0.Add(-time.Duration(d) * time.Hour), IP: ip, DeviceID: fmt.Sprint("d", d), Strong: d != 2})
	}
	for i := range 10 {
		h.AddPayment("u", PaymentRecord{Time: t0.Add(-time.Duration(i) * 24 * time.Hour), Amount: int64(100 * (i + 1)), Currency: "EUR", Payee: fmt.Sprint("p", i%3)})
	}
	for i := range 5 {
		h.AddFailure("u", ip, t0.Add(-time.Duration(i)*5*time.Minute))
	}
	h.AddReport("u", t0.Add(-time.Hour))
	h.AddReport("u", t0.Add(-2*time.Hour)) // older: ignored
	h.AddDevice("u", "phone", t0.Add(-48*time.Hour))

	var f UserFacts
	q := UserQuery{UserID: "u", DeviceID: "d1", Payee: "p2", SignIns: 2, PaymentsSince: t0.Add(-5*24*time.Hour - time.Minute), Payments: 100, FailuresSince: t0.Add(-12 * time.Minute)}
	if err := h.User(t.Context(), q, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.SignIns) != 2 || f.SignIns[0].DeviceID != "d1" || f.SignIns[1].DeviceID != "d2" {
		t.Errorf("sign-ins newest first, limited: %+v", f.SignIns)
	}
	if len(f.Payments) != 6 || f.Payments[0].Amount != 100 || f.Payments[5].Amount != 600 {
		t.Errorf("payments in window, newest first: %d %+v", len(f.Payments), f.Payments)
	}
	if !f.DeviceFirstSeen.Equal(t0.Add(-time.Hour)) || !f.PayeeKnown || f.Failures != 3 || !f.LastReport.Equal(t0.Add(-time.Hour)) {
		t.Errorf("facts %+v", f)
	}
	// A weak sign-in does not make its device known; an enrolled one is.
	for dev, known := range map[string]bool{"d2": false, "d3": true, "phone": true, "nope": false} {
		f.reset()
		h.User(t.Context(), UserQuery{UserID: "u", DeviceID: dev}, &f)
		if got := !f.DeviceFirstSeen.IsZero(); got != known {
			t.Errorf("device %s known = %v, want %v", dev, got, known)
		}
	}
	f.reset()
	if err := h.User(t.Context(), UserQuery{UserID: "nobody", DeviceID: "d1", Payee: "p1", SignIns: 5, Payments: 5}, &f); err != nil || len(f.SignIns) != 0 || f.PayeeKnown {
		t.Errorf("unknown user: %+v %v", f, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.User(ctx, q, &f); err == nil {
		t.Error("cancelled context ignored")
	}
}

func TestMemoryHistoryNetwork(t *testing.T) {
	h := NewMemoryHistory()
	ip := mustAddr("203.0.113.9")
	for i := range 8 {
		h.AddFailure(fmt.Sprint("u", i%4), ip, t0.Add(-time.Duration(i)*10*time.Second))
	}
	h.AddSignIn("u9", SignIn{Time: t0.Add(-time.Minute), IP: ip})
	h.AddFailure("u0", mustAddr("203.0.113.10"), t0) // another network
	var f NetworkFacts
	q := NetworkQuery{Network: NetworkOf(ip), FailuresSince: t0.Add(-35 * time.Second), AccountsSince: t0.Add(-10 * time.Minute)}
	if err := h.Network(t.Context(), q, &f); err != nil {
		t.Fatal(err)
	}
	if f.Failures != 4 || f.Accounts != 5 {
		t.Errorf("network facts %+v, want 4 failures in 35 s and 5 accounts", f)
	}
	h.Prune(t0.Add(-30 * time.Second))
	f = NetworkFacts{}
	h.Network(t.Context(), NetworkQuery{Network: NetworkOf(ip)}, &f)
	if f.Failures != 4 || f.Accounts != 4 {
		t.Errorf("after prune %+v", f)
	}
	h.Prune(t0.Add(time.Hour))
	f = NetworkFacts{}
	h.Network(t.Context(), NetworkQuery{Network: NetworkOf(ip)}, &f)
	if f != (NetworkFacts{}) {
		t.Errorf("after full prune %+v", f)
	}
}

func TestMemoryHistoryBounded(t *testing.T) {
	h := NewMemoryHistory()
	for i := range memMaxSignIns + 50 {
		h.AddSignIn("u", SignIn{Time: t0.Add(time.Duration(i) * time.Minute)})
	}
	var f UserFacts
	h.User(t.Context(), UserQuery{UserID: "u", SignIns: 1000}, &f)
	if len(f.SignIns) != memMaxSignIns || !f.SignIns[0].Time.Equal(t0.Add(time.Duration(memMaxSignIns+49)*time.Minute)) {
		t.Errorf("kept %d sign-ins, newest %v", len(f.SignIns), f.SignIns[0].Time)
	}
}

func TestMemoryHistoryConcurrent(t *testing.T) {
	h := NewMemoryHistory()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			u := fmt.Sprint("u", g%4)
			ip := mustAddr(fmt.Sprintf("198.51.100.%d", g))
			for i := range 200 {
				at := t0.Add(time.Duration(i) * time.Second)
				h.AddSignIn(u, SignIn{Time: at, IP: ip, DeviceID: "d", Strong: true})
				h.AddFailure(u, ip, at)
				h.AddPayment(u, PaymentRecord{Time: at, Amount: 1, Currency: "EUR", Payee: "p"})
				var f UserFacts
				h.User(t.Context(), UserQuery{UserID: u, SignIns: 10, Payments: 10, DeviceID: "d"}, &f)
				var n NetworkFacts
				h.Network(t.Context(), NetworkQuery{Network: NetworkOf(ip)}, &n)
				if i%50 == 0 {
					h.Prune(at.Add(-time.Minute))
				}
			}
		})
	}
	wg.Wait()
}
