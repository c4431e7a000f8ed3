package webhook

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/store/bolt"
)

func TestEndpointValidate(t *testing.T) {
	good := Endpoint{ID: "crm", URL: "https://crm.example.com/hook", Secret: strings.Repeat("s", 32), Events: []string{EventUserErased}}
	if errs := good.Validate("webhooks[0]"); len(errs) != 0 {
		t.Errorf("good endpoint: %v", errs)
	}
	bad := Endpoint{ID: "CRM!", URL: "mailto:x", Secret: "short", Events: []string{"user.created"}}
	errs := bad.Validate("webhooks[0]")
	for _, f := range []string{"webhooks[0].id", "webhooks[0].url", "webhooks[0].secret", "webhooks[0].events"} {
		found := false
		for _, err := range errs {
			found = found || strings.HasPrefix(err.Error(), f+":")
		}
		if !found {
			t.Errorf("no error for %s in %v", f, errs)
		}
	}
}

// TestEnqueueSealsAndFilters: each endpoint gets only the events it wants,
// and the stored payload is sealed to its delivery.
func TestEnqueueSealsAndFilters(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	block, _ := aes.NewCipher(bytes.Repeat([]byte{3}, 32))
	aead, _ := cipher.NewGCM(block)
	d := New(Config{Store: db, AEAD: aead, Endpoints: []Endpoint{
		{ID: "crm", URL: "https://crm.example.com", Secret: strings.Repeat("s", 32)},
		{ID: "erasures", URL: "https://dpo.example.com", Secret: strings.Repeat("s", 32), Events: []string{EventUserErased}},
	}})
	err = d.Enqueue(t.Context(), EventProfileUpdated, "u1", func(ep Endpoint) (any, error) {
		return map[string]string{"for": ep.ID, "email": "ada@example.com"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	crm, _ := db.PendingWebhooks(t.Context(), "crm", 10)
	other, _ := db.PendingWebhooks(t.Context(), "erasures", 10)
	if len(crm) != 1 || len(other) != 0 {
		t.Fatalf("pending: crm %d, erasures %d; want 1 and 0", len(crm), len(other))
	}
	if bytes.Contains(crm[0].Data, []byte("ada@example.com")) {
		t.Error("payload stored in the clear")
	}
	plain, err := d.open(crm[0])
	if err != nil || !bytes.Contains(plain, []byte(`"for":"crm"`)) {
		t.Errorf("open = %s, %v", plain, err)
	}
	moved := crm[0]
	moved.UserID = "u2"
	if _, err := d.open(moved); err == nil {
		t.Error("a payload opened as another user's")
	}
}
