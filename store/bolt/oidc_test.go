package bolt

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/storetest"
)

func TestOIDCConformance(t *testing.T) {
	storetest.RunOIDC(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		path := filepath.Join(t.TempDir(), "assent.db")
		open := func(t *testing.T) store.Store {
			t.Helper()
			db, err := Open(path, Options{NoSync: true})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return db
		}
		return open(t), open
	})
}

// BenchmarkRotateOIDCRefreshToken rotates independent families from many
// goroutines with fsync on, as the refresh grant does.
func BenchmarkRotateOIDCRefreshToken(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "assent.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	if err := db.CreateUser(ctx, store.User{ID: "u1"}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		fam := fmt.Sprintf("f%d", n.Add(1))
		cur := sha256.Sum256([]byte(fam + "/0"))
		tok := store.OIDCRefreshToken{TokenHash: cur[:], Family: fam, UserID: "u1", ClientID: "c", ExpiresAt: time.Now().Add(time.Hour)}
		if err := db.CreateOIDCRefreshToken(ctx, tok); err != nil {
			b.Error(err)
			return
		}
		for i := 1; pb.Next(); i++ {
			next := sha256.Sum256(fmt.Appendf(nil, "%s/%d", fam, i))
			tok.TokenHash = next[:]
			if err := db.RotateOIDCRefreshToken(ctx, cur[:], tok); err != nil {
				b.Error(err)
				return
			}
			cur = next
		}
	})
}

// BenchmarkRotateOIDCRefreshTokenLone rotates one family at a time with
// fsync on: the latency of a lone write on a quiet server.
func BenchmarkRotateOIDCRefreshTokenLone(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "assent.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := b.Context()
	if err := db.CreateUser(ctx, store.User{ID: "u1"}); err != nil {
		b.Fatal(err)
	}
	cur := sha256.Sum256([]byte("lone/0"))
	tok := store.OIDCRefreshToken{TokenHash: cur[:], Family: "lone", UserID: "u1", ClientID: "c", ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateOIDCRefreshToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 1; b.Loop(); i++ {
		next := sha256.Sum256(fmt.Appendf(nil, "lone/%d", i))
		tok.TokenHash = next[:]
		if err := db.RotateOIDCRefreshToken(ctx, cur[:], tok); err != nil {
			b.Fatal(err)
		}
		cur = next
	}
}
