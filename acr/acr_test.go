package acr

import (
	"slices"
	"testing"
)

func TestOf(t *testing.T) {
	tests := []struct {
		amr  []string
		want Level
	}{
		{nil, None},
		{[]string{"pwd"}, SingleFactor},
		{[]string{"pwd", "otp", "mfa"}, MFA},
		{[]string{"swk"}, SingleFactor},
		{[]string{"swk", "user"}, PhishingResistant},
		{[]string{"hwk", "user"}, PhishingResistantHardware},
		{[]string{"hwk", "pin"}, PhishingResistantHardware},
		{[]string{"pwd", "hwk", "mfa"}, MFA},
		// An approval in the app is two factors, not phishing resistant.
		{[]string{"swk", "user", "mca", "mfa"}, MFA},
	}
	for _, tc := range tests {
		if got := Of(tc.amr); got != tc.want {
			t.Errorf("Of(%v) = %v, want %v", tc.amr, got, tc.want)
		}
	}
}

func TestLevelsRoundTrip(t *testing.T) {
	if got := Values(); !slices.Equal(got, []string{"1", "mfa", "phr", "phrh"}) {
		t.Errorf("ACRValues = %v", got)
	}
	for i, v := range Values() {
		l, ok := Parse(v)
		if !ok || int(l) != i+1 || l.String() != v {
			t.Errorf("Parse(%q) = %v, %v", v, l, ok)
		}
	}
	for _, v := range []string{"", "0", "2", "urn:mace:incommon:iap:silver"} {
		if _, ok := Parse(v); ok {
			t.Errorf("Parse(%q) accepted", v)
		}
	}
}
