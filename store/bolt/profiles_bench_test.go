package bolt

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// BenchmarkEraseUser erases one user (a session, 10 audit events, consent
// records) from a store whose audit log holds n events of other users:
// the erasure walks the whole log in its one transaction. With fsync.
func BenchmarkEraseUser(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("audit=%d", n), func(b *testing.B) {
			db := openBench(b, true)
			ctx := b.Context()
			// Fill the log directly, in large transactions.
			for start := 0; start < n; start += 10_000 {
				err := db.db.Update(func(tx *bbolt.Tx) error {
					a := tx.Bucket(bucketAudit)
					for i := start; i < min(start+10_000, n); i++ {
						seq, _ := a.NextSequence()
						v, _ := json.Marshal(store.AuditEvent{Seq: seq, Time: time.Now(), Kind: "signin.succeeded",
							Actor: fmt.Sprintf("u_other%06d", i%5000), Subject: fmt.Sprintf("u_other%06d", i%5000), IP: "192.0.2.1", Outcome: "ok"})
						if err := a.Put(seqKey(seq), v); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			for b.Loop() {
				b.StopTimer()
				id := fmt.Sprintf("u_erase%08d", i)
				i++
				if err := db.CreateUser(ctx, store.User{ID: id, EmailIndex: []byte(id), WrappedKey: []byte("k"), Sealed: []byte("s")}); err != nil {
					b.Fatal(err)
				}
				for j := range 10 {
					db.AppendAudit(ctx, store.AuditEvent{Kind: "x", Actor: id, Subject: id, Outcome: "ok", Time: time.Now(), IP: fmt.Sprint(j)})
				}
				db.AppendConsent(ctx, store.ConsentRecord{UserID: id, Purpose: "p", Granted: true, Version: "1", Time: time.Now()})
				b.StartTimer()
				rep, err := db.EraseUser(ctx, id, "erased:"+id)
				if err != nil || rep.AuditEvents != 10 {
					b.Fatalf("EraseUser = %+v, %v", rep, err)
				}
			}
		})
	}
}
