package authserver

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseMinor(t *testing.T) {
	for _, tc := range []struct {
		in     string
		digits int
		want   int64
		ok     bool
	}{
		{"89.90", 2, 8990, true},
		{"30", 2, 3000, true},
		{"30.0", 2, 3000, true},
		{"0.01", 2, 1, true},
		{"1200", 0, 1200, true},
		{"30.001", 2, 0, false},
		{"12.5", 0, 0, false},
		{"0", 2, 0, false},
		{"0.00", 2, 0, false},
		{"-1.00", 2, 0, false},
		{"+1.00", 2, 0, false},
		{"1e3", 2, 0, false},
		{"01.00", 2, 0, false},
		{" 1.00", 2, 0, false},
		{"1.", 2, 0, false},
		{".5", 2, 0, false},
		{"999999999999.99", 2, 99999999999999, true},
		{"1000000000000", 2, 0, false},
		{"１.00", 2, 0, false},
	} {
		got, err := parseMinor(tc.in, tc.digits)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseMinor(%q, %d) = %d, %v; want %d ok=%v", tc.in, tc.digits, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseAuthorizationDetailsCanonical(t *testing.T) {
	in := `[ {"creditorName":"Acme Shop","type":"payment_initiation",
	  "instructedAmount":{"amount":"89.90","currency":"EUR"}, "remittanceInformationUnstructured":"Order 4711"} ]`
	p, err := parseAuthorizationDetails(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"89.90"},"creditorName":"Acme Shop","remittanceInformationUnstructured":"Order 4711"}]`
	if string(p.details) != want || p.minor != 8990 || p.Payee() != "Acme Shop" || p.PayeeID() != "Acme Shop" {
		t.Fatalf("got %s %d %q", p.details, p.minor, p.Payee())
	}
	for _, bad := range []string{
		``, `{}`, `[]`, `null`, `[null]`, `[1]`, `"x"`,
		`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00"},"creditorName":"A\u0000"}]`,
		`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00"},"creditorName":"A\u202e"}]`,
		`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00"},"creditorName":" "}]`,
		`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00","x":1},"creditorName":"A"}]`,
		`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00"},"creditorName":"A"}] x`,
		`[{"type":"payment_initiation","instructedAmount":{"currency":"eur","amount":"1.00"},"creditorName":"A"}]`,
	} {
		if _, err := parseAuthorizationDetails(bad); !errors.Is(err, errAuthorizationDetails) {
			t.Errorf("parseAuthorizationDetails(%q) = %v, want a refusal", bad, err)
		}
	}
}

// FuzzParseAuthorizationDetails: whatever is accepted re-encodes to a
// canonical form that parses to the same payment, within the size bound.
func FuzzParseAuthorizationDetails(f *testing.F) {
	f.Add(`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"89.90"},"creditorName":"Acme Shop","creditorAccount":{"iban":"DE89370400440532013000"}}]`)
	f.Add(`[{"type":"payment_initiation","instructedAmount":{"currency":"JPY","amount":"1200"},"creditorName":"店"}]`)
	f.Add(`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":89.9},"creditorName":"A"}]`)
	f.Add(`[{"type":"account_information"}]`)
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseAuthorizationDetails(raw)
		if err != nil {
			if !errors.Is(err, errAuthorizationDetails) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if p.minor <= 0 || len(p.details) > 4*maxAuthorizationDetails || !json.Valid(p.details) {
			t.Fatalf("accepted %q as %+v", raw, p)
		}
		q, err := parseAuthorizationDetails(string(p.details))
		if err != nil || string(q.details) != string(p.details) || q.minor != p.minor || q.Payee() != p.Payee() {
			t.Fatalf("canonical form %s does not round-trip: %v", p.details, err)
		}
		if strings.ContainsAny(p.Payee(), "\x00\n\r") {
			t.Fatalf("payee with control characters: %q", p.Payee())
		}
	})
}
