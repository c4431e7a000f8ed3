package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

func testSchema(t *testing.T) *Schema {
	t.Helper()
	s := &Schema{
		Purposes: []Purpose{
			{Name: "marketing_email", Description: "News and offers by e-mail", Version: "2025-01"},
			{Name: "profiling", Description: "Recommendations from your interests", Version: "1"},
		},
		Attributes: []Attribute{
			{Name: "given_name", Type: TypeString, MaxLength: 50, Scope: "profile_ext", Claim: "given_name"},
			{Name: "member_no", Type: TypeString, Pattern: `[A-Z]{2}[0-9]{4}`},
			{Name: "phone", Type: TypePhone, Sensitivity: SensitivityMedium, Scope: "contact", Claim: "phone_e164", Purposes: []string{"marketing_email"}},
			{Name: "birthdate", Type: TypeDate, Scope: "profile_ext", Claim: "birthdate"},
			{Name: "tier", Type: TypeEnum, Values: []string{"basic", "gold"}},
			{Name: "interests", Type: TypeMultiSelect, Values: []string{"ski", "golf", "sail"}, Scope: "interests", Claim: "interests", Purposes: []string{"profiling"}},
			{Name: "national_id", Type: TypeString, Sensitivity: SensitivityHigh, Required: true},
			{Name: "work_email", Type: TypeEmail},
		},
		Prompts: []PromptRule{
			{Attributes: []string{"phone"}, OnSignIn: 2},
			{Attributes: []string{"interests"}, Scope: "interests"},
		},
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return s
}

func newProfileService(t *testing.T) (*Service, *bolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, err := NewKeyring(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Store: db, Keys: k, Hasher: NewHasher(cheap), Schema: testSchema(t)}), db, path
}

