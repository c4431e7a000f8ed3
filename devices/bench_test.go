package devices

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp/totp"
)

// BenchmarkPasskeyAssertion measures verifying an ES256 passkey assertion
// on a real bbolt file: decoding the browser's JSON, reading the passkey
// by credential id, and the WebAuthn checks with the ECDSA P-256
// signature ("verify"); and the same plus the atomic sign-counter update
// with fsync ("verify+record"). "p256-alone" is crypto/ecdsa verifying one
// signature, the floor of the others, measured in the same run.
func BenchmarkPasskeyAssertion(b *testing.B) {
	fx := newFixture(b, false)
	u := fx.user(b, "u_bench")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})
	fx.register(b, u, k, "key")

	b.Run("verify", func(b *testing.B) {
		opts, c, err := fx.svc.BeginSignIn(b.Context(), false)
		if err != nil {
			b.Fatal(err)
		}
		resp := k.answer(b, testRP, opts)
		for b.Loop() {
			if _, err := fx.svc.verifyAssertion(b.Context(), c, PurposeSignIn, "", resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("p256-alone", func(b *testing.B) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		digest := sha256.Sum256([]byte("assertion"))
		sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
		for b.Loop() {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("verify+record", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			opts, c, err := fx.svc.BeginSignIn(b.Context(), false)
			if err != nil {
				b.Fatal(err)
			}
			resp := k.answer(b, testRP, opts)
			b.StartTimer()
			if _, err := fx.svc.FinishSignIn(b.Context(), c, resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTOTP measures checking a TOTP code on a real bbolt file: the
// store read, opening the sealed seed and computing the three codes of the
// window ("verify"; a wrong code, which is refused without a write); and
// accepting a right code, which also records its time step with fsync
// ("verify+record").
func BenchmarkTOTP(b *testing.B) {
	fx := newFixture(b, false)
	u := fx.user(b, "u_bench")
	seed := []byte("benchmark-seed-20byt")
	fx.installTOTP(b, u.ID, seed, 6)
	secret := b32.EncodeToString(seed)

	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := fx.svc.VerifyTOTP(b.Context(), u.ID, "000000"); Reason(err) != ReasonInvalidCode {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify+record", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			fx.clock.Advance(30 * time.Second)
			code, _ := totp.GenerateCode(secret, fx.clock.Now())
			b.StartTimer()
			if err := fx.svc.VerifyTOTP(b.Context(), u.ID, code); err != nil {
				b.Fatal(err)
			}
		}
	})
}
