package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// testWebhooks: deliveries keep their order per endpoint, stay pending
// until delivered (across a reopen), and erasure removes a user's pending
// ones.
func testWebhooks(t *testing.T, open Opener) {
	s, reopen := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	var in []store.WebhookDelivery
	for i, ev := range []string{"profile.updated", "consent.changed", "profile.updated"} {
		for _, ep := range []string{"crm", "mail"} {
			in = append(in, store.WebhookDelivery{Endpoint: ep, Event: ev, UserID: "u1", Data: []byte{byte(i)},
				CreatedAt: t0(), NextAttempt: t0()})
		}
	}
	in = append(in, store.WebhookDelivery{Endpoint: "crm", Event: "profile.updated", UserID: "u10", Data: []byte("x"), CreatedAt: t0(), NextAttempt: t0()})
	out, err := s.EnqueueWebhooks(ctx, in)
	if err != nil || len(out) != len(in) {
		t.Fatalf("EnqueueWebhooks = %d, %v", len(out), err)
	}
	for i := 1; i < len(out); i++ {
		if out[i].Seq <= out[i-1].Seq {
			t.Errorf("seq %d after %d", out[i].Seq, out[i-1].Seq)
		}
	}
	pending := func(ep string) []store.WebhookDelivery {
		t.Helper()
		ps, err := s.PendingWebhooks(ctx, ep, 100)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	if ps := pending("crm"); len(ps) != 4 || ps[0].Seq != out[0].Seq || ps[1].Event != "consent.changed" || ps[0].Data[0] != 0 {
		t.Fatalf("pending(crm) = %+v", ps)
	}
	if err := s.RetryWebhook(ctx, "crm", out[0].Seq, t0().Add(time.Minute), "503"); err != nil {
		t.Fatal(err)
	}
	if reopen != nil {
		closeQuietly(t, s)
		s = reopen(t)
	}
	ps := pending("crm")
	if ps[0].Attempts != 1 || ps[0].LastError != "503" || !ps[0].NextAttempt.Equal(t0().Add(time.Minute)) {
		t.Errorf("after retry: %+v", ps[0])
	}
	if err := s.MarkWebhookDelivered(ctx, "crm", out[0].Seq, t0().Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkWebhookDelivered(ctx, "crm", out[0].Seq, t0()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second MarkWebhookDelivered = %v, want ErrNotFound", err)
	}
	if err := s.RetryWebhook(ctx, "crm", 9999, t0(), ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RetryWebhook of nothing = %v, want ErrNotFound", err)
	}
	if ps := pending("crm"); len(ps) != 3 || ps[0].Seq != out[2].Seq {
		t.Errorf("pending after delivery = %+v", ps)
	}
	all, err := s.ListWebhooks(ctx, "crm", 0, 100)
	if err != nil || len(all) != 4 || all[0].DeliveredAt.IsZero() || all[0].Data != nil || all[0].Attempts != 2 {
		t.Fatalf("ListWebhooks = %+v, %v", all, err)
	}
	if l, _ := s.ListWebhooks(ctx, "crm", all[1].Seq, 100); len(l) != 2 {
		t.Errorf("ListWebhooks after %d = %d records, want 2", all[1].Seq, len(l))
	}
	if _, err := s.EraseUser(ctx, "u1", "erased:p"); err != nil {
		t.Fatal(err)
	}
	if ps := pending("crm"); len(ps) != 1 || ps[0].UserID != "u10" {
		t.Errorf("pending(crm) after erasure = %+v, want only u10's", ps)
	}
	if ps := pending("mail"); len(ps) != 0 {
		t.Errorf("pending(mail) after erasure = %+v", ps)
	}
	if l, _ := s.ListWebhooks(ctx, "crm", 0, 100); len(l) != 2 || l[0].UserID != "erased:p" {
		t.Errorf("delivery log after erasure = %+v", l)
	}
}
