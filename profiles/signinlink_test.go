package profiles

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSignInLink(t *testing.T) {
	s, c, ada := newAdaService(t)
	ctx := t.Context()
	squat, _ := s.Create(ctx, NewUser{Email: "squat@example.com", Password: "correct horse battery"})
	lin, _ := s.Create(ctx, NewUser{Email: "lin@example.com"})

	if _, _, err := s.SignInLink(ctx, squat.ID, "nonce"); !errors.Is(err, ErrNoSignInLink) {
		t.Errorf("unverified account with a password: err = %v", err)
	}
	if _, _, err := s.SignInLink(ctx, ada.ID, ""); !errors.Is(err, ErrNoSignInLink) {
		t.Errorf("no browser nonce: err = %v", err)
	}
	tok, _, err := s.SignInLink(ctx, ada.ID, "browser-a")
	if err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string][2]string{
		"other browser": {tok, "browser-b"},
		"no browser":    {tok, ""},
		"flipped mac":   {tamper(tok), "browser-a"},
		"reset link":    {mustReset(t, s, ada.ID), "browser-a"},
	} {
		if _, _, err := s.UseSignInLink(ctx, try[0], try[1]); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: err = %v, want ErrLinkInvalid", name, err)
		}
	}

	// Of many concurrent uses exactly one succeeds; then it is spent.
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 8 {
		wg.Go(func() {
			if got, _, err := s.UseSignInLink(ctx, tok, "browser-a"); err == nil && got.ID == ada.ID {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d concurrent uses succeeded, want 1", ok.Load())
	}

	// Expiry.
	tok, _, _ = s.SignInLink(ctx, ada.ID, "browser-a")
	c.Advance(SignInLinkTTL)
	if _, _, err := s.UseSignInLink(ctx, tok, "browser-a"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("expired: err = %v", err)
	}

	// A password-less account's link verifies its address.
	tok, _, err = s.SignInLink(ctx, lin.ID, "browser-c")
	if err != nil {
		t.Fatal(err)
	}
	got, verified, err := s.UseSignInLink(ctx, tok, "browser-c")
	if err != nil || !verified || !got.EmailVerified || got.HasPassword {
		t.Fatalf("password-less link: %+v %v %v", got, verified, err)
	}
}

// TestSignInCode checks the code that comes with a sign-in link: it signs
// in only with the address and the browser it was made for, once, for
// at least SignInLinkTTL and at most twice that, and using the link spends
// it too.
func TestSignInCode(t *testing.T) {
	s, c, ada := newAdaService(t)
	ctx := t.Context()
	s.Create(ctx, NewUser{Email: "bob@example.com", Password: "correct horse battery", EmailVerified: true})
	_, code, err := s.SignInLink(ctx, ada.ID, "browser-a")
	if err != nil || len(code) != SignInCodeDigits {
		t.Fatalf("SignInLink: code %q, %v", code, err)
	}
	wrong := fmt.Sprintf("%08d", (atoi(code)+1)%100_000_000)
	for name, try := range map[string][3]string{
		"other browser":  {"ada@example.com", code, "browser-b"},
		"no browser":     {"ada@example.com", code, ""},
		"other address":  {"bob@example.com", code, "browser-a"},
		"unknown":        {"nobody@example.com", code, "browser-a"},
		"wrong code":     {"ada@example.com", wrong, "browser-a"},
		"too short":      {"ada@example.com", code[:7], "browser-a"},
		"with a newline": {"ada@example.com", code + "\n", "browser-a"},
	} {
		if _, _, err := s.UseSignInCode(ctx, try[0], try[1], try[2]); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: err = %v, want ErrLinkInvalid", name, err)
		}
	}
	c.Advance(SignInLinkTTL) // still in the next window
	got, _, err := s.UseSignInCode(ctx, "Ada@Example.com", code, "browser-a")
	if err != nil || got.ID != ada.ID {
		t.Fatalf("code: %+v %v", got, err)
	}
	if _, _, err := s.UseSignInCode(ctx, "ada@example.com", code, "browser-a"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("code used twice: err = %v", err)
	}

	// Two windows later it is too old.
	_, code, _ = s.SignInLink(ctx, ada.ID, "browser-a")
	c.Advance(2 * SignInLinkTTL)
	if _, _, err := s.UseSignInCode(ctx, "ada@example.com", code, "browser-a"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("old code: err = %v", err)
	}

	// Using the link spends the code.
	tok, code, _ := s.SignInLink(ctx, ada.ID, "browser-a")
	if _, _, err := s.UseSignInLink(ctx, tok, "browser-a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UseSignInCode(ctx, "ada@example.com", code, "browser-a"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("code after its link was used: err = %v", err)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// newAdaService is a Service on a test clock with ada@example.com
// registered, verified, with a password.
func newAdaService(t *testing.T) (*Service, *testClock, Identity) {
	t.Helper()
	c := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := newService(t, c.Now)
	ada, err := s.Create(t.Context(), NewUser{Email: "ada@example.com", Password: "correct horse battery", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, ada
}
