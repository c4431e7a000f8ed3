package devices

import (
	"testing"

	"github.com/descope/virtualwebauthn"
)

// FuzzFinishAssertion feeds arbitrary bytes to the assertion decoder and
// verifier (JSON, base64url, authenticator data, CBOR-encoded keys): every
// input must be refused with a reason, and nothing stored may change.
func FuzzFinishAssertion(f *testing.F) {
	fx := newFixture(f, true)
	u := fx.user(f, "u_fuzz")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})
	fx.register(f, u, k, "key")
	opts, _, err := fx.svc.BeginSignIn(f.Context(), false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.answer(f, testRP, opts))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"dV9mdXp6"}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte("\xff\x00garbage"))
	version := fx.factors(f, u.ID)[0].Version

	f.Fuzz(func(t *testing.T, resp []byte) {
		for _, begin := range []func() ([]byte, Ceremony, error){
			func() ([]byte, Ceremony, error) { return fx.svc.BeginSignIn(t.Context(), false) },
			func() ([]byte, Ceremony, error) { return fx.svc.BeginSecondFactor(t.Context(), u.ID) },
		} {
			_, c, err := begin()
			if err != nil {
				t.Fatal(err)
			}
			_, err = fx.finish(t, c, resp)
			if err == nil || Reason(err) == "" {
				t.Fatalf("input not refused with a reason: %v", err)
			}
		}
		if v := fx.factors(t, u.ID)[0].Version; v != version {
			t.Fatalf("a refused assertion wrote the passkey record")
		}
	})
}

// FuzzFinishRegistration feeds arbitrary bytes to the registration
// decoder and verifier (JSON, base64url, the CBOR attestation object):
// every input must be refused with a reason and nothing stored.
func FuzzFinishRegistration(f *testing.F) {
	fx := newFixture(f, true)
	u := fx.user(f, "u_fuzz")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})
	opts, _, err := fx.svc.BeginRegistration(f.Context(), u)
	if err != nil {
		f.Fatal(err)
	}
	ao, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
	f.Add([]byte(virtualwebauthn.CreateAttestationResponse(testRP, k.auth, k.cred, *ao)))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"v2Zmb3JtYXQ"}}`))

	f.Fuzz(func(t *testing.T, resp []byte) {
		_, c, err := fx.svc.BeginRegistration(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fx.svc.FinishRegistration(t.Context(), c, u.ID, resp, "fuzz")
		if err == nil || Reason(err) == "" {
			t.Fatalf("input not refused with a reason: %v", err)
		}
		if n := len(fx.factors(t, u.ID)); n != 0 {
			t.Fatalf("a refused registration stored %d factors", n)
		}
	})
}

// FuzzRecoveryCode checks that the code normaliser never accepts what a
// generated code could not be, and round-trips every generated code.
func FuzzRecoveryCode(f *testing.F) {
	f.Add("abcd-efgh-jkmn-pqrs")
	f.Add("ABCD EFGH JKMN PQRS")
	f.Add("oooo-iiii-llll-0000")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeRecovery(s)
		if n == "" {
			return
		}
		if len(n) != recoveryLen || normalizeRecovery(formatRecovery(n)) != n {
			t.Fatalf("normalizeRecovery(%q) = %q", s, n)
		}
	})
}
