package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// addDenial is a fatigue update as the push package makes one: a denial at
// at, and a lock when it is the third.
func addDenial(at time.Time) func(store.PushFatigue) (store.PushFatigue, error) {
	return func(f store.PushFatigue) (store.PushFatigue, error) {
		f.Denials = append(f.Denials, at)
		if len(f.Denials) >= 3 {
			f.Denials, f.LockedUntil = nil, at.Add(15*time.Minute)
		}
		f.ExpiresAt = at.Add(15 * time.Minute)
		return f, nil
	}
}

// testPushLocks walks a user's fatigue record through denials, a lock that
// survives closing and reopening the store, its listing, an operator's
// clearing, expiry and the user's deletion.
func testPushLocks(t *testing.T, open Opener) {
	s, reopen := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	now := t0()

	_, err := s.GetPushFatigue(ctx, "u1")
	checkErr(t, "GetPushFatigue with no record", err, store.ErrNotFound)
	_, err = s.UpdatePushFatigue(ctx, "nobody", addDenial(now))
	checkErr(t, "UpdatePushFatigue of a missing user", err, store.ErrNotFound)
	_, err = s.GetPushFatigue(ctx, "nobody")
	checkErr(t, "GetPushFatigue after the refused update", err, store.ErrNotFound)

	// The zero record comes in for a user without one.
	first := true
	f, err := s.UpdatePushFatigue(ctx, "u1", func(f store.PushFatigue) (store.PushFatigue, error) {
		if first && (f.UserID != "u1" || !f.Empty()) {
			t.Errorf("record handed to the first update = %+v, want the zero record of u1", f)
		}
		first = false
		return addDenial(now)(f)
	})
	if err != nil || len(f.Denials) != 1 || !f.Denials[0].Equal(now) || f.UserID != "u1" {
		t.Fatalf("UpdatePushFatigue = %+v, %v", f, err)
	}
	// An error from fn writes nothing; the user id cannot change.
	boom := errors.New("boom")
	_, err = s.UpdatePushFatigue(ctx, "u1", func(f store.PushFatigue) (store.PushFatigue, error) {
		f.LockedUntil = now.Add(time.Hour)
		return f, boom
	})
	checkErr(t, "UpdatePushFatigue fn error", err, boom)
	f, err = s.UpdatePushFatigue(ctx, "u1", func(f store.PushFatigue) (store.PushFatigue, error) {
		f.UserID = "u2"
		return addDenial(now.Add(time.Minute))(f)
	})
	if err != nil || f.UserID != "u1" || len(f.Denials) != 2 || !f.LockedUntil.IsZero() {
		t.Fatalf("second denial = %+v, %v", f, err)
	}
	if _, err := s.GetPushFatigue(ctx, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("changing UserID wrote u2's record: %v", err)
	}
	if locks, err := s.ListPushLocks(ctx, now); err != nil || len(locks) != 0 {
		t.Errorf("ListPushLocks before any lock = %+v, %v", locks, err)
	}
	third := now.Add(2 * time.Minute)
	if f, err = s.UpdatePushFatigue(ctx, "u1", addDenial(third)); err != nil || !f.LockedUntil.Equal(third.Add(15*time.Minute)) {
		t.Fatalf("third denial = %+v, %v; want a lock", f, err)
	}
	// u2 has denials but no lock.
	if _, err := s.UpdatePushFatigue(ctx, "u2", addDenial(now)); err != nil {
		t.Fatal(err)
	}

	// The lock outlives the store.
	if reopen != nil {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = reopen(t)
	}
	got, err := s.GetPushFatigue(ctx, "u1")
	if err != nil || !got.LockedUntil.Equal(third.Add(15*time.Minute)) || len(got.Denials) != 0 || !got.ExpiresAt.Equal(third.Add(15*time.Minute)) {
		t.Fatalf("GetPushFatigue(u1) after reopen = %+v, %v", got, err)
	}
	if got, err := s.GetPushFatigue(ctx, "u2"); err != nil || len(got.Denials) != 1 || !got.Denials[0].Equal(now) {
		t.Errorf("GetPushFatigue(u2) after reopen = %+v, %v", got, err)
	}
	locks, err := s.ListPushLocks(ctx, third)
	if err != nil || len(locks) != 1 || locks[0].UserID != "u1" {
		t.Errorf("ListPushLocks while u1 is locked = %+v, %v", locks, err)
	}
	if locks, err := s.ListPushLocks(ctx, third.Add(15*time.Minute)); err != nil || len(locks) != 0 {
		t.Errorf("ListPushLocks when the lock ends = %+v, %v; a lock ends at LockedUntil", locks, err)
	}

	// Expiry: u2's record (expiring at now+15m) goes, u1's (third+15m) stays.
	n, err := s.DeleteExpiredPushFatigue(ctx, now.Add(16*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredPushFatigue = %d, %v; want 1", n, err)
	}
	if _, err := s.GetPushFatigue(ctx, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("u2's expired record: %v, want ErrNotFound", err)
	}
	if _, err := s.GetPushFatigue(ctx, "u1"); err != nil {
		t.Errorf("u1's live record after DeleteExpiredPushFatigue: %v", err)
	}

	// An operator clears the lock: an empty record is no record.
	if f, err := s.UpdatePushFatigue(ctx, "u1", func(f store.PushFatigue) (store.PushFatigue, error) {
		return store.PushFatigue{}, nil
	}); err != nil || !f.Empty() || f.UserID != "u1" {
		t.Errorf("clearing = %+v, %v", f, err)
	}
	if _, err := s.GetPushFatigue(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPushFatigue after clearing: %v, want ErrNotFound", err)
	}

	// DeleteUser takes the record with it.
	if _, err := s.UpdatePushFatigue(ctx, "u2", addDenial(now)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPushFatigue(ctx, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("record after DeleteUser: %v, want ErrNotFound", err)
	}

	// Cancelled and closed.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.UpdatePushFatigue(cancelled, "u1", addDenial(now)); !errors.Is(err, context.Canceled) {
		t.Errorf("UpdatePushFatigue with a cancelled context: %v", err)
	}
	if _, err := s.GetPushFatigue(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the cancelled update wrote: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetPushFatigue(ctx, "u1")
	checkErr(t, "GetPushFatigue after Close", err, store.ErrClosed)
	_, err = s.UpdatePushFatigue(ctx, "u1", addDenial(now))
	checkErr(t, "UpdatePushFatigue after Close", err, store.ErrClosed)
	_, err = s.ListPushLocks(ctx, now)
	checkErr(t, "ListPushLocks after Close", err, store.ErrClosed)
	_, err = s.DeleteExpiredPushFatigue(ctx, now)
	checkErr(t, "DeleteExpiredPushFatigue after Close", err, store.ErrClosed)
}

// testPushFatigueConcurrently races 50 denials of one user: none is lost.
func testPushFatigueConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := s.UpdatePushFatigue(ctx, "u1", func(f store.PushFatigue) (store.PushFatigue, error) {
				f.Denials = append(f.Denials, t0().Add(time.Duration(i)*time.Second))
				return f, nil
			})
			if err != nil {
				t.Errorf("denial %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if f, err := s.GetPushFatigue(ctx, "u1"); err != nil || len(f.Denials) != 50 {
		t.Errorf("after 50 concurrent denials: %d recorded, %v", len(f.Denials), err)
	}
}

// testPendingPushRequests lists the requests of every user that still
// wait, soonest to expire first, also after the store is reopened.
func testPendingPushRequests(t *testing.T, open Opener) {
	s, reopen := openStore(t, open)
	ctx := t.Context()
	now := t0()
	for _, u := range []string{"u1", "u2", "u3"} {
		mustCreateUser(t, s, newUser(u, u+"@example.com"))
	}
	if rs, more, err := s.ListPendingPushRequests(ctx, now, 10); err != nil || len(rs) != 0 || more != 0 {
		t.Fatalf("ListPendingPushRequests of an empty store = %+v, %d, %v", rs, more, err)
	}
	// u1: one waiting (expires now+2m) and one decided; u2: one waiting
	// that expires first (now+90s); u3: one already expired.
	mk := func(userID, id, rp string, created time.Time) {
		t.Helper()
		r := newPushRequest(userID, id, created)
		r.RPName = rp
		if err := s.CreatePushRequest(ctx, r, created); err != nil {
			t.Fatalf("CreatePushRequest(%s): %v", id, err)
		}
	}
	mk("u1", "r1", "Shop", now)
	mk("u1", "r1d", "Bank", now)
	if _, err := s.UpdatePushRequest(ctx, "u1", "r1d", func(r store.PushRequest) (store.PushRequest, error) {
		r.Status = store.PushDenied
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	mk("u2", "r2", "Shop", now.Add(-30*time.Second))
	mk("u3", "r3", "Shop", now.Add(-5*time.Minute))

	check := func(s store.Store, when string) {
		t.Helper()
		rs, more, err := s.ListPendingPushRequests(ctx, now, 0)
		if err != nil || more != 0 || len(rs) != 2 || rs[0].ID != "r2" || rs[1].ID != "r1" || rs[0].UserID != "u2" ||
			rs[1].Payee != "Shop Ltd" || !rs[1].ExpiresAt.Equal(now.Add(2*time.Minute)) {
			t.Errorf("%s: ListPendingPushRequests = %+v, %d, %v; want r2 then r1", when, rs, more, err)
		}
		rs, more, err = s.ListPendingPushRequests(ctx, now, 1)
		if err != nil || more != 1 || len(rs) != 1 || rs[0].ID != "r2" {
			t.Errorf("%s: ListPendingPushRequests limited to 1 = %+v, %d, %v; want r2 and 1 more", when, rs, more, err)
		}
		// At the exact expiry a request no longer waits.
		rs, _, err = s.ListPendingPushRequests(ctx, now.Add(90*time.Second), 0)
		if err != nil || len(rs) != 1 || rs[0].ID != "r1" {
			t.Errorf("%s: at r2's expiry = %+v, %v; want r1 only", when, rs, err)
		}
	}
	check(s, "before reopen")
	if reopen == nil {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t)
	check(s, "after reopen")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.ListPendingPushRequests(ctx, now, 0)
	checkErr(t, "ListPendingPushRequests after Close", err, store.ErrClosed)
}
