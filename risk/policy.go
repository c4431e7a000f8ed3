package risk

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed default_policy.yaml
var defaultPolicyYAML []byte

// DefaultPolicyYAML returns a copy of the policy file that ships with
// Assent, with its comments.
func DefaultPolicyYAML() []byte { return bytes.Clone(defaultPolicyYAML) }

// DefaultPolicy returns the policy that ships with Assent.
func DefaultPolicy() *Policy {
	p, err := LoadPolicy(defaultPolicyYAML)
	if err != nil {
		panic("risk: the embedded default policy is invalid: " + err.Error())
	}
	return p
}

// Methods that a policy may offer.
const (
	MethodPasskey = "passkey"
	MethodPush    = "push" // approval in the company's app, with number matching
	MethodTOTP    = "totp"
)

func knownMethod(m string) bool {
	return m == MethodPasskey || m == MethodPush || m == MethodTOTP
}

// Policy is a loaded, validated risk policy. It is immutable and safe for
// concurrent use; load one with LoadPolicy and swap policies with a
// Reloader.
type Policy struct {
	version   string
	acrs      []acrLevel // ascending strength
	bands     []band     // ascending, contiguous over 0..100
	kinds     map[Kind]rule
	clients   map[string]rule
	sig       signalConfig
	allow     []netip.Prefix
	deny      []netip.Prefix
	noisyNets []netip.Prefix
	allowW    int
	history   historyConfig
	payments  paymentConfig
	source    []byte // the YAML it was loaded from
}

// Source returns the YAML the policy was loaded from.
func (p *Policy) Source() []byte { return bytes.Clone(p.source) }

// Version returns the policy's version string.
func (p *Policy) Version() string { return p.version }

// Current returns p itself, so a fixed *Policy is a PolicySource.
func (p *Policy) Current() *Policy { return p }

type acrLevel struct {
	name    string
	methods []string
}

type band struct {
	level    Level
	min, max int
	decision Decision
	acr      int // index into acrs, -1 for none
}

// rule is a per-kind or per-client override.
type rule struct {
	weight       int
	alwaysStepUp bool
	acr          int // -1: none
	methods      []string
	noExemptions bool
}

type signalConfig struct {
	unknownDevice    deviceSignal
	newCountry       weightOnly
	impossibleTravel travelSignal
	accountFailures  countSignal
	ipFailures       countSignal
	ipAccounts       countSignal
	unusualHour      hourSignal
	userAgentChange  weightOnly
	reportedNotMe    reportSignal
	amountAnomaly    amountSignal
	newPayee         weightOnly
	paymentVelocity  velocitySignal
}

type weightOnly struct{ Weight int }

type deviceSignal struct {
	Weight int
	MinAge time.Duration
}

type travelSignal struct {
	Weight, NoisyWeight int
	MaxKmh              float64
	CityToleranceKm     float64
	CountryToleranceKm  float64
	DomesticToleranceKm float64
}

type countSignal struct {
	Weight, Threshold int
	Window            time.Duration
}

type hourSignal struct {
	Weight, MinSignIns int
	MaxShare           float64
}

type reportSignal struct {
	Weight int
	Within time.Duration
}

type amountSignal struct {
	Weight, MinPayments int
	Ratio               float64
	NoHistoryEURCents   int64
}

type velocitySignal struct {
	Weight, MaxCount int
	Window           time.Duration
	MaxEURCents      int64
}

type historyConfig struct {
	signIns       int
	payments      int
	paymentWindow time.Duration
}

type paymentConfig struct {
	requireSCA  bool
	acr         int
	maxEURCents int64
	currencies  map[string]currency
	maxScore    int
	trusted     bool
	lowValue    lowValueConfig
	tra         traConfig
}

type currency struct {
	toEUR      float64 // one major unit in EUR
	minorUnits int
}

type lowValueConfig struct {
	enabled            bool
	maxEURCents        int64
	maxCumulativeCents int64
	maxCount           int
}

type traConfig struct {
	enabled bool
	// fraud rates in percent, NaN when not configured
	card, creditTransfer float64
}

// PolicyError lists every problem found in a policy file.
type PolicyError struct {
	Problems []string
}

