package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// RunCIBA runs the conformance subtests of store.CIBA, each on a fresh
// store.
func RunCIBA(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"CIBALifecycle", testCIBALifecycle},
		{"CIBARedeemedOnce", testCIBARedeemedOnce},
		{"CIBADueAndReopen", testCIBADueAndReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

func newCIBA(id string, created time.Time) store.CIBARequest {
	return store.CIBARequest{
		IDHash: hashOf(id), ClientID: "shop", UserID: "u1", Scopes: []string{"openid"},
		AuthorizationDetails: []byte(`[{"type":"payment_initiation"}]`), Mode: "poll",
		Status: store.CIBAPending, Interval: 5, CreatedAt: created, ExpiresAt: created.Add(2 * time.Minute),
	}
}

func testCIBALifecycle(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	now := t0()
	r := newCIBA("a", now)
	if err := s.CreateCIBARequest(ctx, r); err != nil {
		t.Fatalf("CreateCIBARequest: %v", err)
	}
	if err := s.CreateCIBARequest(ctx, r); !errors.Is(err, store.ErrExists) {
		t.Errorf("second CreateCIBARequest: %v, want ErrExists", err)
	}
	got, err := s.GetCIBARequest(ctx, hashOf("a"))
	if err != nil || got.Version != 1 || got.ClientID != "shop" || string(got.AuthorizationDetails) != `[{"type":"payment_initiation"}]` {
		t.Fatalf("GetCIBARequest = %+v, %v", got, err)
	}
	if _, err := s.GetCIBARequest(ctx, hashOf("b")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetCIBARequest of a missing id: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateCIBARequest(ctx, hashOf("b"), func(r store.CIBARequest) (store.CIBARequest, error) { return r, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateCIBARequest of a missing id: %v, want ErrNotFound", err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateCIBARequest(ctx, hashOf("a"), func(r store.CIBARequest) (store.CIBARequest, error) {
		r.Status = store.CIBAApproved
		return r, boom
	}); !errors.Is(err, boom) {
		t.Errorf("UpdateCIBARequest fn error: %v", err)
	}
	up, err := s.UpdateCIBARequest(ctx, hashOf("a"), func(r store.CIBARequest) (store.CIBARequest, error) {
		r.Status = store.CIBAApproved
		r.IDHash = hashOf("other")
		return r, nil
	})
	if err != nil || up.Version != 2 || up.Status != store.CIBAApproved || string(up.IDHash) != string(hashOf("a")) {
		t.Fatalf("UpdateCIBARequest = %+v, %v", up, err)
	}
	if got, _ := s.GetCIBARequest(ctx, hashOf("a")); got.Status != store.CIBAApproved || got.Version != 2 {
		t.Errorf("after update: %+v", got)
	}
	// Expiry removes the request.
	if n, err := s.DeleteExpiredCIBARequests(ctx, now.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredCIBARequests before expiry = %d, %v", n, err)
	}
	if n, err := s.DeleteExpiredCIBARequests(ctx, now.Add(3*time.Minute)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredCIBARequests = %d, %v; want 1", n, err)
	}
	if _, err := s.GetCIBARequest(ctx, hashOf("a")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired request still there: %v", err)
	}
}

// testCIBARedeemedOnce races 50 redemptions of one approved request:
// exactly one wins.
func testCIBARedeemedOnce(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	r := newCIBA("a", t0())
	r.Status = store.CIBAApproved
	if err := s.CreateCIBARequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	spent := errors.New("spent")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := s.UpdateCIBARequest(ctx, hashOf("a"), func(r store.CIBARequest) (store.CIBARequest, error) {
				if r.Status != store.CIBAApproved {
					return r, spent
				}
				r.Status = store.CIBARedeemed
				return r, nil
			})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, spent) {
				t.Errorf("UpdateCIBARequest: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d redemptions won, want 1", wins.Load())
	}
}

func testCIBADueAndReopen(t *testing.T, open Opener) {
	s, reopen := openStore(t, open)
	ctx := t.Context()
	now := t0()
	for i, id := range []string{"late", "early", "none"} {
		r := newCIBA(id, now)
		if id != "none" {
			r.CheckAt = now.Add(time.Duration(3-i) * time.Second)
		}
		if err := s.CreateCIBARequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueCIBARequests(ctx, now.Add(2*time.Second), 10)
	if err != nil || len(due) != 1 || string(due[0].IDHash) != string(hashOf("early")) {
		t.Fatalf("DueCIBARequests at +2s = %d, %v; want early only", len(due), err)
	}
	// Moving CheckAt moves the request in the index; clearing it removes it.
	if _, err := s.UpdateCIBARequest(ctx, hashOf("early"), func(r store.CIBARequest) (store.CIBARequest, error) {
		r.CheckAt = now.Add(time.Hour)
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCIBARequest(ctx, hashOf("late"), func(r store.CIBARequest) (store.CIBARequest, error) {
		r.CheckAt = time.Time{}
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	if due, err := s.DueCIBARequests(ctx, now.Add(time.Minute), 10); err != nil || len(due) != 0 {
		t.Fatalf("DueCIBARequests after moves = %d, %v; want none", len(due), err)
	}
	if reopen == nil {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t)
	due, err = s2.DueCIBARequests(ctx, now.Add(2*time.Hour), 10)
	if err != nil || len(due) != 1 || string(due[0].IDHash) != string(hashOf("early")) {
		t.Fatalf("after reopen DueCIBARequests = %d, %v; want early", len(due), err)
	}
}
