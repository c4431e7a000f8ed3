package oidcprovider

import (
	"testing"
	"time"
)

func TestKeyRotation(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := newTestProvider(t, &now)
	st := storage{p}
	ids := func() []string {
		ks, err := st.KeySet(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range ks {
			out = append(out, k.ID())
		}
		return out
	}
	sign := func() string {
		k, err := st.SigningKey(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return k.ID()
	}
	first := sign()
	if got := ids(); len(got) != 1 || got[0] != first {
		t.Fatalf("key set = %v, want [%s]", got, first)
	}
	now = now.Add(89 * 24 * time.Hour)
	if sign() != first {
		t.Fatal("rotated before 90 days")
	}
	now = now.Add(2 * 24 * time.Hour)
	second := sign()
	if second == first {
		t.Fatal("no rotation after 90 days")
	}
	if got := ids(); len(got) != 2 || got[0] != first || got[1] != second {
		t.Errorf("key set right after rotation = %v, want both", got)
	}
	stored, err := p.store.ListOIDCSigningKeys(t.Context())
	if err != nil || len(stored) != 2 {
		t.Errorf("stored keys = %d, %v; want 2", len(stored), err)
	}
	now = now.Add(25 * time.Hour)
	if got := ids(); len(got) != 1 || got[0] != second {
		t.Errorf("key set a day later = %v, want [%s]", got, second)
	}
}
