package loadgen_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/assent-auth/assent/profiles"
)

// The floors: the costs no flow can go below, measured with the load runs
// (scripts/bench.sh) so each flow's throughput can be read against its
// limit. `go test -run '^$' -bench Floor ./loadgen`.

// BenchmarkFloorArgon2id is one password hash at the server's parameters
// (m=19 MiB, t=2, p=1) on one core; a sign-in verifies once.
func BenchmarkFloorArgon2id(b *testing.B) {
	h := profiles.NewHasher(profiles.DefaultArgon2Params)
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorArgon2idAllCores hashes on every core at once: its
// reciprocal is the machine's password ceiling, memory bandwidth included.
func BenchmarkFloorArgon2idAllCores(b *testing.B) {
	h := profiles.NewHasher(profiles.DefaultArgon2Params)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash("correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFloorES256Sign is one ECDSA P-256 signature over SHA-256: an
// ID token or a JWT access token.
func BenchmarkFloorES256Sign(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorES256Verify is one ECDSA P-256 verification: a JWT access
// token at introspection, an app device's signed answer.
func BenchmarkFloorES256Verify(b *testing.B) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	for b.Loop() {
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkFloorFsyncCommit is one durable bbolt commit of a small record
// on the file system the temporary directory is on: the floor of a lone
// durable write (db.Batch shares it among concurrent writers).
func BenchmarkFloorFsyncCommit(b *testing.B) {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var i uint64
	for b.Loop() {
		i++
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("floor"))
			if err != nil {
				return err
			}
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], i)
			return bk.Put(k[:], make([]byte, 200))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
