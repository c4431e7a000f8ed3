package bolt

import (
	"errors"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// TestSweepWithNothingExpired checks that a session sweep that finds
// nothing expired commits nothing, and that one that does removes exactly
// the expired sessions in one commit.
func TestSweepWithNothingExpired(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.CreateUser(ctx, store.User{ID: "u"}); err != nil {
		t.Fatal(err)
	}
	for i, exp := range []time.Duration{time.Hour, 2 * time.Hour, -time.Minute} {
		if err := db.CreateSession(ctx, store.Session{IDHash: []byte{byte(i + 1)}, UserID: "u", CreatedAt: now, ExpiresAt: now.Add(exp)}); err != nil {
			t.Fatal(err)
		}
	}
	before := committed(t, db)
	if n, err := db.DeleteExpiredSessions(ctx, now.Add(-2*time.Minute)); err != nil || n != 0 {
		t.Fatalf("sweep with nothing expired = %d, %v", n, err)
	}
	if c := committed(t, db) - before; c != 0 {
		t.Errorf("a sweep of nothing took %d commits", c)
	}
	if n, err := db.DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1", n, err)
	}
	if c := committed(t, db) - before; c != 1 {
		t.Errorf("a sweep took %d commits, want 1", c)
	}
	if _, err := db.GetSession(ctx, []byte{3}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session after the sweep: %v", err)
	}
	for _, id := range []byte{1, 2} {
		if _, err := db.GetSession(ctx, []byte{id}); err != nil {
			t.Errorf("live session %d after the sweep: %v", id, err)
		}
	}
}
