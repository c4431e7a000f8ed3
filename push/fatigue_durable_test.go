package push_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// restarts is a bbolt file that a test closes and opens again, each time
// with a new Service on it, as a restarted server does.
type restarts struct {
	t    *testing.T
	path string
	db   *bolt.DB
	svc  *push.Service
	keys *keyring
	now  time.Time
}

func newRestarts(t *testing.T) *restarts {
	r := &restarts{t: t, path: filepath.Join(t.TempDir(), "assent.db"), keys: &keyring{keys: map[string]devices.DeviceKey{}},
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	r.restart()
	for _, u := range []string{"u1", "u2"} {
		if err := r.db.CreateUser(t.Context(), store.User{ID: u, CreatedAt: r.now, UpdatedAt: r.now}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *restarts) clock() time.Time { return r.now }

// restart closes the file (if open) and opens it with a new Service.
func (r *restarts) restart() {
	r.t.Helper()
	if r.db != nil {
		if err := r.db.Close(); err != nil {
			r.t.Fatal(err)
		}
	}
	db, err := bolt.Open(r.path, bolt.Options{Timeout: time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { db.Close() })
	r.db = db
	if r.svc, err = push.New(push.Config{Store: db, Devices: r.keys, Now: r.clock}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *restarts) denyOne(userID, rp string) {
	r.t.Helper()
	k := r.keys.add("app_"+userID, userID)
	req, err := r.svc.Create(r.t.Context(), signIn(userID, rp))
	if err != nil {
		r.t.Fatalf("create: %v", err)
	}
	if _, err := r.svc.Decide(r.t.Context(), "app_"+userID, sign(r.t, k, req, deny(req))); err != nil {
		r.t.Fatalf("deny: %v", err)
	}
}

// TestLockSurvivesRestart: a lock from three denials outlives closing and
// reopening the store: the new Service refuses new requests and approvals
// of what still waits, the operator's Unlock ends it for good (also after
// the next restart), and a lock that ran out is gone after a restart.
func TestLockSurvivesRestart(t *testing.T) {
	t.Parallel()
	r := newRestarts(t)
	ctx := t.Context()
	for range 3 {
		r.denyOne("u1", "Assent")
		r.now = r.now.Add(time.Minute)
	}
	until, locked := r.svc.LockedUntil("u1")
	if !locked {
		t.Fatal("three denials did not lock")
	}
	waiting, err := r.svc.Create(ctx, payment("u2"))
	if err != nil {
		t.Fatal(err)
	}

	r.restart()
	if got, ok := r.svc.LockedUntil("u1"); !ok || !got.Equal(until) {
		t.Fatalf("after restart LockedUntil = %v, %v; want %v, true", got, ok, until)
	}
	if _, err := r.svc.Create(ctx, signIn("u1", "Other RP")); !errors.Is(err, push.ErrLocked) {
		t.Errorf("new request after restart: %v, want ErrLocked", err)
	}
	if _, locked := r.svc.LockedUntil("u2"); locked {
		t.Error("another user is locked after restart")
	}
	// u2 is not locked: its request from before the restart can be approved.
	k2 := r.keys.add("app_u2b", "u2")
	if got, err := r.svc.Decide(ctx, "app_u2b", sign(t, k2, waiting, approve(waiting, waiting.Number))); err != nil || got.Status != store.PushApproved {
		t.Errorf("approval of another user's waiting request after restart: %+v, %v", got, err)
	}

	if !r.svc.Unlock(ctx, "u1", "admin") {
		t.Fatal("Unlock after restart reported no lock")
	}
	if _, err := r.svc.Create(ctx, signIn("u1", "Other RP")); err != nil {
		t.Errorf("request after unlock: %v", err)
	}
	r.restart()
	if _, locked := r.svc.LockedUntil("u1"); locked {
		t.Fatal("the lifted lock came back after a restart")
	}
	if r.svc.Unlock(ctx, "u1", "admin") {
		t.Error("Unlock of an unlocked user reported a lock")
	}

	// A lock that ends while the server is down is gone when it starts.
	for range 3 {
		r.now = r.now.Add(time.Minute)
		r.denyOne("u1", "Assent")
	}
	if _, locked := r.svc.LockedUntil("u1"); !locked {
		t.Fatal("three more denials did not lock")
	}
	r.now = r.now.Add(15 * time.Minute)
	r.restart()
	if _, locked := r.svc.LockedUntil("u1"); locked {
		t.Error("locked after the lock ran out")
	}
	r.now = r.now.Add(time.Second)
	r.restart()
	if _, err := r.db.GetPushFatigue(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the spent record was not swept at start: %v", err)
	}
}

// TestDenialsCountAcrossRestart: two denials before a restart and a wrong
// number after it are three within ten minutes, and lock; denials that
// have left the window do not count.
func TestDenialsCountAcrossRestart(t *testing.T) {
	t.Parallel()
	r := newRestarts(t)
	ctx := t.Context()
	r.denyOne("u1", "Assent")
	r.now = r.now.Add(time.Minute)
	r.denyOne("u1", "Assent")
	r.restart()
	if _, locked := r.svc.LockedUntil("u1"); locked {
		t.Fatal("locked after two denials")
	}
	k := r.keys.add("app_u1", "u1")
	req, err := r.svc.Create(ctx, signIn("u1", "Assent"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := req.Choices[0]
	if wrong == req.Number {
		wrong = req.Choices[1]
	}
	if _, err := r.svc.Decide(ctx, "app_u1", sign(t, k, req, approve(req, wrong))); !errors.Is(err, push.ErrWrongNumber) {
		t.Fatalf("wrong number: %v", err)
	}
	until, locked := r.svc.LockedUntil("u1")
	if !locked || !until.Equal(r.now.Add(15*time.Minute)) {
		t.Fatalf("LockedUntil = %v, %v; want now+15m", until, locked)
	}
	// The refused approval of the waiting request is refused after a restart too.
	r.restart()
	if _, err := r.svc.Decide(ctx, "app_u1", sign(t, k, req, approve(req, req.Number))); !errors.Is(err, push.ErrLocked) {
		t.Errorf("approval while locked, after restart: %v, want ErrLocked", err)
	}
	if got, _ := r.db.GetPushRequest(ctx, "u1", req.ID); got.Status != store.PushPending {
		t.Errorf("refused approval changed the request: %s", got.Status)
	}

	// u2: two denials, then eleven minutes and a restart: the first has
	// left the window, so the next denial is the second, not the third.
	r.denyOne("u2", "Assent")
	r.now = r.now.Add(2 * time.Minute)
	r.denyOne("u2", "Assent")
	r.now = r.now.Add(9 * time.Minute)
	r.restart()
	r.denyOne("u2", "Assent")
	if _, locked := r.svc.LockedUntil("u2"); locked {
		t.Error("a denial outside the window counted")
	}
	if f, err := r.db.GetPushFatigue(ctx, "u2"); err != nil || len(f.Denials) != 2 {
		t.Errorf("u2's record = %+v, %v; want the two denials within the window", f, err)
	}
}

// TestConcurrentDenialsLockOnce: ten denials of one user at once lock the
// user exactly once, in the store and here, audited once.
func TestConcurrentDenialsLockOnce(t *testing.T) {
	t.Parallel()
	r := newRestarts(t)
	ctx := t.Context()
	k := r.keys.add("app_u1", "u1")
	var reqs []store.PushRequest
	for i := range 10 {
		req, err := r.svc.Create(ctx, signIn("u1", fmt.Sprint("RP ", i)))
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	var wg sync.WaitGroup
	for _, req := range reqs {
		wg.Go(func() {
			if _, err := r.svc.Decide(ctx, "app_u1", sign(t, k, req, deny(req))); err != nil {
				t.Errorf("deny: %v", err)
			}
		})
	}
	wg.Wait()
	until, locked := r.svc.LockedUntil("u1")
	if !locked {
		t.Fatal("ten denials did not lock")
	}
	if f, err := r.db.GetPushFatigue(ctx, "u1"); err != nil || !f.LockedUntil.Equal(until) {
		t.Errorf("stored record = %+v, %v; want locked until %v", f, err, until)
	}
	evs, err := r.db.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Kind == "push.locked" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d push.locked events, want 1", n)
	}
}
