package profiles

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkArgon2idHash measures one hash with the default parameters: the
// least CPU time a password sign-in costs.
func BenchmarkArgon2idHash(b *testing.B) {
	h := NewHasher(DefaultArgon2Params)
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyArgon2idDefault(b *testing.B) {
	h := NewHasher(DefaultArgon2Params)
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, _ := h.Verify(enc, "correct horse battery staple"); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkDummyVerify should match BenchmarkVerifyArgon2idDefault.
func BenchmarkDummyVerify(b *testing.B) {
	h := NewHasher(DefaultArgon2Params)
	for b.Loop() {
		h.DummyVerify("correct horse battery staple")
	}
}

func BenchmarkVerifyBcrypt10(b *testing.B) {
	enc, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), 10)
	if err != nil {
		b.Fatal(err)
	}
	h := NewHasher(DefaultArgon2Params)
	for b.Loop() {
		if ok, _, _ := h.Verify(string(enc), "correct horse battery staple"); !ok {
			b.Fatal("no match")
		}
	}
}

// BenchmarkVerifyPBKDF2_600k uses OWASP's current PBKDF2-HMAC-SHA256
// iteration count, in Django's encoding.
func BenchmarkVerifyPBKDF2_600k(b *testing.B) {
	const salt = "Hx3vmVc2bNQ4k8OJ6Hkxqe"
	dk, err := pbkdf2.Key(sha256.New, "correct horse battery staple", []byte(salt), 600_000, 32)
	if err != nil {
		b.Fatal(err)
	}
	enc := "pbkdf2_sha256$600000$" + salt + "$" + base64.StdEncoding.EncodeToString(dk)
	h := NewHasher(DefaultArgon2Params)
	for b.Loop() {
		if ok, _, _ := h.Verify(enc, "correct horse battery staple"); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	CheckPassword("warm up the list")
	for b.Loop() {
		if err := CheckPassword("Correct Horse Battery Staple"); err != nil {
			b.Fatal(err)
		}
	}
}
