package oidcprovider

import (
	"net/url"
	"testing"
	"time"

	"github.com/assent-auth/assent/acr"
)

// TestPaymentLevel: a payment the risk engine stepped up is approved only
// by methods reaching the level; the level never falls.
func TestPaymentLevel(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	details := []byte(`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"89.90"},"creditorName":"Acme Shop"}]`)
	tests := []struct {
		name    string
		amr     []string
		want    Outcome
		wantErr string
		wantACR string
	}{
		{name: "mfa below phr", amr: []string{"pwd", "otp", "mfa"}, want: Failed, wantErr: "access_denied"},
		{name: "app approval below phr", amr: []string{"pwd", "swk", "user", "mca", "mfa"}, want: Failed, wantErr: "access_denied"},
		{name: "synced passkey", amr: []string{"pwd", "otp", "swk", "user", "mfa"}, want: Completed, wantACR: "phr"},
		{name: "device-bound passkey", amr: []string{"hwk", "user"}, want: Completed, wantACR: "phrh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			p := newTestProvider(t, &now)
			a := authRequest{ID: "req", CreatedAt: t0, ClientID: "web", RedirectURI: "https://rp.example/cb", State: "st",
				Preferred: acr.MFA, AuthorizationDetails: details}
			if err := p.putRequest(t.Context(), &a, true); err != nil {
				t.Fatal(err)
			}
			auth := Authentication{Subject: "u1", AuthTime: t0, AMR: tc.amr}
			if d, err := p.Resume(t.Context(), "req", &auth); err != nil || d.Outcome != Payment {
				t.Fatalf("Resume = %+v, %v; want the payment", d, err)
			}
			if err := p.RequirePaymentLevel(t.Context(), "req", acr.PhishingResistant); err != nil {
				t.Fatal(err)
			}
			if err := p.RequirePaymentLevel(t.Context(), "req", acr.MFA); err != nil {
				t.Fatal(err)
			}
			if l, err := p.PaymentLevel(t.Context(), "req"); err != nil || l != acr.PhishingResistant {
				t.Fatalf("PaymentLevel = %v, %v; want phr (it never falls)", l, err)
			}
			d, err := p.ApprovePayment(t.Context(), "req", auth, details, "")
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tc.want || d.Error != tc.wantErr || d.ACR != tc.wantACR {
				t.Fatalf("ApprovePayment = %+v, want outcome %v, error %q, acr %q", d, tc.want, tc.wantErr, tc.wantACR)
			}
			if d.Outcome == Failed {
				u, _ := url.Parse(d.Target)
				if u.Query().Get("error_description") != "step_up_required" {
					t.Errorf("target = %s", d.Target)
				}
			}
		})
	}
}
