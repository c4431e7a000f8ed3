package risk

import "testing"

func TestPrimaryReason(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reasons []Reason
		want    Code
	}{
		{"none", nil, ""},
		{"only negative", []Reason{{Code: CodeIPAllowlisted, Weight: -20}}, ""},
		{"heaviest", []Reason{{Code: CodeNewCountry, Weight: 20}, {Code: CodePaymentVelocity, Weight: 40}, {Code: CodeNewPayee, Weight: 10}}, CodePaymentVelocity},
		{"earliest on a tie", []Reason{{Code: CodeUnknownDevice, Weight: 30}, {Code: CodeNewCountry, Weight: 30}}, CodeUnknownDevice},
		{"forcing first", []Reason{{Code: CodeAmountAnomaly, Weight: 60}, {Code: CodeIPDenylisted}}, CodeIPDenylisted},
		{"failed assessment", []Reason{{Code: CodeInvalidEvent}}, CodeInvalidEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Assessment{Reasons: tc.reasons}).PrimaryReason(); got != tc.want {
				t.Errorf("PrimaryReason() = %q, want %q", got, tc.want)
			}
		})
	}
}
