package devices

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/assent-auth/assent/store"
)

// softKey is a software authenticator holding one ES256 credential.
type softKey struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newSoftKey(opts virtualwebauthn.AuthenticatorOptions) *softKey {
	return &softKey{
		auth: virtualwebauthn.NewAuthenticatorWithOptions(opts),
		cred: newES256Credential(),
	}
}

// newES256Credential returns a software credential with a P-256 key whose
// coordinates both take the full 32 bytes. The software authenticator
// encodes coordinates without their leading zero bytes, which a real
// authenticator never does and the COSE decoder rightly refuses, so about
// one key in 128 would make a test fail at random.
func newES256Credential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

// register runs a whole registration ceremony of k for u.
func (f *fixture) register(t testing.TB, u PasskeyUser, k *softKey, name string) Summary {
	t.Helper()
	opts, c, err := f.svc.BeginRegistration(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		t.Fatalf("options the software authenticator cannot read: %v\n%s", err, opts)
	}
	if ao.RelyingPartyID != testRPID || ao.UserID != u.ID || ao.UserName != u.Name {
		t.Fatalf("creation options: %+v", ao)
	}
	resp := virtualwebauthn.CreateAttestationResponse(testRP, k.auth, k.cred, *ao)
	sum, err := f.svc.FinishRegistration(t.Context(), c, u.ID, []byte(resp), name)
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	k.auth.AddCredential(k.cred)
	return sum
}

// answer signs the assertion options with k as a browser would, bumping
// the credential's counter first like a real authenticator.
func (k *softKey) answer(t testing.TB, rp virtualwebauthn.RelyingParty, opts []byte) []byte {
	t.Helper()
	ao, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	if err != nil {
		t.Fatalf("request options the software authenticator cannot read: %v\n%s", err, opts)
	}
	k.cred.Counter++
	return []byte(virtualwebauthn.CreateAssertionResponse(rp, k.auth, k.cred, *ao))
}