func TestSchemaValidate(t *testing.T) {
	bad := &Schema{
		Purposes: []Purpose{{Name: "Bad Name"}, {Name: "ok", Description: "d", Version: "1"}, {Name: "ok", Description: "d", Version: "1"}},
		Attributes: []Attribute{
			{Name: "a", Type: "colour"},
			{Name: "b", Type: TypeEnum},
			{Name: "c", Type: TypeString, Pattern: "("},
			{Name: "d", Type: TypeString, Sensitivity: "secret", Scope: "x"},
			{Name: "e", Type: TypeString, Scope: "s", Claim: "sub"},
			{Name: "f", Type: TypeString, Purposes: []string{"nope"}},
			{Name: "a", Type: TypeString},
		},
		Prompts:   []PromptRule{{Attributes: []string{"zzz"}}},
		Retention: Retention{Unverified: time.Hour, Inactive: 24 * time.Hour},
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad schema")
	}
	for _, want := range []string{
		"profiles.purposes[0].name", "profiles.purposes[0].description", "profiles.purposes[0].version", "profiles.purposes[2].name",
		"profiles.attributes[0].type", "profiles.attributes[1].values", "profiles.attributes[2].pattern",
		"profiles.attributes[3].sensitivity", "profiles.attributes[3].scope", "profiles.attributes[4].claim",
		"profiles.attributes[5].purposes", "profiles.attributes[6].name", "profiles.prompts[0].attributes", "profiles.prompts[0]: needs",
		"profiles.retention.unverified", "profiles.retention.inactive",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	s := testSchema(t)
	for _, tc := range []struct {
		attr   string
		in     []string
		want   string
		code   string
		reason string
	}{
		{"given_name", []string{"  Ada "}, "Ada", "", ""},
		{"given_name", []string{strings.Repeat("a", 51)}, "", "too_long", ""},
		{"given_name", []string{"a\x07b"}, "", "invalid", ""},
		{"given_name", []string{"a", "b"}, "", "invalid", ""},
		{"member_no", []string{"AB1234"}, "AB1234", "", ""},
		{"member_no", []string{"AB12345"}, "", "pattern", "the pattern must match the whole value"},
		{"phone", []string{"+358 (40) 123-4567"}, "+358401234567", "", ""},
		{"phone", []string{"0049 30 1234567"}, "+49301234567", "", ""},
		{"phone", []string{"040 123"}, "", "invalid", ""},
		{"birthdate", []string{"1990-02-28"}, "1990-02-28", "", ""},
		{"birthdate", []string{"1990-02-30"}, "", "invalid", ""},
		{"birthdate", []string{"28.2.1990"}, "", "invalid", ""},
		{"tier", []string{"gold"}, "gold", "", ""},
		{"tier", []string{"platinum"}, "", "not_allowed", ""},
		{"interests", []string{"sail", "ski"}, "ski,sail", "", "declaration order"},
		{"interests", []string{"ski", "chess"}, "", "not_allowed", ""},
		{"work_email", []string{"Ada@Example.COM"}, "ada@example.com", "", ""},
		{"work_email", []string{"ada@"}, "", "invalid", ""},
		{"given_name", []string{"\xff"}, "", "invalid", ""},
	} {
		a, _ := s.Attribute(tc.attr)
		got, err := s.Normalize(a, tc.in)
		var ve *ValidationError
		switch {
		case tc.code == "" && (err != nil || got != tc.want):
			t.Errorf("Normalize(%s, %q) = %q, %v; want %q %s", tc.attr, tc.in, got, err, tc.want, tc.reason)
		case tc.code != "" && (!errors.As(err, &ve) || ve.Code != tc.code || ve.Field != "attributes."+tc.attr):
			t.Errorf("Normalize(%s, %q) = %q, %v; want code %s", tc.attr, tc.in, got, err, tc.code)
		}
	}
}

func TestAttributesSealedAndValidated(t *testing.T) {
	svc, db, path := newProfileService(t)
	ctx := t.Context()
	u, err := svc.Create(ctx, NewUser{Email: "ada@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	// Everything wrong is reported at once and nothing is stored.
	_, err = svc.SetAttributes(ctx, u.ID, map[string][]string{"tier": {"platinum"}, "colour": {"red"}, "national_id": {""}, "given_name": {"Ada"}}, Collection{Channel: ChannelAdmin})
	var ves ValidationErrors
	if !errors.As(err, &ves) || len(ves) != 3 {
		t.Fatalf("SetAttributes(bad) = %v, want 3 field errors", err)
	}
	if got, _ := svc.Get(ctx, u.ID); len(got.Attributes) != 0 {
		t.Errorf("a rejected update stored %v", got.Attributes)
	}
	got, err := svc.SetAttributes(ctx, u.ID, map[string][]string{"national_id": {"SECRET-ID-4242"}, "given_name": {"Ada"}, "interests": {"golf"}},
		Collection{Channel: ChannelAccount, ClientID: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Attributes["national_id"] != "SECRET-ID-4242" || got.Attributes["given_name"] != "Ada" || got.Attributes["interests"] != "golf" {
		t.Errorf("attributes = %v", got.Attributes)
	}
	if c := got.Collected["given_name"]; c.Channel != ChannelAccount || c.ClientID != "shop" || c.At.IsZero() {
		t.Errorf("collected = %+v", c)
	}
	if r := svc.Redacted(got); r.Attributes["national_id"] != "[redacted]" || got.Attributes["national_id"] != "SECRET-ID-4242" {
		t.Errorf("Redacted = %v (original %v)", r.Attributes, got.Attributes)
	}
	// The high-sensitivity value is sealed with its own key inside the
	// user's sealed data: opening the data key alone does not show it.
	raw, _ := db.GetUser(ctx, u.ID)
	dek, _ := svc.keys.unwrap(u.ID, raw.WrappedKey)
	p, _ := openPersonal(dek, u.ID, raw.Sealed)
	if _, ok := p.Attributes["national_id"]; ok || len(p.Protected["national_id"]) == 0 {
		t.Errorf("national_id is not sealed separately: %+v", p)
	}
	db.Close()
	walkFile(t, path, func(bucket string, k, v []byte) {
		if bytes.Contains(v, []byte("SECRET-ID")) || bytes.Contains(v, []byte("Ada")) {
			t.Errorf("bucket %s holds an attribute in the clear", bucket)
		}
	})
}

// walkFile calls fn for every key and value of every bucket of the file.
func walkFile(t *testing.T, path string, fn func(bucket string, k, v []byte)) {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				fn(string(name), k, v)
				return nil
			})
		})
	})
}

