package profiles

import (
	"errors"
	"testing"
)

// TestUserCode: a user code is set, checked, kept across reads, replaced
// and removed; codes outside the policy are refused; a user without one
// matches nothing.
func TestUserCode(t *testing.T) {
	s, _, ada := newAdaService(t)
	ctx := t.Context()
	if ok, err := s.CheckUserCode(ctx, ada.ID, ""); err != nil || ok {
		t.Fatalf("no code set, empty code: %v %v", ok, err)
	}
	for _, bad := range []string{"123", "12345678901234567", "12 34", "1234\n", "kööd"} {
		if _, err := s.SetUserCode(ctx, ada.ID, bad); !errors.Is(err, ErrUserCodePolicy) {
			t.Errorf("code %q: %v, want ErrUserCodePolicy", bad, err)
		}
	}
	ident, err := s.SetUserCode(ctx, ada.ID, "Shop42")
	if err != nil || !ident.HasUserCode {
		t.Fatalf("SetUserCode: %+v %v", ident, err)
	}
	for code, want := range map[string]bool{"Shop42": true, "shop42": false, "Shop4": false, "Shop421": false, "": false} {
		if ok, err := s.CheckUserCode(ctx, ada.ID, code); err != nil || ok != want {
			t.Errorf("CheckUserCode(%q) = %v, %v; want %v", code, ok, err, want)
		}
	}
	if got, _ := s.Get(ctx, ada.ID); !got.HasUserCode || got.Email != "ada@example.com" {
		t.Errorf("after setting the code: %+v", got)
	}
	if ident, err := s.SetUserCode(ctx, ada.ID, ""); err != nil || ident.HasUserCode {
		t.Fatalf("removing the code: %+v %v", ident, err)
	}
	if ok, _ := s.CheckUserCode(ctx, ada.ID, "Shop42"); ok {
		t.Error("a removed code still matches")
	}
	if _, err := s.CheckUserCode(ctx, "u_nobody", "Shop42"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}