func TestPasskeyRegistration(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})

	opts, _, err := f.svc.BeginRegistration(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			Attestation            string `json:"attestation"`
			AuthenticatorSelection struct {
				ResidentKey string `json:"residentKey"`
			} `json:"authenticatorSelection"`
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	if o.PublicKey.Attestation != "none" || o.PublicKey.AuthenticatorSelection.ResidentKey != "required" {
		t.Errorf("options ask for attestation %q, resident key %q; want none, required", o.PublicKey.Attestation, o.PublicKey.AuthenticatorSelection.ResidentKey)
	}

	sum := f.register(t, u, k, "  YubiKey 5  ")
	if sum.Kind != store.FactorPasskey || sum.Name != "YubiKey 5" || sum.Synced || !sum.UserVerified || sum.AAGUID == "" {
		t.Errorf("summary = %+v", sum)
	}
	fs := f.factors(t, u.ID)
	if len(fs) != 1 || string(fs[0].LookupKey) != string(k.cred.ID) {
		t.Fatalf("stored factors = %+v", fs)
	}
	var p passkeyData
	if err := json.Unmarshal(fs[0].Data, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.AAGUID) != 16 || string(p.AAGUID) != string(k.auth.Aaguid[:]) || p.BackupEligible || p.BackupState {
		t.Errorf("stored passkey = %+v", p)
	}

	// The same authenticator again: excluded by the options, and refused
	// if it answers anyway.
	opts, c, err := f.svc.BeginRegistration(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	ao, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
	if !k.cred.IsExcludedForAttestation(*ao) {
		t.Error("the registered credential is not in excludeCredentials")
	}
	resp := virtualwebauthn.CreateAttestationResponse(testRP, k.auth, k.cred, *ao)
	_, err = f.svc.FinishRegistration(t.Context(), c, u.ID, []byte(resp), "again")
	wantReason(t, err, ReasonAlreadyRegistered)
	if n := len(f.factors(t, u.ID)); n != 1 {
		t.Errorf("%d factors after a refused registration, want 1", n)
	}
}

func TestPasskeySyncedFlags(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_sync")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID), BackupEligible: true, BackupState: true})
	sum := f.register(t, u, k, "Phone")
	if !sum.Synced || !sum.BackedUp {
		t.Fatalf("synced passkey summary = %+v", sum)
	}
	opts, c, err := f.svc.BeginSignIn(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	// Synced passkeys usually do not count: zero stays acceptable.
	k.cred.Counter = ^uint32(0)
	resp := k.answer(t, testRP, opts) // wraps to 0
	a, err := f.finish(t, c, resp)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Synced || !a.UserVerified || a.UserID != u.ID {
		t.Errorf("assertion = %+v", a)
	}
}

func TestPasskeySignIn(t *testing.T) {
	f := newFixture(t, true)
	ada := f.user(t, "u_ada")
	bob := f.user(t, "u_bob")
	adaKey := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ada.ID)})
	bobKey := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(bob.ID)})
	f.register(t, ada, adaKey, "Ada's key")
	f.register(t, bob, bobKey, "Bob's key")

	t.Run("discoverable without allowCredentials", func(t *testing.T) {
		opts, c, err := f.svc.BeginSignIn(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		ao, _ := virtualwebauthn.ParseAssertionOptions(string(opts))
		if len(ao.AllowCredentials) != 0 {
			t.Fatalf("usernameless options list credentials: %v", ao.AllowCredentials)
		}
		if !strings.Contains(string(opts), `"userVerification":"required"`) {
			t.Errorf("usernameless options do not require user verification: %s", opts)
		}
		a, err := f.finish(t, c, adaKey.answer(t, testRP, opts))
		if err != nil {
			t.Fatal(err)
		}
		if a.UserID != ada.ID || !a.UserVerified || a.Synced || a.Name != "Ada's key" {
			t.Errorf("assertion = %+v", a)
		}
		var p passkeyData
		fs := f.factors(t, ada.ID)
		json.Unmarshal(fs[0].Data, &p)
		if p.SignCount != adaKey.cred.Counter || !fs[0].LastUsedAt.Equal(f.clock.Now()) {
			t.Errorf("after sign-in: count %d (want %d), last used %v", p.SignCount, adaKey.cred.Counter, fs[0].LastUsedAt)
		}
	})

	t.Run("conditional mediation", func(t *testing.T) {
		opts, c, err := f.svc.BeginSignIn(t.Context(), true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(opts), `"mediation":"conditional"`) {
			t.Errorf("options = %s", opts)
		}
		if _, err := f.finish(t, c, bobKey.answer(t, testRP, opts)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ceremonies do not stand in for each other", func(t *testing.T) {
		opts, c, err := f.svc.BeginSecondFactor(t.Context(), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		resp := adaKey.answer(t, testRP, opts)
		_, err = f.svc.FinishSignIn(t.Context(), c, resp)
		wantReason(t, err, ReasonWrongCeremony)
		_, err = f.svc.FinishSecondFactor(t.Context(), c, bob.ID, resp)
		wantReason(t, err, ReasonWrongCeremony)
		opts, c, _ = f.svc.BeginSignIn(t.Context(), false)
		_, err = f.svc.FinishSecondFactor(t.Context(), c, ada.ID, adaKey.answer(t, testRP, opts))
		wantReason(t, err, ReasonWrongCeremony)
	})

	t.Run("second factor with allowCredentials", func(t *testing.T) {
		opts, c, err := f.svc.BeginSecondFactor(t.Context(), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		ao, _ := virtualwebauthn.ParseAssertionOptions(string(opts))
		if !adaKey.cred.IsAllowedForAssertion(*ao) || bobKey.cred.IsAllowedForAssertion(*ao) || len(ao.AllowCredentials) != 1 {
			t.Fatalf("allowCredentials = %v", ao.AllowCredentials)
		}
		a, err := f.finish(t, c, adaKey.answer(t, testRP, opts))
		if err != nil || a.UserID != ada.ID {
			t.Fatalf("assertion = %+v, %v", a, err)
		}
	})

	t.Run("second factor refuses another user's credential", func(t *testing.T) {
		opts, c, err := f.svc.BeginSecondFactor(t.Context(), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.finish(t, c, bobKey.answer(t, testRP, opts))
		wantReason(t, err, ReasonWrongUser)
	})

	t.Run("user handle of another user", func(t *testing.T) {
		opts, c, _ := f.svc.BeginSignIn(t.Context(), false)
		forged := *bobKey
		forged.auth.Options.UserHandle = []byte(ada.ID)
		_, err := f.finish(t, c, forged.answer(t, testRP, opts))
		wantReason(t, err, ReasonWrongUser)
		bobKey.cred.Counter = forged.cred.Counter
	})

	t.Run("second factor for a user without passkeys", func(t *testing.T) {
		carol := f.user(t, "u_carol")
		_, _, err := f.svc.BeginSecondFactor(t.Context(), carol.ID)
		wantReason(t, err, ReasonNotEnrolled)
	})
}

func TestPasskeyRefusals(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})
	f.register(t, u, k, "key")
	stored := func() passkeyData {
		var p passkeyData
		json.Unmarshal(f.factors(t, u.ID)[0].Data, &p)
		return p
	}

	tests := []struct {
		name   string
		answer func(t *testing.T, opts []byte) []byte
		reason string
	}{
		{"wrong origin", func(t *testing.T, opts []byte) []byte {
			return k.answer(t, virtualwebauthn.RelyingParty{ID: testRPID, Origin: "https://login.example.com.evil.test"}, opts)
		}, ReasonOrigin},
		{"wrong rp id", func(t *testing.T, opts []byte) []byte {
			return k.answer(t, virtualwebauthn.RelyingParty{ID: "evil.test", Origin: testOrigin}, opts)
		}, ReasonRPID},
		{"forged signature", func(t *testing.T, opts []byte) []byte {
			other := *k
			other.cred.Key = newES256Credential().Key
			return other.answer(t, testRP, opts)
		}, ReasonSignature},
		{"unknown credential", func(t *testing.T, opts []byte) []byte {
			return newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)}).answer(t, testRP, opts)
		}, ReasonUnknownCredential},
		{"user not verified", func(t *testing.T, opts []byte) []byte {
			lazy := *k
			lazy.auth.Options.UserNotVerified = true
			return lazy.answer(t, testRP, opts)
		}, ReasonUserNotVerified},
		{"not json", func(*testing.T, []byte) []byte { return []byte("{{{") }, ReasonMalformed},
		{"garbage base64", func(*testing.T, []byte) []byte {
			return []byte(`{"id":"!!","rawId":"!!","type":"public-key","response":{"clientDataJSON":"%%","authenticatorData":"x","signature":"y"}}`)
		}, ReasonMalformed},
		{"garbage authenticator data", func(t *testing.T, opts []byte) []byte {
			var m map[string]any
			json.Unmarshal(k.answer(t, testRP, opts), &m)
			m["response"].(map[string]any)["authenticatorData"] = "AAAA"
			b, _ := json.Marshal(m)
			return b
		}, ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := stored()
			opts, c, err := f.svc.BeginSignIn(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.finish(t, c, tc.answer(t, opts))
			wantReason(t, err, tc.reason)
			if after := stored(); after.SignCount != before.SignCount || after.Suspect {
				t.Errorf("a refused assertion changed the record: %+v -> %+v", before, after)
			}
		})
	}

	t.Run("replayed assertion", func(t *testing.T) {
		opts, c, _ := f.svc.BeginSignIn(t.Context(), false)
		resp := k.answer(t, testRP, opts)
		if _, err := f.finish(t, c, resp); err != nil {
			t.Fatal(err)
		}
		// The same answer against a new challenge.
		_, c2, _ := f.svc.BeginSignIn(t.Context(), false)
		_, err := f.finish(t, c2, resp)
		wantReason(t, err, ReasonChallenge)
	})

	t.Run("expired ceremony", func(t *testing.T) {
		opts, c, _ := f.svc.BeginSignIn(t.Context(), false)
		f.clock.Advance(5*time.Minute + time.Second)
		defer f.clock.Advance(-5*time.Minute - time.Second)
		_, err := f.finish(t, c, k.answer(t, testRP, opts))
		wantReason(t, err, ReasonExpired)
	})

	t.Run("registration ceremony used for sign-in", func(t *testing.T) {
		_, c, _ := f.svc.BeginRegistration(t.Context(), u)
		opts, _, _ := f.svc.BeginSignIn(t.Context(), false)
		_, err := f.finish(t, c, k.answer(t, testRP, opts))
		wantReason(t, err, ReasonWrongCeremony)
	})

	t.Run("second factor accepts a key without UV, and says so", func(t *testing.T) {
		opts, c, _ := f.svc.BeginSecondFactor(t.Context(), u.ID)
		lazy := *k
		lazy.auth.Options.UserNotVerified = true
		a, err := f.finish(t, c, lazy.answer(t, testRP, opts))
		k.cred.Counter = lazy.cred.Counter
		if err != nil || a.UserVerified {
			t.Fatalf("assertion = %+v, %v", a, err)
		}
	})

	t.Run("counter regression marks the credential suspect", func(t *testing.T) {
		good := k.cred.Counter
		opts, c, _ := f.svc.BeginSignIn(t.Context(), false)
		k.cred.Counter = 1 // answer() bumps it to 2, below the stored count
		_, err := f.finish(t, c, k.answer(t, testRP, opts))
		wantReason(t, err, ReasonCounterRegression)
		if p := stored(); !p.Suspect || p.SignCount != good {
			t.Fatalf("after regression: %+v", p)
		}
		// From now on even a correct counter is refused.
		k.cred.Counter = good + 10
		opts, c, _ = f.svc.BeginSignIn(t.Context(), false)
		_, err = f.finish(t, c, k.answer(t, testRP, opts))
		wantReason(t, err, ReasonSuspect)
		sums, _ := f.svc.List(t.Context(), u.ID)
		if !sums[0].Suspect || sums[0].Strong() {
			t.Errorf("suspect passkey summary = %+v", sums[0])
		}
		if _, _, err := f.svc.BeginSecondFactor(t.Context(), u.ID); Reason(err) != ReasonNotEnrolled {
			t.Errorf("second factor with only a suspect passkey: %v", err)
		}
	})
}

