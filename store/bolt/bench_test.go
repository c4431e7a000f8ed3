package bolt

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
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
	for i := range 1000 {
		if err := db.CreateUser(ctx, store.User{ID: fmt.Sprintf("user-%06d", i)}); err != nil {
			b.Fatal(err)
		}
	}
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

// benchSignIn and benchPayment are realistic records: a located sign-in from
// a known device, and a payment to an IBAN.
func benchSignIn(at time.Time) store.SignInRecord {
	return store.SignInRecord{
		Time: at, IP: "2001:db8:85a3::8a2e:370:7334", Country: "DE", City: "Frankfurt am Main",
		Lat: 50.1109, Lon: 8.6821, Precision: "city", DeviceID: "3f0c2a9e-5b1d-4c7e-9a4f-2d8e6b1c0a57",
		Browser: "Firefox", OS: "Linux", Strong: true,
	}
}

func benchPayment(at time.Time, i int) store.PaymentRecord {
	return store.PaymentRecord{
		Time: at, Amount: int64(1000 + i), Currency: "EUR",
		Payee: fmt.Sprintf("DE89 3704 0044 0532 %04d 00", i%50), Strong: i%5 == 0,
	}
}

// fillHistory gives each of users users a full history (MaxSignIns sign-ins
// and MaxPayments payments), appended concurrently so that they batch.
func fillHistory(b *testing.B, db *DB, users int) {
	b.Helper()
	ctx := b.Context()
	now := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for u := range users {
		id := fmt.Sprintf("user-%06d", u)
		if err := db.CreateUser(ctx, store.User{ID: id}); err != nil {
			b.Fatal(err)
		}
		for i := range store.MaxPayments {
			wg.Go(func() {
				at := now.Add(-time.Duration(i) * time.Hour)
				if i < store.MaxSignIns {
					if err := db.AppendSignIn(ctx, id, benchSignIn(at)); err != nil {
						b.Error(err)
					}
				}
				if err := db.AppendPayment(ctx, id, benchPayment(at, i)); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
}

// BenchmarkHistoryRead is what the risk engine reads for one assessment:
// the 50 newest sign-ins and up to 200 payments, among 20 users with a full
// history each.
func BenchmarkHistoryRead(b *testing.B) {
	db := openBench(b, false)
	ctx := b.Context()
	const users = 20
	fillHistory(b, db, users)
	since := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC) // all 500 qualify
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("user-%06d", i%users)
		i++
		s, err := db.ListSignIns(ctx, id, 50)
		if err != nil || len(s) != 50 {
			b.Fatalf("ListSignIns = %d, %v", len(s), err)
		}
		p, err := db.ListPayments(ctx, id, since, 200)
		if err != nil || len(p) != 200 {
			b.Fatalf("ListPayments = %d, %v", len(p), err)
		}
	}
}

// BenchmarkHistoryDecode compares decoding the 250 records of one
// BenchmarkHistoryRead from JSON and from the binary form the store uses.
func BenchmarkHistoryDecode(b *testing.B) {
	now := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	var jsonS, jsonP, binS, binP [][]byte
	for i := range 200 {
		at := now.Add(-time.Duration(i) * time.Hour)
		if i < 50 {
			v, _ := json.Marshal(benchSignIn(at))
			jsonS = append(jsonS, v)
			binS = append(binS, encodeSignIn(benchSignIn(at)))
		}
		v, _ := json.Marshal(benchPayment(at, i))
		jsonP = append(jsonP, v)
		binP = append(binP, encodePayment(benchPayment(at, i)))
	}
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := make([]store.SignInRecord, len(jsonS))
			for i, v := range jsonS {
				if err := json.Unmarshal(v, &s[i]); err != nil {
					b.Fatal(err)
				}
			}
			p := make([]store.PaymentRecord, len(jsonP))
			for i, v := range jsonP {
				if err := json.Unmarshal(v, &p[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		// As the store reads them: copied into one string, then decoded.
		b.ReportAllocs()
		for b.Loop() {
			var rs, rp rawRecords
			rs.grow(len(binS), signInSizeHint)
			for _, v := range binS {
				rs.add(v)
			}
			rp.grow(len(binP), paymentSizeHint)
			for _, v := range binP {
				rp.add(v)
			}
			if _, err := decodeRecords(&rs, decodeSignInTo[string]); err != nil {
				b.Fatal(err)
			}
			if _, err := decodeRecords(&rp, decodePaymentTo[string]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetFactorByLookupKey is the usernameless passkey sign-in's
// lookup, among 10,000 factors of 1,000 users.
func BenchmarkGetFactorByLookupKey(b *testing.B) {
	db := openBench(b, false)
	ctx := b.Context()
	const users, n = 1000, 10_000
	now := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	for u := range users {
		if err := db.CreateUser(ctx, store.User{ID: fmt.Sprintf("user-%06d", u)}); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([][]byte, n)
	data := make([]byte, 180) // a sealed COSE public key and sign count
	for i := range keys {
		h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
		keys[i] = h[:]
		err := db.CreateFactor(ctx, store.Factor{
			ID: fmt.Sprintf("passkey-%d", i), UserID: fmt.Sprintf("user-%06d", i%users),
			Kind: store.FactorPasskey, Name: "YubiKey 5", LookupKey: keys[i], Data: data,
			CreatedAt: now, LastUsedAt: now,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := db.GetFactorByLookupKey(ctx, keys[i%n]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAppendSignInParallel appends sign-ins of 1,000 users, each with
// a full history so that every append also trims, from many goroutines with
// fsync on. Compare with BenchmarkAppendAuditParallel.
func BenchmarkAppendSignInParallel(b *testing.B) {
	for _, p := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("writers=%dxGOMAXPROCS", p), func(b *testing.B) {
			db := openBench(b, true)
			ctx := b.Context()
			const users = 1000
			now := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
			if err := db.db.Update(func(tx *bbolt.Tx) error {
				// Filled directly: through the API with fsync this would
				// take minutes.
				for u := range users {
					id := fmt.Sprintf("user-%06d", u)
					if err := tx.Bucket(bucketUsers).Put([]byte(id), []byte(`{"id":"`+id+`","version":1}`)); err != nil {
						return err
					}
					b := tx.Bucket(bucketSignIns)
					for i := range store.MaxSignIns {
						seq, _ := b.NextSequence()
						at := now.Add(-time.Duration(i+1) * time.Hour)
						if err := b.Put(historyKey(id, at, seq), encodeSignIn(benchSignIn(at))); err != nil {
							return err
						}
					}
					if err := putHistoryUser(tx, id, historyUser{signIns: store.MaxSignIns}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			before := txID(b, db)
			var appends atomic.Int64
			b.SetParallelism(p)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := appends.Add(1)
					id := fmt.Sprintf("user-%06d", n%users)
					if err := db.AppendSignIn(ctx, id, benchSignIn(now.Add(time.Duration(n)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if commits := txID(b, db) - before; commits > 0 {
				b.ReportMetric(float64(appends.Load())/float64(commits), "appends/commit")
			}
		})
	}
}
