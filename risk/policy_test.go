package risk

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultPolicyLoads(t *testing.T) {
	p, err := LoadPolicy(DefaultPolicyYAML())
	if err != nil {
		t.Fatal(err)
	}
	if p.Version() == "" || p.Current() != p {
		t.Errorf("version %q", p.Version())
	}
	if len(p.bands) != 4 || p.bands[0].min != 0 || p.bands[len(p.bands)-1].max != 100 {
		t.Errorf("bands %+v", p.bands)
	}
	// DefaultPolicyYAML hands out a copy.
	b := DefaultPolicyYAML()
	b[0] = '!'
	if DefaultPolicyYAML()[0] == '!' {
		t.Error("DefaultPolicyYAML shares its bytes")
	}
}

func TestLoadPolicyRejectsEveryProblem(t *testing.T) {
	bad := strings.NewReplacer(
		"version: \"assent-default-1\"", "version: \"\"\ncolour: blue",
		"{level: medium,   min: 30, max: 59,", "{level: medium,   min: 25, max: 59,",
		"{level: critical, min: 85, max: 100,", "{level: critical, min: 90, max: 100,",
		"new_country: {weight: 25}", "new_country: {weight: 130, extra: 1}",
		"unknown_device: {weight: 30, min_age: 1h}", "unknown_device: {weight: -5, min_age: 1h}",
		"max_count: 5}", "max_count: 6}",
		"methods: [passkey]", "methods: [passkey, sms]",
		"allow: []", "allow: [\"10.0.0.0/33\"]",
		"    GBP: {to_eur: 1.17}", "    gbp: {to_eur: 1.17}",
	).Replace(string(DefaultPolicyYAML()))
	_, err := LoadPolicy([]byte(bad))
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want *PolicyError", err, err)
	}
	want := []string{
		`unknown field "colour"`,
		`unknown field "extra"`,
		"version: missing",
		"overlaps",
		"gap: scores 85..89 have no band",
		"signals.new_country.weight: 130 out of range 0..100",
		"signals.unknown_device.weight: -5 out of range 0..100",
		"low_value.max_count: 6 out of range 1..5",
		`unknown method "sms"`,
		`networks.allow: "10.0.0.0/33" is not a CIDR prefix`,
		"payments.currencies.gbp: not an ISO 4217 code",
	}
	msg := err.Error()
	for _, w := range want {
		found := false
		for _, p := range pe.Problems {
			if strings.Contains(p, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem mentions %q; got:\n%s", w, strings.Join(pe.Problems, "\n"))
		}
	}
	if !strings.Contains(msg, "problems:") {
		t.Errorf("message %q does not count the problems", msg)
	}
}