func (e *PolicyError) Error() string {
	if len(e.Problems) == 1 {
		return "risk policy: " + e.Problems[0]
	}
	return fmt.Sprintf("risk policy: %d problems: %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// The policy file, as YAML. Pointers mark what must be present.
type policyFile struct {
	Version  string              `yaml:"version"`
	ACRs     []acrFile           `yaml:"acrs"`
	Bands    []bandFile          `yaml:"bands"`
	Kinds    map[string]ruleFile `yaml:"kinds"`
	Clients  map[string]ruleFile `yaml:"clients"`
	Signals  signalsFile         `yaml:"signals"`
	Networks networksFile        `yaml:"networks"`
	History  *historyFile        `yaml:"history"`
	Payments *paymentsFile       `yaml:"payments"`
}

type acrFile struct {
	Name    string   `yaml:"name"`
	Methods []string `yaml:"methods"`
}

type bandFile struct {
	Level    string `yaml:"level"`
	Min      *int   `yaml:"min"`
	Max      *int   `yaml:"max"`
	Decision string `yaml:"decision"`
	ACR      string `yaml:"acr"`
}

type ruleFile struct {
	Weight       int      `yaml:"weight"`
	AlwaysStepUp bool     `yaml:"always_step_up"`
	ACR          string   `yaml:"acr"`
	Methods      []string `yaml:"methods"`
	Exemptions   *bool    `yaml:"exemptions"`
}

type signalsFile struct {
	UnknownDevice *struct {
		Weight *int          `yaml:"weight"`
		MinAge time.Duration `yaml:"min_age"`
	} `yaml:"unknown_device"`
	NewCountry       *weightFile `yaml:"new_country"`
	ImpossibleTravel *struct {
		Weight              *int    `yaml:"weight"`
		NoisyWeight         *int    `yaml:"noisy_weight"`
		MaxKmh              float64 `yaml:"max_kmh"`
		CityToleranceKm     float64 `yaml:"city_tolerance_km"`
		CountryToleranceKm  float64 `yaml:"country_tolerance_km"`
		DomesticToleranceKm float64 `yaml:"domestic_tolerance_km"`
	} `yaml:"impossible_travel"`
	AccountFailures *countFile `yaml:"account_failures"`
	IPFailures      *countFile `yaml:"ip_failures"`
	IPAccounts      *countFile `yaml:"ip_accounts"`
	UnusualHour     *struct {
		Weight     *int    `yaml:"weight"`
		MinSignIns int     `yaml:"min_sign_ins"`
		MaxShare   float64 `yaml:"max_share"`
	} `yaml:"unusual_hour"`
	UserAgentChange *weightFile `yaml:"user_agent_change"`
	ReportedNotMe   *struct {
		Weight *int          `yaml:"weight"`
		Within time.Duration `yaml:"within"`
	} `yaml:"reported_not_me"`
	AmountAnomaly *struct {
		Weight       *int    `yaml:"weight"`
		Ratio        float64 `yaml:"ratio"`
		MinPayments  int     `yaml:"min_payments"`
		NoHistoryEUR float64 `yaml:"no_history_eur"`
	} `yaml:"amount_anomaly"`
	NewPayee        *weightFile `yaml:"new_payee"`
	PaymentVelocity *struct {
		Weight   *int          `yaml:"weight"`
		Window   time.Duration `yaml:"window"`
		MaxCount int           `yaml:"max_count"`
		MaxEUR   float64       `yaml:"max_eur"`
	} `yaml:"payment_velocity"`
}

type weightFile struct {
	Weight *int `yaml:"weight"`
}

type countFile struct {
	Weight    *int          `yaml:"weight"`
	Threshold int           `yaml:"threshold"`
	Window    time.Duration `yaml:"window"`
}

type networksFile struct {
	Allow       []string `yaml:"allow"`
	AllowWeight int      `yaml:"allow_weight"`
	Deny        []string `yaml:"deny"`
	Noisy       []string `yaml:"noisy"`
}

type historyFile struct {
	SignIns       int           `yaml:"sign_ins"`
	Payments      int           `yaml:"payments"`
	PaymentWindow time.Duration `yaml:"payment_window"`
}

type paymentsFile struct {
	RequireSCA bool                    `yaml:"require_sca"`
	ACR        string                  `yaml:"acr"`
	MaxEUR     float64                 `yaml:"max_eur"`
	Currencies map[string]currencyFile `yaml:"currencies"`
	Exemptions *struct {
		MaxScore     *int `yaml:"max_score"`
		TrustedPayee bool `yaml:"trusted_payee"`
		LowValue     struct {
			Enabled          bool    `yaml:"enabled"`
			MaxEUR           float64 `yaml:"max_eur"`
			MaxCumulativeEUR float64 `yaml:"max_cumulative_eur"`
			MaxCount         int     `yaml:"max_count"`
		} `yaml:"low_value"`
		TRA struct {
			Enabled                 bool     `yaml:"enabled"`
			CardFraudRate           *float64 `yaml:"card_fraud_rate"`
			CreditTransferFraudRate *float64 `yaml:"credit_transfer_fraud_rate"`
		} `yaml:"tra"`
	} `yaml:"exemptions"`
}

type currencyFile struct {
	ToEUR      float64 `yaml:"to_eur"`
	MinorUnits *int    `yaml:"minor_units"`
}

// problems collects validation messages.
type problems []string

func (ps *problems) add(format string, args ...any) { *ps = append(*ps, fmt.Sprintf(format, args...)) }

const maxPolicySize = 1 << 20

var yamlUnknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type .*$`)

// LoadPolicy parses and validates a policy file. It refuses unknown fields,
// missing sections, out-of-range weights and thresholds, and bands that
// overlap, leave gaps or do not cover 0..100; the error is a *PolicyError
// naming every problem found.
func LoadPolicy(b []byte) (*Policy, error) {
	var ps problems
	if len(b) > maxPolicySize {
		ps.add("policy file of %d bytes is larger than %d", len(b), maxPolicySize)
		return nil, &PolicyError{Problems: ps}
	}
	var f policyFile
	func() {
		defer func() {
			if r := recover(); r != nil {
				ps.add("invalid YAML: %v", r)
			}
		}()
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		derr := dec.Decode(&f)
		var te *yaml.TypeError
		switch {
		case derr == nil:
			var extra yaml.Node
			if dec.Decode(&extra) != io.EOF {
				ps.add("more than one YAML document")
			}
		case errors.Is(derr, io.EOF):
			ps.add("empty policy")
		case errors.As(derr, &te):
			for _, e := range te.Errors {
				if m := yamlUnknownField.FindStringSubmatch(e); m != nil {
					ps.add("line %s: unknown field %q", m[1], m[2])
				} else {
					ps.add("%s", e)
				}
			}
		default:
			ps.add("%v", derr)
		}
	}()
	if len(ps) > 0 && f.Version == "" && f.Bands == nil {
		// Nothing usable was decoded: do not pile up "missing" messages.
		return nil, &PolicyError{Problems: ps}
	}
	p := compile(&f, &ps)
	if len(ps) > 0 {
		return nil, &PolicyError{Problems: ps}
	}
	p.source = bytes.Clone(b)
	return p, nil
}

func weight(ps *problems, field string, w *int) int {
	if w == nil {
		ps.add("%s: missing", field)
		return 0
	}
	if *w < 0 || *w > 100 {
		ps.add("%s: %d out of range 0..100", field, *w)
		return 0
	}
	return *w
}

func positiveDuration(ps *problems, field string, d time.Duration) {
	if d <= 0 {
		ps.add("%s: must be a positive duration such as 15m", field)
	}
}

func eurCents(ps *problems, field string, eur float64) int64 {
	if !(eur > 0) || eur > 1e12 || math.IsInf(eur, 0) {
		ps.add("%s: %v must be a positive amount in EUR", field, eur)
		return 0
	}
	return int64(math.Round(eur * 100))
}

func compile(f *policyFile, ps *problems) *Policy {
	p := &Policy{version: strings.TrimSpace(f.Version)}
	if p.version == "" {
		ps.add("version: missing")
	}

	// acrs
	if len(f.ACRs) == 0 {
		ps.add("acrs: at least one acr is needed")
	}
	seen := map[string]bool{}
	for i, a := range f.ACRs {
		field := fmt.Sprintf("acrs[%d]", i)
		if a.Name == "" {
			ps.add("%s.name: missing", field)
		} else if seen[a.Name] {
			ps.add("%s.name: %q listed twice", field, a.Name)
		}
		seen[a.Name] = true
		if len(a.Methods) == 0 {
			ps.add("%s.methods: at least one method is needed", field)
		}
		checkMethods(ps, field+".methods", a.Methods)
		p.acrs = append(p.acrs, acrLevel{name: a.Name, methods: slices.Clone(a.Methods)})
	}
	acrIndex := func(field, name string, required bool) int {
		if name == "" {
			if required {
				ps.add("%s: missing", field)
			}
			return -1
		}
		for i, a := range p.acrs {
			if a.name == name {
				return i
			}
		}
		ps.add("%s: unknown acr %q (not in acrs)", field, name)
		return -1
	}

	compileBands(f, p, ps, acrIndex)

	// kinds
	p.kinds = map[Kind]rule{}
	for name, k := range f.Kinds {
		field := "kinds." + name
		if !Kind(name).valid() {
			ps.add("%s: unknown kind (want login, payment, enrollment, recovery or admin)", field)
			continue
		}
		p.kinds[Kind(name)] = compileRule(ps, field, k, acrIndex)
	}
	p.clients = map[string]rule{}
	for id, c := range f.Clients {
		field := fmt.Sprintf("clients[%q]", id)
		if c.Weight != 0 {
			ps.add("%s.weight: not supported for clients", field)
		}
		p.clients[id] = compileRule(ps, field, c, acrIndex)
	}

	compileSignals(f, p, ps)

	// networks
	p.allow = prefixes(ps, "networks.allow", f.Networks.Allow)
	p.deny = prefixes(ps, "networks.deny", f.Networks.Deny)
	p.noisyNets = prefixes(ps, "networks.noisy", f.Networks.Noisy)
	if f.Networks.AllowWeight < 0 || f.Networks.AllowWeight > 100 {
		ps.add("networks.allow_weight: %d out of range 0..100", f.Networks.AllowWeight)
	}
	p.allowW = f.Networks.AllowWeight

	// history
	if h := f.History; h == nil {
		ps.add("history: missing")
	} else {
		if h.SignIns < 1 || h.SignIns > 1000 {
			ps.add("history.sign_ins: %d out of range 1..1000", h.SignIns)
		}
		if h.Payments < 1 || h.Payments > 10000 {
			ps.add("history.payments: %d out of range 1..10000", h.Payments)
		}
		positiveDuration(ps, "history.payment_window", h.PaymentWindow)
		p.history = historyConfig{signIns: h.SignIns, payments: h.Payments, paymentWindow: h.PaymentWindow}
	}

	compilePayments(f, p, ps, acrIndex)
	return p
}

func checkMethods(ps *problems, field string, ms []string) {
	dup := map[string]bool{}
	for _, m := range ms {
		if !knownMethod(m) {
			ps.add("%s: unknown method %q (want passkey, push or totp)", field, m)
		}
		if dup[m] {
			ps.add("%s: %q listed twice", field, m)
		}
		dup[m] = true
	}
}

func compileRule(ps *problems, field string, r ruleFile, acrIndex func(string, string, bool) int) rule {
	if r.Weight < 0 || r.Weight > 100 {
		ps.add("%s.weight: %d out of range 0..100", field, r.Weight)
	}
	checkMethods(ps, field+".methods", r.Methods)
	return rule{
		weight:       r.Weight,
		alwaysStepUp: r.AlwaysStepUp,
		acr:          acrIndex(field+".acr", r.ACR, false),
		methods:      slices.Clone(r.Methods),
		noExemptions: r.Exemptions != nil && !*r.Exemptions,
	}
}

func compileBands(f *policyFile, p *Policy, ps *problems, acrIndex func(string, string, bool) int) {
	if len(f.Bands) == 0 {
		ps.add("bands: at least one band is needed")
		return
	}
	levels := map[Level]bool{}
	for i, b := range f.Bands {
		field := fmt.Sprintf("bands[%d]", i)
		bd := band{level: Level(b.Level), acr: -1}
		if !bd.level.valid() {
			ps.add("%s.level: %q unknown (want low, medium, high or critical)", field, b.Level)
		} else if levels[bd.level] {
			ps.add("%s.level: %q used twice", field, b.Level)
		}
		levels[bd.level] = true
		if b.Min == nil || b.Max == nil {
			ps.add("%s: min and max are required", field)
			continue
		}
		bd.min, bd.max = *b.Min, *b.Max
		if bd.min < 0 || bd.max > 100 || bd.min > bd.max {
			ps.add("%s: range %d..%d must lie within 0..100 with min <= max", field, bd.min, bd.max)
			continue
		}
		d, ok := parseDecision(b.Decision)
		if !ok {
			ps.add("%s.decision: %q unknown (want allow, challenge or deny)", field, b.Decision)
		}
		bd.decision = d
		if d == DecisionChallenge {
			bd.acr = acrIndex(field+".acr", b.ACR, true)
		} else if b.ACR != "" {
			ps.add("%s.acr: only a challenge band has an acr", field)
		}
		p.bands = append(p.bands, bd)
	}
	bs := slices.Clone(p.bands)
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].min < bs[j].min })
	next := 0
	for i, b := range bs {
		switch {
		case b.min > next:
			ps.add("bands: gap: scores %d..%d have no band", next, b.min-1)
		case b.min < next:
			ps.add("bands: %s (%d..%d) overlaps %s (%d..%d)", b.level, b.min, b.max, bs[i-1].level, bs[i-1].min, bs[i-1].max)
		}
		next = max(next, b.max+1)
		if i > 0 && rank(b.decision) < rank(bs[i-1].decision) {
			ps.add("bands: %s (%d..%d) decides %s, weaker than %s below it", b.level, b.min, b.max, b.decision, bs[i-1].decision)
		}
	}
	if next <= 100 && len(bs) > 0 {
		ps.add("bands: gap: scores %d..100 have no band", next)
	}
	p.bands = bs
}

// rank orders decisions from weakest to strongest.
func rank(d Decision) int {
	switch d {
	case DecisionAllow:
		return 0
	case DecisionChallenge:
		return 1
	default:
		return 2
	}
}

func prefixes(ps *problems, field string, ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				pf = netip.PrefixFrom(a, a.BitLen())
			} else {
				ps.add("%s: %q is not a CIDR prefix", field, s)
				continue
			}
		}
		out = append(out, pf.Masked())
	}
	return out
}

func compileSignals(f *policyFile, p *Policy, ps *problems) {
	s := &f.Signals
	c := &p.sig
	if v := s.UnknownDevice; v == nil {
		ps.add("signals.unknown_device: missing")
	} else {
		c.unknownDevice = deviceSignal{Weight: weight(ps, "signals.unknown_device.weight", v.Weight), MinAge: v.MinAge}
		if v.MinAge < 0 {
			ps.add("signals.unknown_device.min_age: must not be negative")
		}
	}
	weightSignal := func(name string, v *weightFile) weightOnly {
		if v == nil {
			ps.add("signals.%s: missing", name)
			return weightOnly{}
		}
		return weightOnly{Weight: weight(ps, "signals."+name+".weight", v.Weight)}
	}
	c.newCountry = weightSignal("new_country", s.NewCountry)
	c.userAgentChange = weightSignal("user_agent_change", s.UserAgentChange)
	c.newPayee = weightSignal("new_payee", s.NewPayee)

	if v := s.ImpossibleTravel; v == nil {
		ps.add("signals.impossible_travel: missing")
	} else {
		c.impossibleTravel = travelSignal{
			Weight:              weight(ps, "signals.impossible_travel.weight", v.Weight),
			NoisyWeight:         weight(ps, "signals.impossible_travel.noisy_weight", v.NoisyWeight),
			MaxKmh:              v.MaxKmh,
			CityToleranceKm:     v.CityToleranceKm,
			CountryToleranceKm:  v.CountryToleranceKm,
			DomesticToleranceKm: v.DomesticToleranceKm,
		}
		if !(v.MaxKmh >= 100 && v.MaxKmh <= 20000) {
			ps.add("signals.impossible_travel.max_kmh: %v out of range 100..20000", v.MaxKmh)
		}
		if !(v.CityToleranceKm >= 0 && v.CityToleranceKm <= 5000) {
			ps.add("signals.impossible_travel.city_tolerance_km: %v out of range 0..5000", v.CityToleranceKm)
		}
		if !(v.DomesticToleranceKm >= 0 && v.DomesticToleranceKm <= 5000) {
			ps.add("signals.impossible_travel.domestic_tolerance_km: %v out of range 0..5000", v.DomesticToleranceKm)
		}
		if !(v.CountryToleranceKm >= 0 && v.CountryToleranceKm <= 5000) {
			ps.add("signals.impossible_travel.country_tolerance_km: %v out of range 0..5000", v.CountryToleranceKm)
		}
	}
	countSig := func(name string, v *countFile) countSignal {
		if v == nil {
			ps.add("signals.%s: missing", name)
			return countSignal{}
		}
		if v.Threshold < 1 {
			ps.add("signals.%s.threshold: %d must be at least 1", name, v.Threshold)
		}
		positiveDuration(ps, "signals."+name+".window", v.Window)
		return countSignal{Weight: weight(ps, "signals."+name+".weight", v.Weight), Threshold: v.Threshold, Window: v.Window}
	}
	c.accountFailures = countSig("account_failures", s.AccountFailures)
	c.ipFailures = countSig("ip_failures", s.IPFailures)
	c.ipAccounts = countSig("ip_accounts", s.IPAccounts)

	if v := s.UnusualHour; v == nil {
		ps.add("signals.unusual_hour: missing")
	} else {
		c.unusualHour = hourSignal{Weight: weight(ps, "signals.unusual_hour.weight", v.Weight), MinSignIns: v.MinSignIns, MaxShare: v.MaxShare}
		if v.MinSignIns < 1 {
			ps.add("signals.unusual_hour.min_sign_ins: %d must be at least 1", v.MinSignIns)
		}
		if !(v.MaxShare >= 0 && v.MaxShare < 1) {
			ps.add("signals.unusual_hour.max_share: %v out of range 0..1", v.MaxShare)
		}
	}
	if v := s.ReportedNotMe; v == nil {
		ps.add("signals.reported_not_me: missing")
	} else {
		c.reportedNotMe = reportSignal{Weight: weight(ps, "signals.reported_not_me.weight", v.Weight), Within: v.Within}
		positiveDuration(ps, "signals.reported_not_me.within", v.Within)
	}
	if v := s.AmountAnomaly; v == nil {
		ps.add("signals.amount_anomaly: missing")
	} else {
		c.amountAnomaly = amountSignal{
			Weight:            weight(ps, "signals.amount_anomaly.weight", v.Weight),
			Ratio:             v.Ratio,
			MinPayments:       v.MinPayments,
			NoHistoryEURCents: eurCents(ps, "signals.amount_anomaly.no_history_eur", v.NoHistoryEUR),
		}
		if !(v.Ratio > 1 && v.Ratio <= 1000) {
			ps.add("signals.amount_anomaly.ratio: %v out of range (1, 1000]", v.Ratio)
		}
		if v.MinPayments < 1 {
			ps.add("signals.amount_anomaly.min_payments: %d must be at least 1", v.MinPayments)
		}
	}
	if v := s.PaymentVelocity; v == nil {
		ps.add("signals.payment_velocity: missing")
	} else {
		c.paymentVelocity = velocitySignal{
			Weight:      weight(ps, "signals.payment_velocity.weight", v.Weight),
			Window:      v.Window,
			MaxCount:    v.MaxCount,
			MaxEURCents: eurCents(ps, "signals.payment_velocity.max_eur", v.MaxEUR),
		}
		positiveDuration(ps, "signals.payment_velocity.window", v.Window)
		if v.MaxCount < 1 {
			ps.add("signals.payment_velocity.max_count: %d must be at least 1", v.MaxCount)
		}
	}
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

func compilePayments(f *policyFile, p *Policy, ps *problems, acrIndex func(string, string, bool) int) {
	pf := f.Payments
	if pf == nil {
		ps.add("payments: missing")
		return
	}
	c := &p.payments
	c.requireSCA = pf.RequireSCA
	c.acr = acrIndex("payments.acr", pf.ACR, true)
	c.maxEURCents = eurCents(ps, "payments.max_eur", pf.MaxEUR)
	c.currencies = map[string]currency{"EUR": {toEUR: 1, minorUnits: 2}}
	for code, cf := range pf.Currencies {
		field := "payments.currencies." + code
		if !currencyCode.MatchString(code) {
			ps.add("%s: not an ISO 4217 code", field)
			continue
		}
		if code == "EUR" {
			ps.add("%s: EUR is built in", field)
			continue
		}
		if !(cf.ToEUR > 0 && cf.ToEUR < 1e6) {
			ps.add("%s.to_eur: %v must be a positive rate", field, cf.ToEUR)
		}
		mu := minorUnits(code)
		if cf.MinorUnits != nil {
			mu = *cf.MinorUnits
		}
		if mu < 0 || mu > 4 {
			ps.add("%s.minor_units: %d out of range 0..4", field, mu)
		}
		c.currencies[code] = currency{toEUR: cf.ToEUR, minorUnits: mu}
	}
	ex := pf.Exemptions
	if ex == nil {
		ps.add("payments.exemptions: missing")
		return
	}
	c.maxScore = weight(ps, "payments.exemptions.max_score", ex.MaxScore)
	c.trusted = ex.TrustedPayee
	lv := ex.LowValue
	c.lowValue.enabled = lv.Enabled
	if lv.Enabled {
		c.lowValue.maxEURCents = eurCents(ps, "payments.exemptions.low_value.max_eur", lv.MaxEUR)
		c.lowValue.maxCumulativeCents = eurCents(ps, "payments.exemptions.low_value.max_cumulative_eur", lv.MaxCumulativeEUR)
		c.lowValue.maxCount = lv.MaxCount
		if c.lowValue.maxEURCents > 3000 {
			ps.add("payments.exemptions.low_value.max_eur: %v above the EUR 30 of PSD2 RTS Art. 16", lv.MaxEUR)
		}
		if c.lowValue.maxCumulativeCents > 10000 {
			ps.add("payments.exemptions.low_value.max_cumulative_eur: %v above the EUR 100 of PSD2 RTS Art. 16", lv.MaxCumulativeEUR)
		}
		if lv.MaxCount < 1 || lv.MaxCount > 5 {
			ps.add("payments.exemptions.low_value.max_count: %d out of range 1..5 (PSD2 RTS Art. 16)", lv.MaxCount)
		}
	}
	tra := ex.TRA
	c.tra = traConfig{enabled: tra.Enabled, card: math.NaN(), creditTransfer: math.NaN()}
	rate := func(field string, r *float64) float64 {
		if r == nil {
			return math.NaN()
		}
		if !(*r >= 0 && *r <= 100) {
			ps.add("%s: %v out of range 0..100 (percent)", field, *r)
			return math.NaN()
		}
		return *r
	}
	c.tra.card = rate("payments.exemptions.tra.card_fraud_rate", tra.CardFraudRate)
	c.tra.creditTransfer = rate("payments.exemptions.tra.credit_transfer_fraud_rate", tra.CreditTransferFraudRate)
	if tra.Enabled && tra.CardFraudRate == nil && tra.CreditTransferFraudRate == nil {
		ps.add("payments.exemptions.tra: enabled without a fraud rate")
	}
}

// minorUnits returns the ISO 4217 exponent of a currency: 0 or 3 for the
// few that differ, 2 for the rest.
func minorUnits(code string) int {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// toEURCents converts an amount in minor units to euro cents.
func (p *Policy) toEURCents(amount int64, cur string) (int64, bool) {
	if cur == "EUR" {
		return amount, true
	}
	c, ok := p.payments.currencies[cur]
	if !ok {
		return 0, false
	}
	v := float64(amount) * c.toEUR * math.Pow10(2-c.minorUnits)
	if v > 1e17 || math.IsNaN(v) {
		return math.MaxInt64, true
	}
	return int64(math.Round(v)), true
}

// band returns the band the score falls in.
func (p *Policy) band(score int) *band {
	for i := range p.bands {
		if score <= p.bands[i].max {
			return &p.bands[i]
		}
	}
	return &p.bands[len(p.bands)-1]
}
