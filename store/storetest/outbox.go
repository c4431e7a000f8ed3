package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func newMail(id string, due time.Time) store.Mail {
	return store.Mail{
		ID:          id,
		Data:        []byte("sealed message " + id),
		CreatedAt:   t0(),
		NextAttempt: due,
		Attempts:    1,
		LastError:   "421 try later",
	}
}

func normMail(m store.Mail) store.Mail {
	m.Data = nilIfEmpty(m.Data)
	m.CreatedAt = m.CreatedAt.UTC()
	m.NextAttempt = m.NextAttempt.UTC()
	return m
}

func mailIDs(ms []store.Mail) []string {
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func testOutboxLifecycle(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	m := newMail("0001", t0())
	requireAllFieldsSet(t, "newMail", m)
	for _, mm := range []store.Mail{m, newMail("0002", t0().Add(time.Minute)), newMail("0003", t0().Add(-time.Minute))} {
		if err := s.EnqueueMail(ctx, mm); err != nil {
			t.Fatalf("EnqueueMail(%s): %v", mm.ID, err)
		}
	}
	checkErr(t, "EnqueueMail of a taken id", s.EnqueueMail(ctx, m), store.ErrExists)

	all, err := s.ListMail(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mailIDs(all), []string{"0001", "0002", "0003"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListMail ids = %v, want %v", got, want)
	}
	if g, w := normMail(all[0]), normMail(m); !reflect.DeepEqual(g, w) {
		t.Errorf("ListMail[0]:\n got %+v\nwant %+v", g, w)
	}

	// Due at t0: 0001 and 0003, oldest id first, leased for a minute.
	claimed, err := s.ClaimMail(ctx, t0(), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mailIDs(claimed), []string{"0001", "0003"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ClaimMail ids = %v, want %v", got, want)
	}
	if c := claimed[0]; c.Attempts != 2 || !c.NextAttempt.Equal(t0().Add(time.Minute)) {
		t.Errorf("claimed: attempts %d next %v, want 2 and t0+1m", c.Attempts, c.NextAttempt)
	}
	// Leased messages are not handed out again within the lease.
	again, err := s.ClaimMail(ctx, t0().Add(30*time.Second), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("ClaimMail within the lease = %v, want none", mailIDs(again))
	}
	// limit is honoured.
	one, err := s.ClaimMail(ctx, t0().Add(time.Hour), time.Minute, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := mailIDs(one); !reflect.DeepEqual(got, []string{"0001"}) {
		t.Errorf("ClaimMail limit 1 = %v, want [0001]", got)
	}

	if err := s.MarkMailSent(ctx, "0001"); err != nil {
		t.Fatalf("MarkMailSent: %v", err)
	}
	checkErr(t, "MarkMailSent twice", s.MarkMailSent(ctx, "0001"), store.ErrNotFound)
	checkErr(t, "RetryMail of a sent message", s.RetryMail(ctx, "0001", t0(), "x"), store.ErrNotFound)

	next := t0().Add(2 * time.Hour)
	if err := s.RetryMail(ctx, "0003", next, "connection refused"); err != nil {
		t.Fatalf("RetryMail: %v", err)
	}
	rest, err := s.ListMail(ctx, "0001", 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mailIDs(rest), []string{"0002", "0003"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListMail after 0001 = %v, want %v", got, want)
	}
	if r := rest[1]; !r.NextAttempt.Equal(next) || r.LastError != "connection refused" {
		t.Errorf("after RetryMail: next %v err %q", r.NextAttempt, r.LastError)
	}
}

// testOutboxClaimConcurrently: many claimers race; every message is handed
// to exactly one of them.
func testOutboxClaimConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	const n = 50
	for i := range n {
		if err := s.EnqueueMail(ctx, newMail(fmt.Sprintf("%04d", i), t0())); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for {
				got, err := s.ClaimMail(ctx, t0(), time.Hour, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d messages claimed, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("message %s claimed %d times", id, c)
		}
	}
}

func testOutboxReopen(t *testing.T, open Opener) {
	s, reopen := openStore(t, open)
	if reopen == nil {
		t.Skip("backend does not persist")
	}
	m := newMail("0001", t0())
	if err := s.EnqueueMail(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t)
	all, err := s2.ListMail(t.Context(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || !reflect.DeepEqual(normMail(all[0]), normMail(m)) {
		t.Errorf("after reopen: %+v", all)
	}
}
