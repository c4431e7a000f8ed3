package bolt

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// openBench opens a store in a temporary directory. Write benchmarks pass
// sync true so that every commit pays for its fsync, as in production.
func openBench(b *testing.B, sync bool) *DB {
	b.Helper()
	db, err := Open(filepath.Join(b.TempDir(), "assent.db"), Options{NoSync: !sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// txID returns the id of the last committed write transaction; the
// difference of two readings is the number of commits between them.
func txID(b *testing.B, db *DB) int {
	b.Helper()
	var id int
	if err := db.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkGetSession measures the lookup every authenticated request makes,
// among 10,000 stored sessions.
func BenchmarkGetSession(b *testing.B) {
	db := openBench(b, false)
	ctx := b.Context()
	const n = 10_000
	ids := make([][]byte, n)
	now := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	for i := range ids {
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
		ids[i] = h[:]
		err := db.CreateSession(ctx, store.Session{
			IDHash:    ids[i],
			UserID:    fmt.Sprintf("user-%06d", i%1000),
			AuthTime:  now,
			AMR:       []string{"pwd", "otp"},
			IP:        "203.0.113.9",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
			CreatedAt: now,
			ExpiresAt: now.Add(24 * time.Hour),
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.GetSession(ctx, ids[i%n]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAppendAuditParallel appends from many goroutines with fsync on.
// Batching makes them share commits: compare ns/op with
// BenchmarkUpdateSingle, and see appends/commit. Few writers pay for the
// batch delay; many writers share it.
func BenchmarkAppendAuditParallel(b *testing.B) {
	for _, p := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("writers=%dxGOMAXPROCS", p), func(b *testing.B) {
			db := openBench(b, true)
			ctx := b.Context()
			e := store.AuditEvent{
				Time:    time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC),
				Kind:    "signin.failed",
				Actor:   "anonymous",
				Subject: "user-000001",
				IP:      "203.0.113.9",
				Outcome: "failed",
				Details: map[string]string{"reason": "bad_password", "risk": "12"},
			}
			before := txID(b, db)
			var appends atomic.Int64
			b.SetParallelism(p)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := db.AppendAudit(ctx, e); err != nil {
						b.Error(err)
						return
					}
					appends.Add(1)
				}
			})
			b.StopTimer()
			if commits := txID(b, db) - before; commits > 0 {
				b.ReportMetric(float64(appends.Load())/float64(commits), "appends/commit")
			}
		})
	}
}

// BenchmarkUpdateSingle is the floor for a durable write: one small put in
// its own transaction, committed with fsync.
func BenchmarkUpdateSingle(b *testing.B) {
	db := openBench(b, true)
	key := make([]byte, 8)
	val := make([]byte, 64)
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		binary.BigEndian.PutUint64(key, i)
		i++
		err := db.db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketCounters).Put(key, val)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateUser inserts users one after another with fsync on.
func BenchmarkCreateUser(b *testing.B) {
	db := openBench(b, true)
	ctx := b.Context()
	now := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	wrapped := make([]byte, 60)
	sealed := make([]byte, 400)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("user-%09d", i)
		idx := sha256.Sum256([]byte(id))
		i++
		err := db.CreateUser(ctx, store.User{
			ID:           id,
			EmailIndex:   idx[:],
			WrappedKey:   wrapped,
			Sealed:       sealed,
			PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g",
			CreatedAt:    now,
			UpdatedAt:    now,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