func TestLoadPolicyBands(t *testing.T) {
	tests := []struct {
		name  string
		bands string
		want  string // "" for valid
	}{
		{"valid", "[{level: low, min: 0, max: 49, decision: allow}, {level: high, min: 50, max: 100, decision: challenge, acr: mfa}]", ""},
		{"one band", "[{level: high, min: 0, max: 100, decision: challenge, acr: phr}]", ""},
		{"unsorted but contiguous", "[{level: high, min: 50, max: 100, decision: challenge, acr: mfa}, {level: low, min: 0, max: 49, decision: allow}]", ""},
		{"gap at the bottom", "[{level: low, min: 5, max: 49, decision: allow}, {level: high, min: 50, max: 100, decision: challenge, acr: mfa}]", "gap: scores 0..4"},
		{"gap at the top", "[{level: low, min: 0, max: 49, decision: allow}, {level: high, min: 50, max: 99, decision: challenge, acr: mfa}]", "gap: scores 100..100"},
		{"overlap", "[{level: low, min: 0, max: 60, decision: allow}, {level: high, min: 50, max: 100, decision: challenge, acr: mfa}]", "overlaps"},
		{"out of range", "[{level: low, min: 0, max: 120, decision: allow}]", "within 0..100"},
		{"no min", "[{level: low, max: 100, decision: allow}]", "min and max are required"},
		{"challenge without acr", "[{level: low, min: 0, max: 100, decision: challenge}]", "acr: missing"},
		{"unknown acr", "[{level: low, min: 0, max: 100, decision: challenge, acr: aal9}]", `unknown acr "aal9"`},
		{"allow with acr", "[{level: low, min: 0, max: 100, decision: allow, acr: mfa}]", "only a challenge band"},
		{"weaker above", "[{level: low, min: 0, max: 49, decision: deny}, {level: high, min: 50, max: 100, decision: allow}]", "weaker than deny"},
		{"unknown decision", "[{level: low, min: 0, max: 100, decision: maybe}]", `decision: "maybe" unknown`},
		{"level twice", "[{level: low, min: 0, max: 49, decision: allow}, {level: low, min: 50, max: 100, decision: deny}]", "used twice"},
		{"empty", "[]", "at least one band"},
	}
	y := string(DefaultPolicyYAML())
	start := strings.Index(y, "bands:\n")
	end := strings.Index(y, "\n# Per-kind rules")
	for _, tt := range tests {
		doc := y[:start] + "bands: " + tt.bands + "\n" + y[end:]
		doc = strings.Replace(doc, "max_score: 29", "max_score: 0", 1)
		_, err := LoadPolicy([]byte(doc))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestLoadPolicyMissingSections(t *testing.T) {
	_, err := LoadPolicy([]byte("version: x\n"))
	var pe *PolicyError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	for _, w := range []string{"acrs:", "bands:", "signals.unknown_device: missing", "signals.payment_velocity: missing", "history: missing", "payments: missing"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestLoadPolicyGarbage(t *testing.T) {
	for _, in := range []string{"", "   ", "[1, 2]", "version: [", "a: 1\n---\nb: 2", "\x00\x01", "version: x\n---\nversion: y\n"} {
		_, err := LoadPolicy([]byte(in))
		var pe *PolicyError
		if !errors.As(err, &pe) || len(pe.Problems) == 0 {
			t.Errorf("LoadPolicy(%q) = %v", in, err)
		}
	}
}

func TestLoadPolicyClients(t *testing.T) {
	p := policyWith(t, "clients: {}", `clients:
  strict-bank: {always_step_up: true, acr: phr, exemptions: false}
  app: {methods: [push, passkey]}`)
	if c := p.clients["strict-bank"]; !c.alwaysStepUp || !c.noExemptions || p.acrs[c.acr].name != "phr" {
		t.Errorf("strict-bank %+v", c)
	}
	if got := p.methods(0, p.clients["app"].methods); strings.Join(got, ",") != "push,passkey,totp" {
		t.Errorf("methods %v", got)
	}
	_, err := LoadPolicy([]byte(strings.Replace(string(DefaultPolicyYAML()), "clients: {}", "clients: {x: {acr: nope, weight: 5, methods: [fax]}}", 1)))
	for _, w := range []string{`unknown acr "nope"`, "weight: not supported for clients", `unknown method "fax"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in %v", w, err)
		}
	}
}

func FuzzLoadPolicy(f *testing.F) {
	f.Add(DefaultPolicyYAML())
	f.Add([]byte("version: x\nbands: [{level: low, min: 0, max: 100, decision: allow}]\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Add([]byte("version: !!binary AAAA\n"))
	f.Add([]byte("bands: [{min: 99999999999999999999}]"))
	f.Add([]byte("signals: {impossible_travel: {max_kmh: .nan}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := LoadPolicy(b)
		if (p == nil) == (err == nil) {
			t.Fatalf("LoadPolicy returned %v and %v", p, err)
		}
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not a *PolicyError with problems", err)
			}
			return
		}
		// A policy that loads is complete: every score has a band.
		for s := 0; s <= 100; s++ {
			if b := p.band(s); s < b.min || s > b.max {
				t.Fatalf("score %d in band %+v", s, b)
			}
		}
		if p.Version() == "" || len(p.acrs) == 0 {
			t.Fatal("loaded policy without version or acrs")
		}
	})
}
