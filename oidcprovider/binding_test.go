package oidcprovider

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestPagesBoundToBrowser: a request started by a browser shows and
// answers its payment page only to that browser; one stored without a
// browser is bound to the first user shown the page. Anyone else is told
// the request does not exist.
func TestPagesBoundToBrowser(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	details := json.RawMessage(`[{"type":"payment_initiation"}]`)
	mine, theirs := []byte("browser-1-hash"), []byte("browser-2-hash")
	for _, tc := range []struct {
		name         string
		browser      []byte
		owner, other Authentication
	}{
		{name: "browser", browser: mine,
			owner: Authentication{Subject: "u1", Browser: mine}, other: Authentication{Subject: "u1", Browser: theirs}},
		{name: "no browser: first user", owner: Authentication{Subject: "u1"}, other: Authentication{Subject: "u2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			p := newTestProvider(t, &now)
			a := authRequest{ID: "req", CreatedAt: t0, ClientID: "web", RedirectURI: "https://rp.example/cb", State: "st",
				AuthorizationDetails: details, Browser: tc.browser}
			if err := p.putRequest(t.Context(), &a, true); err != nil {
				t.Fatal(err)
			}
			now = t0.Add(time.Second)
			owner, other := tc.owner, tc.other
			owner.AuthTime, owner.AMR = t0, []string{"pwd"}
			other.AuthTime, other.AMR = t0, []string{"pwd"}
			if d, err := p.Resume(t.Context(), "req", &owner); err != nil || d.Outcome != Payment {
				t.Fatalf("owner's resume: %+v %v", d, err)
			}
			if _, err := p.Resume(t.Context(), "req", &other); !errors.Is(err, ErrUnknownRequest) {
				t.Errorf("other's resume: %v", err)
			}
			if _, err := p.Reject(t.Context(), "req", other, "access_denied", ""); !errors.Is(err, ErrUnknownRequest) {
				t.Errorf("other's reject: %v", err)
			}
			if _, err := p.ApprovePayment(t.Context(), "req", other, details, ""); !errors.Is(err, ErrUnknownRequest) {
				t.Errorf("other's approval: %v", err)
			}
			if _, err := p.BoundClient(t.Context(), "req", other); !errors.Is(err, ErrUnknownRequest) {
				t.Errorf("other's lookup: %v", err)
			}
			if c, err := p.BoundClient(t.Context(), "req", owner); err != nil || c != "web" {
				t.Errorf("owner's lookup: %q %v", c, err)
			}
			if d, err := p.Reject(t.Context(), "req", owner, "access_denied", ""); err != nil || d.Outcome != Failed {
				t.Errorf("owner's reject: %+v %v", d, err)
			}
		})
	}
}
