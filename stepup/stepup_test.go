package stepup

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/acr"
)

func TestInsufficient(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := &Verifier{now: func() time.Time { return now }}
	tests := []struct {
		name string
		req  Requirement
		tok  Token
		want string
	}{
		{"nothing asked", Requirement{}, Token{}, ""},
		{"level met", Requirement{ACR: acr.MFA}, Token{ACR: acr.PhishingResistant}, ""},
		{"level short", Requirement{ACR: acr.PhishingResistant}, Token{ACR: acr.MFA},
			`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", acr_values="phr"`},
		{"no acr", Requirement{ACR: acr.SingleFactor}, Token{}, `Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", acr_values="1"`},
		{"recent", Requirement{MaxAge: time.Minute}, Token{AuthTime: now.Add(-time.Minute)}, ""},
		{"too old", Requirement{MaxAge: time.Minute}, Token{AuthTime: now.Add(-2 * time.Minute)},
			`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", max_age=60`},
		{"no auth_time", Requirement{MaxAge: time.Minute}, Token{},
			`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", max_age=60`},
		{"both", Requirement{ACR: acr.MFA, MaxAge: time.Minute}, Token{ACR: acr.SingleFactor},
			`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", acr_values="mfa", max_age=60`},
	}
	for _, tc := range tests {
		if got := v.insufficient(tc.req, &tc.tok); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