func TestConsentGatesClaims(t *testing.T) {
	svc, _, _ := newProfileService(t)
	ctx := t.Context()
	u, _ := svc.Create(ctx, NewUser{Email: "ada@example.com"})
	if _, err := svc.SetAttributes(ctx, u.ID, map[string][]string{"given_name": {"Ada"}, "interests": {"ski", "sail"}, "national_id": {"X"}}, Collection{Channel: ChannelAdmin}); err != nil {
		t.Fatal(err)
	}
	claims := func() map[string]any {
		t.Helper()
		c, err := svc.Claims(ctx, u.ID, []string{"openid", "profile_ext", "interests"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := claims(); c["given_name"] != "Ada" || c["interests"] != nil {
		t.Errorf("before consent: claims = %v, want given_name only", c)
	}
	if _, err := svc.SetConsent(ctx, u.ID, "profiling", true, ChannelAccount, ""); err != nil {
		t.Fatal(err)
	}
	if c := claims(); !slices.Equal(c["interests"].([]string), []string{"ski", "sail"}) {
		t.Errorf("after consent: claims = %v, want interests", c)
	}
	if _, err := svc.SetConsent(ctx, u.ID, "profiling", false, ChannelAccount, ""); err != nil {
		t.Fatal(err)
	}
	if c := claims(); c["interests"] != nil {
		t.Errorf("after withdrawal: claims = %v", c)
	}
	if c, _ := svc.Claims(ctx, u.ID, []string{"openid"}); len(c) != 0 {
		t.Errorf("without the scope: claims = %v", c)
	}
	if _, err := svc.SetConsent(ctx, u.ID, "nope", true, ChannelAccount, ""); err == nil {
		t.Error("SetConsent accepted an unknown purpose")
	}
	states, hist, err := svc.Consents(ctx, u.ID)
	if err != nil || len(hist) != 2 || hist[0].Granted != true || hist[1].Granted != false {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	if states[1].Purpose.Name != "profiling" || states[1].Granted || states[1].Latest == nil {
		t.Errorf("state = %+v", states[1])
	}
	// A new version of the text needs a new consent.
	svc.schema.Purposes[1].Version = "2"
	svc.SetConsent(ctx, u.ID, "profiling", true, ChannelAccount, "")
	svc.schema.Purposes[1].Version = "3"
	if c := claims(); c["interests"] != nil {
		t.Errorf("consent to an old text version released %v", c)
	}
}

func TestExportAndErase(t *testing.T) {
	svc, db, path := newProfileService(t)
	ctx := t.Context()
	u, _ := svc.Create(ctx, NewUser{Email: "ada@example.com", Name: "Ada Lovelace"})
	other, _ := svc.Create(ctx, NewUser{Email: "bob@example.com"})
	for _, id := range []string{u.ID, other.ID} {
		svc.SetAttributes(ctx, id, map[string][]string{"given_name": {"Given-" + id}, "national_id": {"NID-" + id}}, Collection{Channel: ChannelAdmin})
		svc.SetConsent(ctx, id, "marketing_email", true, ChannelSignUp, "")
		db.CreateSession(ctx, store.Session{IDHash: bytes.Repeat([]byte(id[:3]), 10), UserID: id, IP: "192.0.2.1", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
		db.CreateFactor(ctx, store.Factor{ID: "f1", UserID: id, Kind: store.FactorTOTP, Name: "phone", Data: []byte("sealed seed"), CreatedAt: time.Now()})
		db.AppendSignIn(ctx, id, store.SignInRecord{Time: time.Now(), IP: "192.0.2.1", DeviceID: "dev-" + id, Strong: true})
		db.CreateOIDCRefreshToken(ctx, store.OIDCRefreshToken{TokenHash: []byte("tok-" + id), Family: "fam-" + id, UserID: id, ClientID: "shop", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
		db.AppendAudit(ctx, store.AuditEvent{Kind: "signin.succeeded", Actor: id, Subject: id, IP: "192.0.2.1", Outcome: "ok", Time: time.Now()})
		db.AppendAudit(ctx, store.AuditEvent{Kind: "user.locked", Actor: "admin", Subject: id, Outcome: "ok", Time: time.Now()})
		if err := svc.Link(ctx, id, "acme", "https://id.example", "sub-"+id, false); err != nil {
			t.Fatal(err)
		}
	}
	x, err := svc.Export(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Every bucket holding something of the user has its part in the export.
	sections := map[string]bool{}
	for name, n := range map[string]int{"identity": len(x.Identity.Attributes), "consents": len(x.ConsentHistory), "factors": len(x.Factors),
		"devices": len(x.KnownDevices), "links": len(x.LinkedAccounts), "sessions": len(x.Sessions), "tokens": len(x.RefreshTokens), "signins": len(x.SignIns), "audit": len(x.AuditEvents)} {
		sections[name] = n > 0
	}
	if x.Identity.Email != "ada@example.com" || x.Identity.Attributes["national_id"] != "NID-"+u.ID || len(x.AuditEvents) != 2 {
		t.Errorf("export = %+v", x)
	}
	b, _ := json.Marshal(x)
	for _, secret := range []string{"sealed seed", "tok-", "password_hash", "wrapped"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("export holds %q", secret)
		}
	}
	bucketSection := map[string]string{
		"users": "identity", "users_by_email": "identity", "consents": "consents", "factors": "factors", "devices": "devices",
		"sessions": "sessions", "sessions_by_user": "sessions", "oidc_refresh": "tokens", "oidc_refresh_by_user": "tokens",
		"oidc_refresh_by_family": "tokens", "signins": "signins", "history_users": "signins", "audit": "audit", "links_by_user": "links", "links": "links",
	}
	db.Close()
	idBytes := []byte(u.ID)
	walkFile(t, path, func(bucket string, k, v []byte) {
		if !bytes.Contains(k, idBytes) && !bytes.Contains(v, idBytes) {
			return
		}
		sec, ok := bucketSection[bucket]
		if !ok {
			t.Errorf("bucket %s holds data of the user that the export does not cover", bucket)
		} else if !sections[sec] {
			t.Errorf("bucket %s holds data of the user but the export's %s is empty", bucket, sec)
		}
	})

	db2, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	svc.store = db2
	before, _ := db2.ListAudit(ctx, 0, 100)
	rep, err := svc.Erase(ctx, u.ID)
	if err != nil || rep.AuditEvents != 2 {
		t.Fatalf("Erase = %+v, %v", rep, err)
	}
	if _, err := svc.Erase(ctx, u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Erase = %v, want ErrNotFound", err)
	}
	after, _ := db2.ListAudit(ctx, 0, 100)
	if len(after) != len(before) {
		t.Errorf("audit events %d -> %d; erasure must keep the count", len(before), len(after))
	}
	pseudo := svc.keys.Pseudonym(u.ID)
	n := 0
	for _, e := range after {
		if e.Subject == pseudo {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d events carry the pseudonym, want 2", n)
	}
	if _, err := svc.LinkedUser(ctx, "https://id.example", "sub-"+u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("link after erasure: %v", err)
	}
	if o, err := svc.LinkedUser(ctx, "https://id.example", "sub-"+other.ID); err != nil || o.ID != other.ID {
		t.Errorf("the other user's link: %+v, %v", o, err)
	}
	if o, err := svc.Get(ctx, other.ID); err != nil || o.Attributes["national_id"] != "NID-"+other.ID {
		t.Errorf("the other user was harmed: %+v, %v", o, err)
	}
	db2.Close()
	walkFile(t, path, func(bucket string, k, v []byte) {
		if bytes.Contains(k, idBytes) || bytes.Contains(v, idBytes) {
			t.Errorf("after erasure bucket %s still names the user: %q", bucket, k)
		}
	})
}

func TestNextPrompt(t *testing.T) {
	svc, db, _ := newProfileService(t)
	ctx := t.Context()
	u, _ := svc.Create(ctx, NewUser{Email: "ada@example.com"})
	ask := func(scopes []string, atSignIn bool) *Prompt {
		ident, _ := svc.Get(ctx, u.ID)
		p, err := svc.NextPrompt(ctx, ident, scopes, atSignIn)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	db.AppendSignIn(ctx, u.ID, store.SignInRecord{Time: time.Now()})
	if p := ask(nil, true); p != nil {
		t.Errorf("first sign-in asked %+v", p)
	}
	db.AppendSignIn(ctx, u.ID, store.SignInRecord{Time: time.Now()})
	p := ask(nil, true)
	if p == nil || p.Rule != 0 || p.Attributes[0].Name != "phone" || len(p.Purposes) != 1 || p.Purposes[0].Name != "marketing_email" {
		t.Fatalf("second sign-in: prompt %+v, want phone with the marketing purpose", p)
	}
	if p := ask([]string{"openid", "interests"}, false); p == nil || p.Rule != 1 {
		t.Errorf("scope interests: prompt %+v, want rule 1", p)
	}
	if p := ask([]string{"openid"}, false); p != nil {
		t.Errorf("without the scope at authorization: prompt %+v", p)
	}
	svc.SetAttributes(ctx, u.ID, map[string][]string{"phone": {"+358401234567"}}, Collection{Channel: ChannelPrompt})
	if p := ask(nil, true); p != nil {
		t.Errorf("after answering: prompt %+v", p)
	}
}

func TestSetAttributesKeepsCollectionOfUnchanged(t *testing.T) {
	svc, _, _ := newProfileService(t)
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc.now = func() time.Time { return now }
	u, _ := svc.Create(ctx, NewUser{Email: "ada@example.com"})
	svc.SetAttributes(ctx, u.ID, map[string][]string{"given_name": {"Ada"}, "national_id": {"X1"}}, Collection{Channel: ChannelPrompt})
	now = now.Add(time.Hour)
	got, err := svc.SetAttributes(ctx, u.ID, map[string][]string{"given_name": {"Ada"}, "national_id": {"X1"}, "tier": {"gold"}}, Collection{Channel: ChannelAccount})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"given_name", "national_id"} {
		if c := got.Collected[n]; c.Channel != ChannelPrompt || !c.At.Equal(now.Add(-time.Hour)) {
			t.Errorf("%s: collected = %+v, want the first collection kept", n, c)
		}
	}
	if c := got.Collected["tier"]; c.Channel != ChannelAccount || !c.At.Equal(now) {
		t.Errorf("tier: collected = %+v", c)
	}
}