func TestRegistrationRefusals(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})
	tests := []struct {
		name   string
		rp     virtualwebauthn.RelyingParty
		mangle func(string) string
		userID string
		reason string
	}{
		{"wrong origin", virtualwebauthn.RelyingParty{ID: testRPID, Origin: "https://evil.test"}, nil, u.ID, ReasonOrigin},
		{"wrong rp id", virtualwebauthn.RelyingParty{ID: "evil.test", Origin: testOrigin}, nil, u.ID, ReasonRPID},
		{"another user's ceremony", testRP, nil, "u_mallory", ReasonWrongCeremony},
		{"garbage cbor", testRP, func(s string) string {
			var m map[string]any
			json.Unmarshal([]byte(s), &m)
			m["response"].(map[string]any)["attestationObject"] = "v2Zmb3JtYXQ"
			b, _ := json.Marshal(m)
			return string(b)
		}, u.ID, ReasonMalformed},
		{"truncated", testRP, func(s string) string { return s[:len(s)/2] }, u.ID, ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, c, err := f.svc.BeginRegistration(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			ao, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
			resp := virtualwebauthn.CreateAttestationResponse(tc.rp, k.auth, k.cred, *ao)
			if tc.mangle != nil {
				resp = tc.mangle(resp)
			}
			_, err = f.svc.FinishRegistration(t.Context(), c, tc.userID, []byte(resp), "key")
			wantReason(t, err, tc.reason)
			if n := len(f.factors(t, u.ID)); n != 0 {
				t.Errorf("a refused registration stored %d factors", n)
			}
		})
	}
}
