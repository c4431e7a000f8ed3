package eval

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/assent-auth/assent/risk"
)

// TestDefaultPolicyTargets holds the shipped default policy to its targets
// on a fixed seed: at least 95% of attack events challenged or denied, at
// most 5% of genuine sign-ins and 10% of genuine payments challenged.
func TestDefaultPolicyTargets(t *testing.T) {
	rep, err := Run(t.Context(), Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	if rep.PolicyVersion != risk.DefaultPolicy().Version() {
		t.Errorf("report policy version %q", rep.PolicyVersion)
	}
	if rep.Detection < 0.95 {
		t.Errorf("detection %.3f, want >= 0.95", rep.Detection)
	}
	if rep.LoginFriction > 0.05 {
		t.Errorf("login friction %.3f, want <= 0.05", rep.LoginFriction)
	}
	if rep.PaymentFriction > 0.10 {
		t.Errorf("payment friction %.3f, want <= 0.10", rep.PaymentFriction)
	}
	for _, typ := range AttackTypes() {
		row, ok := rep.Row("attack/" + typ)
		if !ok || row.Events < 100 {
			t.Errorf("attack %s: %d events, want a meaningful sample", typ, row.Events)
		}
	}
	// The traffic is honest: genuine customers do meet friction.
	login, _ := rep.Row("genuine/login")
	pay, _ := rep.Row("genuine/payment")
	if login.Challenged == 0 || pay.Challenged == 0 || pay.Exempted == 0 {
		t.Errorf("genuine traffic without friction or exemptions: %+v %+v", login, pay)
	}
}

func TestCountryLevelTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	rep, err := Run(t.Context(), Options{Seed: 1, CountryLevel: true, Customers: 500})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Precision != "country" || rep.Detection < 0.95 || rep.LoginFriction > 0.05 || rep.PaymentFriction > 0.10 {
		t.Errorf("country-level run misses the targets:\n%s", rep.Table())
	}
}

func TestDeterministic(t *testing.T) {
	o := Options{Seed: 7, Customers: 120, WarmupDays: 10, Days: 7}
	a, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("same seed, different reports:\n%s\n%s", ja, jb)
	}
	o.Seed = 8
	c, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if jc, _ := json.Marshal(c); bytes.Equal(ja, jc) {
		t.Error("different seeds, same report")
	}
}

func TestReportJSONAndTable(t *testing.T) {
	rep, err := Run(t.Context(), Options{Seed: 3, Customers: 80, WarmupDays: 7, Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Detection != rep.Detection || len(back.Rows) != len(rep.Rows) {
		t.Errorf("JSON round trip lost data")
	}
	for _, key := range []string{`"detection"`, `"login_friction"`, `"payment_friction"`, `"rows"`, `"challenged"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	table := rep.String()
	for _, want := range []string{"attack/credential_stuffing", "attack/stolen_session", "genuine/payment", "stopped", "attacks challenged or denied"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestWithThreshold(t *testing.T) {
	for _, th := range []int{1, 20, 30, 59} {
		b, err := withThreshold(risk.DefaultPolicyYAML(), th)
		if err != nil {
			t.Fatalf("threshold %d: %v", th, err)
		}
		if _, err := risk.LoadPolicy(b); err != nil {
			t.Errorf("threshold %d: rewritten policy invalid: %v", th, err)
		}
	}
	for _, th := range []int{0, 60, 101} {
		if _, err := withThreshold(risk.DefaultPolicyYAML(), th); err == nil {
			t.Errorf("threshold %d accepted", th)
		}
	}
}

func TestSweepSVG(t *testing.T) {
	pts, err := Sweep(t.Context(), Options{Seed: 2, Customers: 100, WarmupDays: 10, Days: 7}, []int{20, 30, 45})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 {
		t.Fatalf("%d points", len(pts))
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].Detection > pts[i-1].Detection+1e-9 {
			t.Errorf("detection rose with the threshold: %+v then %+v", pts[i-1], pts[i])
		}
	}
	svg := SVG("detection vs friction <test>", pts)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
	}
	for _, want := range []string{"<svg", "<polyline", "<circle", "&lt;test&gt;"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("SVG lacks %s", want)
		}
	}
}

func TestLocator(t *testing.T) {
	l := Locator{}
	berlin := l.Locate(residentialIP(0, 1, 1))
	if berlin.Country != "DE" || berlin.Lat != cities[0].lat {
		t.Errorf("residential: %+v", berlin)
	}
	if m := l.Locate(mobileIP(0, 1, 1)); !m.Mobile {
		t.Errorf("flagged carrier not mobile: %+v", m)
	}
	if h := l.Locate(hostingIP(0, 1, 1)); !h.Anonymous {
		t.Errorf("hosting not anonymous: %+v", h)
	}
	c := Locator{CountryLevel: true}.Locate(residentialIP(0, 1, 1))
	if c.Country != "DE" || c.Precision.String() != "country" {
		t.Errorf("country level: %+v", c)
	}
}
