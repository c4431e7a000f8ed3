package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func newPushRequest(userID, id string, created time.Time) store.PushRequest {
	return store.PushRequest{
		ID: id, UserID: userID, Kind: store.PushPayment, RPName: "Shop",
		Amount: "12.50", Currency: "EUR", Payee: "Shop Ltd",
		Nonce: []byte("nonce of " + id), Number: 42, Choices: []int{17, 42, 83},
		CreatedAt: created, ExpiresAt: created.Add(2 * time.Minute), Status: store.PushPending,
	}
}

func testPushRequests(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	now := t0()

	if err := s.CreatePushRequest(ctx, newPushRequest("nobody", "r0", now), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreatePushRequest for a missing user: %v, want ErrNotFound", err)
	}
	r1 := newPushRequest("u1", "r1", now)
	if err := s.CreatePushRequest(ctx, r1, now); err != nil {
		t.Fatalf("CreatePushRequest: %v", err)
	}
	got, err := s.GetPushRequest(ctx, "u1", "r1")
	if err != nil || got.Version != 1 || got.Amount != "12.50" || got.Number != 42 || !got.ExpiresAt.Equal(r1.ExpiresAt) {
		t.Fatalf("GetPushRequest = %+v, %v", got, err)
	}
	if _, err := s.GetPushRequest(ctx, "u2", "r1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPushRequest under another user: %v, want ErrNotFound", err)
	}
	// One pending request per user ...
	if err := s.CreatePushRequest(ctx, newPushRequest("u1", "r2", now), now.Add(time.Minute)); !errors.Is(err, store.ErrExists) {
		t.Errorf("second pending request: %v, want ErrExists", err)
	}
	// ... and relying party: another relying party's request may wait too.
	bank := newPushRequest("u1", "r1b", now)
	bank.RPName = "Bank"
	if err := s.CreatePushRequest(ctx, bank, now.Add(time.Minute)); err != nil {
		t.Errorf("pending request of another relying party: %v", err)
	}
	if rs, err := s.ListPushRequests(ctx, "u1"); err != nil || len(rs) != 2 {
		t.Errorf("ListPushRequests with two relying parties = %+v, %v", rs, err)
	}
	// Once the first has expired a new one may start, and the old one goes.
	later := now.Add(3 * time.Minute)
	if err := s.CreatePushRequest(ctx, newPushRequest("u1", "r2", later), later); err != nil {
		t.Fatalf("CreatePushRequest after expiry: %v", err)
	}
	rs, err := s.ListPushRequests(ctx, "u1")
	if err != nil || len(rs) != 1 || rs[0].ID != "r2" {
		t.Fatalf("ListPushRequests = %+v, %v; want only r2", rs, err)
	}
	// fn errors write nothing; ids cannot change.
	boom := errors.New("boom")
	if _, err := s.UpdatePushRequest(ctx, "u1", "r2", func(r store.PushRequest) (store.PushRequest, error) { return r, boom }); !errors.Is(err, boom) {
		t.Errorf("UpdatePushRequest fn error: %v", err)
	}
	up, err := s.UpdatePushRequest(ctx, "u1", "r2", func(r store.PushRequest) (store.PushRequest, error) {
		r.ID, r.UserID, r.Status = "other", "other", store.PushApproved
		return r, nil
	})
	if err != nil || up.ID != "r2" || up.UserID != "u1" || up.Status != store.PushApproved || up.Version != 2 {
		t.Fatalf("UpdatePushRequest = %+v, %v", up, err)
	}
	if _, err := s.UpdatePushRequest(ctx, "u1", "nope", func(r store.PushRequest) (store.PushRequest, error) { return r, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdatePushRequest missing: %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.ListPushRequests(ctx, "u1"); err != nil || len(rs) != 0 {
		t.Errorf("requests after DeleteUser: %+v, %v", rs, err)
	}
}

// testPushDecideConcurrently races 100 decisions on one request: exactly
// one wins.
func testPushDecideConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	if err := s.CreatePushRequest(ctx, newPushRequest("u1", "r1", t0()), t0()); err != nil {
		t.Fatal(err)
	}
	errDecided := errors.New("decided")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := s.UpdatePushRequest(ctx, "u1", "r1", func(r store.PushRequest) (store.PushRequest, error) {
				if r.Status != store.PushPending {
					return r, errDecided
				}
				r.Status, r.DeviceID = store.PushApproved, fmt.Sprint("d", i)
				return r, nil
			})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, errDecided):
				t.Errorf("decision %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d decisions won, want exactly 1", n)
	}
	if r, err := s.GetPushRequest(ctx, "u1", "r1"); err != nil || r.Version != 2 {
		t.Errorf("after the race: %+v, %v; want Version 2", r, err)
	}
}
