package devices

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

type appKey struct {
	priv *ecdsa.PrivateKey
	pub  []byte
}

func newAppKey(t testing.TB) appKey {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return appKey{priv, pub}
}

func (k appKey) redeem(t testing.TB, code string) Redemption {
	h := sha256.Sum256(EnrollmentMessage(code, k.pub))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return Redemption{Code: code, PublicKey: k.pub, Signature: sig, Platform: "ios", Name: "iPhone"}
}

func TestAppEnrollment(t *testing.T) {
	f := newFixture(t, true)
	ctx := t.Context()
	f.user(t, "u1")
	e, err := f.svc.StartAppEnrollment(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.QR) == 0 || len(e.Matrix) == 0 || !e.Expires.Equal(f.clock.Now().Add(EnrollmentTTL)) {
		t.Fatalf("enrollment %+v", e)
	}
	if ov, _ := f.svc.Overview(ctx, "u1"); ov.HasStrong || ov.AppDevices != 0 {
		t.Fatalf("a pending enrollment counts as a factor: %+v", ov)
	}
	k := newAppKey(t)
	dev, err := f.svc.RedeemAppEnrollment(ctx, k.redeem(t, e.Code.Reveal()))
	if err != nil {
		t.Fatal(err)
	}
	if dev.UserID != "u1" || dev.Name != "iPhone" {
		t.Fatalf("device %+v", dev)
	}
	if ov, _ := f.svc.Overview(ctx, "u1"); !ov.HasStrong || ov.AppDevices != 1 {
		t.Fatalf("overview after enrollment: %+v", ov)
	}
	got, err := f.svc.AppDeviceKey(ctx, dev.ID)
	if err != nil || got.UserID != "u1" || !got.Key.Equal(&k.priv.PublicKey) {
		t.Fatalf("AppDeviceKey = %+v, %v", got, err)
	}
	// Used once only.
	_, err = f.svc.RedeemAppEnrollment(ctx, newAppKey(t).redeem(t, e.Code.Reveal()))
	wantReason(t, err, ReasonInvalidEnrollment)
	// Revoking is removing the factor.
	if _, err := f.svc.Remove(ctx, "u1", dev.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AppDeviceKey(ctx, dev.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked device: %v", err)
	}
}

func TestAppEnrollmentRefusals(t *testing.T) {
	f := newFixture(t, true)
	ctx := t.Context()
	f.user(t, "u1")
	start := func() string {
		e, err := f.svc.StartAppEnrollment(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		return e.Code.Reveal()
	}
	k := newAppKey(t)

	code := start()
	f.clock.Advance(EnrollmentTTL)
	_, err := f.svc.RedeemAppEnrollment(ctx, k.redeem(t, code))
	wantReason(t, err, ReasonExpired)

	code = start()
	r := k.redeem(t, code)
	r.PublicKey = newAppKey(t).pub // signature by another key
	_, err = f.svc.RedeemAppEnrollment(ctx, r)
	wantReason(t, err, ReasonSignature)

	code = start()
	r = k.redeem(t, code)
	r.PublicKey = []byte("not a key")
	_, err = f.svc.RedeemAppEnrollment(ctx, r)
	wantReason(t, err, ReasonBadKey)

	_, err = f.svc.RedeemAppEnrollment(ctx, k.redeem(t, "AAAAA-BBBBB-CCCCC-DDDDD"))
	wantReason(t, err, ReasonInvalidEnrollment)

	if _, err := f.svc.AppDeviceKey(ctx, "app_none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
}

// TestAppEnrollmentRace redeems one code from 20 goroutines: one wins.
func TestAppEnrollmentRace(t *testing.T) {
	f := newFixture(t, true)
	ctx := t.Context()
	f.user(t, "u1")
	e, _ := f.svc.StartAppEnrollment(ctx, "u1")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		r := newAppKey(t).redeem(t, e.Code.Reveal())
		wg.Go(func() {
			if _, err := f.svc.RedeemAppEnrollment(ctx, r); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions won", wins.Load())
	}
}
