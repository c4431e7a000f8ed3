package profiles

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSignInLink(t *testing.T) {
	c := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := newService(t, c.Now)
	ctx := t.Context()
	ada, err := s.Create(ctx, NewUser{Email: "ada@example.com", Password: "correct horse battery", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	squat, _ := s.Create(ctx, NewUser{Email: "squat@example.com", Password: "correct horse battery"})
	lin, _ := s.Create(ctx, NewUser{Email: "lin@example.com"})

	if _, err := s.SignInLink(ctx, squat.ID, "nonce"); !errors.Is(err, ErrNoSignInLink) {
		t.Errorf("unverified account with a password: err = %v", err)
	}
	if _, err := s.SignInLink(ctx, ada.ID, ""); !errors.Is(err, ErrNoSignInLink) {
		t.Errorf("no browser nonce: err = %v", err)
	}
	tok, err := s.SignInLink(ctx, ada.ID, "browser-a")
	if err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string][2]string{
		"other browser": {tok, "browser-b"},
		"no browser":    {tok, ""},
		"flipped mac":   {tok[:len(tok)-2] + "AA", "browser-a"},
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
	tok, _ = s.SignInLink(ctx, ada.ID, "browser-a")
	c.Advance(SignInLinkTTL)
	if _, _, err := s.UseSignInLink(ctx, tok, "browser-a"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("expired: err = %v", err)
	}

	// A password-less account's link verifies its address.
	tok, err = s.SignInLink(ctx, lin.ID, "browser-c")
	if err != nil {
		t.Fatal(err)
	}
	got, verified, err := s.UseSignInLink(ctx, tok, "browser-c")
	if err != nil || !verified || !got.EmailVerified || got.HasPassword {
		t.Fatalf("password-less link: %+v %v %v", got, verified, err)
	}
}
