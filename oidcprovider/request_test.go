package oidcprovider

import (
	"slices"
	"testing"

	"github.com/assent-auth/assent/acr"
)

func TestLowestKnown(t *testing.T) {
	if l, ok := lowestKnown([]string{"phrh", "x", "mfa"}); !ok || l != acr.MFA {
		t.Errorf("lowestKnown = %v, %v; want mfa", l, ok)
	}
	if _, ok := lowestKnown([]string{"gold"}); ok {
		t.Error("lowestKnown found a level among unknown values")
	}
}

func TestEssentialACR(t *testing.T) {
	tests := []struct {
		raw       string
		values    []string
		essential bool
		err       bool
	}{
		{"", nil, false, false},
		{`{"id_token":{"acr":{"essential":true,"values":["mfa","phr"]}}}`, []string{"mfa", "phr"}, true, false},
		{`{"id_token":{"acr":{"essential":true,"value":"phr"}}}`, []string{"phr"}, true, false},
		{`{"id_token":{"acr":{"values":["mfa"]}}}`, nil, false, false},
		{`{"id_token":{"acr":null}}`, nil, false, false},
		{`{"userinfo":{"email":null}}`, nil, false, false},
		{`{nope`, nil, false, true},
		{`[]`, nil, false, true},
	}
	for _, tc := range tests {
		v, ess, err := essentialACR(tc.raw)
		if (err != nil) != tc.err || ess != tc.essential || !slices.Equal(v, tc.values) {
			t.Errorf("essentialACR(%s) = %v, %v, %v", tc.raw, v, ess, err)
		}
	}
}

func FuzzEssentialACR(f *testing.F) {
	f.Add(`{"id_token":{"acr":{"essential":true,"values":["mfa"]}}}`)
	f.Add(`{"id_token":{"acr":{"essential":true,"value":"phrh"}}}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, raw string) {
		v, ess, err := essentialACR(raw)
		if err != nil && (ess || v != nil) {
			t.Fatalf("error with results: %v %v", v, ess)
		}
		if !ess && v != nil {
			t.Fatalf("values without essential: %v", v)
		}
	})
}
