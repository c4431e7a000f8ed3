package bolt

import (
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// TestClaimMailNothingDue checks that a claim that finds nothing due (the
// last of every delivery pass) commits nothing, while one that finds a
// message commits its lease.
func TestClaimMailNothingDue(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.EnqueueMail(ctx, store.Mail{ID: "later", Data: []byte("x"), CreatedAt: now, NextAttempt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before := committed(t, db)
	if got, err := db.ClaimMail(ctx, now, time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimMail with nothing due = %v, %v", got, err)
	}
	if n := committed(t, db) - before; n != 0 {
		t.Errorf("a claim of nothing took %d commits", n)
	}
	got, err := db.ClaimMail(ctx, now.Add(2*time.Hour), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != "later" || got[0].Attempts != 1 {
		t.Fatalf("ClaimMail when due = %+v, %v", got, err)
	}
	if n := committed(t, db) - before; n != 1 {
		t.Errorf("a claim took %d commits, want 1", n)
	}
}

// committed returns the id of the file's last committed write transaction,
// which every commit raises by one.
func committed(t *testing.T, db *DB) int {
	t.Helper()
	var id int
	if err := db.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}
