package profiles

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Attribute types.
const (
	TypeString      = "string"
	TypeEmail       = "email"
	TypePhone       = "phone"
	TypeDate        = "date"
	TypeEnum        = "enum"
	TypeMultiSelect = "multi_select"
)

// Sensitivity levels. High values are sealed a second time, under a key
// derived from the master key for that purpose, and hidden from listings.
const (
	SensitivityLow    = "low"
	SensitivityMedium = "medium"
	SensitivityHigh   = "high"
)

// Schema declares the profile attributes operators collect, the purposes
// they may be used for, and when to ask for them. The zero value declares
// nothing. Call Validate (or Compile) before use.
type Schema struct {
	Attributes []Attribute  `yaml:"attributes" json:"attributes"`
	Purposes   []Purpose    `yaml:"purposes" json:"purposes"`
	Prompts    []PromptRule `yaml:"prompts" json:"prompts,omitempty"`
	// Retention erases unverified and inactive accounts (retention.go).
	Retention Retention     `yaml:"retention" json:"retention"`
	compiled  *compiledInfo `yaml:"-" json:"-"`
}

type compiledInfo struct {
	patterns map[string]*regexp.Regexp
}

// Attribute is one profile field.
type Attribute struct {
	// Name is the key: lower-case letters, digits and underscores.
	Name string `yaml:"name" json:"name"`
	// Label is what pages show; Name when empty.
	Label string `yaml:"label" json:"label,omitempty"`
	// Type is string, email, phone (E.164), date (YYYY-MM-DD), enum or
	// multi_select.
	Type     string `yaml:"type" json:"type"`
	Required bool   `yaml:"required" json:"required,omitempty"`
	// Pattern (string only) is a regular expression (RE2) the whole value
	// must match.
	Pattern string `yaml:"pattern" json:"pattern,omitempty"`
	// MaxLength (string only) bounds the value in characters (default 200).
	MaxLength int `yaml:"max_length" json:"max_length,omitempty"`
	// Values are the choices of an enum or multi_select.
	Values []string `yaml:"values" json:"values,omitempty"`
	// Sensitivity is low (default), medium or high.
	Sensitivity string `yaml:"sensitivity" json:"sensitivity"`
	// Scope and Claim: relying parties granted Scope receive the value as
	// Claim in the ID token and from userinfo.
	Scope string `yaml:"scope" json:"scope,omitempty"`
	Claim string `yaml:"claim" json:"claim,omitempty"`
	// Purposes the value may be used for. It is released (as a claim) only
	// while the user consents to every one of them; none means the value is
	// needed for the service itself and needs no consent.
	Purposes []string `yaml:"purposes" json:"purposes,omitempty"`
}

// DisplayName is the label, or the name without one.
func (a Attribute) DisplayName() string {
	if a.Label != "" {
		return a.Label
	}
	return a.Name
}

// Purpose is something personal data is used for, with the version of the
// text the user is shown when asked to consent.
type Purpose struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
	// Version of the description. A consent counts only for the version it
	// was given to: changing the text asks everyone again.
	Version string `yaml:"version" json:"version"`
}

// PromptRule decides when to ask a signed-in user for attributes they have
// not given yet: on their Nth sign-in or later (OnSignIn), when a relying
// party requests Scope, once they have made a payment (AfterPayment), or
// any combination (all must hold). At most one question
// page is shown per sign-in. Optional prompts can be skipped; a Required
// one cannot, and holds up the relying party until it is answered.
type PromptRule struct {
	Attributes []string `yaml:"attributes" json:"attributes"`
	OnSignIn   int      `yaml:"on_sign_in" json:"on_sign_in,omitempty"`
	Scope      string   `yaml:"scope" json:"scope,omitempty"`
	// AfterPayment: only once the user has an approved payment on record.
	AfterPayment bool `yaml:"after_payment" json:"after_payment,omitempty"`
	Required     bool `yaml:"required" json:"required,omitempty"`
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// reservedClaims are set by the provider itself and cannot be mapped.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr",
	"azp", "at_hash", "c_hash", "sid", "email", "email_verified", "scope", "client_id"}

// Validate reports every problem with the schema at once, each naming its
// field as in the configuration file (profiles.attributes[2].type).
func (s *Schema) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("profiles.%s: %s", field, fmt.Sprintf(format, a...)))
	}
	info := &compiledInfo{patterns: map[string]*regexp.Regexp{}}
	purposes := map[string]bool{}
	for i, p := range s.Purposes {
		f := fmt.Sprintf("purposes[%d]", i)
		if !namePattern.MatchString(p.Name) {
			bad(f+".name", "%q must be lower-case letters, digits and underscores", p.Name)
		} else if purposes[p.Name] {
			bad(f+".name", "%q is declared twice", p.Name)
		}
		purposes[p.Name] = true
		if strings.TrimSpace(p.Description) == "" {
			bad(f+".description", "required: users are told what they consent to")
		}
		if strings.TrimSpace(p.Version) == "" {
			bad(f+".version", "required: consents record the version of the text")
		}
	}
	names := map[string]bool{}
	claims := map[string]bool{}
	for i, a := range s.Attributes {
		f := fmt.Sprintf("attributes[%d]", i)
		if !namePattern.MatchString(a.Name) {
			bad(f+".name", "%q must be lower-case letters, digits and underscores", a.Name)
		} else if names[a.Name] {
			bad(f+".name", "%q is declared twice", a.Name)
		}
		names[a.Name] = true
		switch a.Type {
		case TypeString, TypeEmail, TypePhone, TypeDate:
			if len(a.Values) > 0 {
				bad(f+".values", "only enum and multi_select attributes have values")
			}
		case TypeEnum, TypeMultiSelect:
			if len(a.Values) == 0 {
				bad(f+".values", "an %s needs at least one value", a.Type)
			}
			seen := map[string]bool{}
			for _, v := range a.Values {
				if v == "" || strings.ContainsAny(v, ",\r\n") || !utf8.ValidString(v) || len(v) > 100 {
					bad(f+".values", "%q must be 1 to 100 bytes without commas or line breaks", v)
				}
				if seen[v] {
					bad(f+".values", "%q is listed twice", v)
				}
				seen[v] = true
			}
		default:
			bad(f+".type", "%q must be string, email, phone, date, enum or multi_select", a.Type)
		}
		if a.Pattern != "" {
			if a.Type != TypeString {
				bad(f+".pattern", "only string attributes have a pattern")
			} else if re, err := regexp.Compile(`^(?:` + a.Pattern + `)$`); err != nil {
				bad(f+".pattern", "%v", err)
			} else {
				info.patterns[a.Name] = re
			}
		}
		if a.MaxLength < 0 || a.MaxLength > 10000 || (a.MaxLength != 0 && a.Type != TypeString) {
			bad(f+".max_length", "must be between 1 and 10000, for string attributes only")
		}
		switch a.Sensitivity {
		case "", SensitivityLow, SensitivityMedium, SensitivityHigh:
		default:
			bad(f+".sensitivity", "%q must be low, medium or high", a.Sensitivity)
		}
		if (a.Scope == "") != (a.Claim == "") {
			bad(f+".scope", "scope and claim go together")
		}
		if a.Scope != "" {
			if !namePattern.MatchString(a.Scope) || a.Scope == "openid" || a.Scope == "offline_access" || a.Scope == "email" {
				bad(f+".scope", "%q must be a lower-case name other than openid, email and offline_access", a.Scope)
			}
			if !namePattern.MatchString(a.Claim) || slices.Contains(reservedClaims, a.Claim) {
				bad(f+".claim", "%q must be a lower-case name that is not a registered ID token claim", a.Claim)
			} else if claims[a.Claim] {
				bad(f+".claim", "%q is released by two attributes", a.Claim)
			}
			claims[a.Claim] = true
		}
		for _, p := range a.Purposes {
			if !purposes[p] {
				bad(f+".purposes", "%q is not a declared purpose", p)
			}
		}
	}
	for i, r := range s.Prompts {
		f := fmt.Sprintf("prompts[%d]", i)
		if len(r.Attributes) == 0 || len(r.Attributes) > 5 {
			bad(f+".attributes", "ask for 1 to 5 attributes: one short question card")
		}
		for _, n := range r.Attributes {
			if !names[n] {
				bad(f+".attributes", "%q is not a declared attribute", n)
			}
		}
		if r.OnSignIn < 0 {
			bad(f+".on_sign_in", "must not be negative")
		}
		if r.OnSignIn > 100 {
			bad(f+".on_sign_in", "must be at most 100")
		}
		if r.OnSignIn == 0 && r.Scope == "" && !r.AfterPayment {
			bad(f, "needs on_sign_in, scope or after_payment")
		}
		if r.Scope != "" && !slices.Contains(s.Scopes(), r.Scope) {
			bad(f+".scope", "%q is not the scope of any attribute", r.Scope)
		}
	}
	s.Retention.validate(func(field, format string, a ...any) { bad(field, format, a...) })
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.compiled = info
	return nil
}

// Attribute returns the declared attribute with that name.
func (s *Schema) Attribute(name string) (Attribute, bool) {
	if s == nil {
		return Attribute{}, false
	}
	for _, a := range s.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// Purpose returns the declared purpose with that name.
func (s *Schema) Purpose(name string) (Purpose, bool) {
	if s == nil {
		return Purpose{}, false
	}
	for _, p := range s.Purposes {
		if p.Name == name {
			return p, true
		}
	}
	return Purpose{}, false
}

// Scopes returns the distinct scopes that release attributes, in
// declaration order.
func (s *Schema) Scopes() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, a := range s.Attributes {
		if a.Scope != "" && !slices.Contains(out, a.Scope) {
			out = append(out, a.Scope)
		}
	}
	return out
}

// Claims returns the claims the schema may release.
func (s *Schema) Claims() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, a := range s.Attributes {
		if a.Claim != "" {
			out = append(out, a.Claim)
		}
	}
	return out
}

var phoneClean = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "")
var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Normalize checks one value (several for a multi_select) against the
// attribute and returns it in its stored form: trimmed; an e-mail
// normalised; a phone number in E.164 without separators; a multi_select
// as its choices in declaration order, joined by commas. A
// *ValidationError names what is wrong; Message is safe to show.
func (s *Schema) Normalize(a Attribute, values []string) (string, error) {
	fe := func(code, msg string) error {
		return &ValidationError{Field: "attributes." + a.Name, Code: code, Message: msg}
	}
	for _, v := range values {
		if !utf8.ValidString(v) {
			return "", fe("invalid", "The value contains invalid characters.")
		}
	}
	if a.Type != TypeMultiSelect && len(values) > 1 {
		return "", fe("invalid", "Give one value.")
	}
	var v string
	if len(values) == 1 {
		v = strings.TrimSpace(values[0])
	}
	switch a.Type {
	case TypeString:
		max := a.MaxLength
		if max == 0 {
			max = 200
		}
		if utf8.RuneCountInString(v) > max {
			return "", fe("too_long", fmt.Sprintf("Use at most %d characters.", max))
		}
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return "", fe("invalid", "The value contains control characters.")
		}
		if re := s.pattern(a); re != nil && v != "" && !re.MatchString(v) {
			return "", fe("pattern", "The value is not in the expected format.")
		}
		return v, nil
	case TypeEmail:
		if v == "" {
			return "", nil
		}
		e, err := NormalizeEmail(v)
		if err != nil {
			return "", fe("invalid", "Enter a valid e-mail address.")
		}
		return e, nil
	case TypePhone:
		if v == "" {
			return "", nil
		}
		p := phoneClean.Replace(v)
		if strings.HasPrefix(p, "00") {
			p = "+" + p[2:]
		}
		if !phonePattern.MatchString(p) {
			return "", fe("invalid", "Enter the phone number in international form, for example +358 40 123 4567.")
		}
		return p, nil
	case TypeDate:
		if v == "" {
			return "", nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil || t.Year() < 1850 || t.Year() > 2200 {
			return "", fe("invalid", "Enter a date as YYYY-MM-DD.")
		}
		return t.Format(time.DateOnly), nil
	case TypeEnum:
		if v != "" && !slices.Contains(a.Values, v) {
			return "", fe("not_allowed", "Choose one of the listed values.")
		}
		return v, nil
	case TypeMultiSelect:
		var chosen []string
		for _, c := range values {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			if !slices.Contains(a.Values, c) {
				return "", fe("not_allowed", "Choose only listed values.")
			}
			chosen = append(chosen, c)
		}
		var out []string
		for _, c := range a.Values {
			if slices.Contains(chosen, c) {
				out = append(out, c)
			}
		}
		return strings.Join(out, ","), nil
	}
	return "", fe("unknown", "This attribute has an unknown type.")
}

func (s *Schema) pattern(a Attribute) *regexp.Regexp {
	if s.compiled != nil {
		return s.compiled.patterns[a.Name]
	}
	if a.Pattern == "" {
		return nil
	}
	re, err := regexp.Compile(`^(?:` + a.Pattern + `)$`)
	if err != nil {
		return regexp.MustCompile(`[^\s\S]`) // matches nothing: refuse rather than accept
	}
	return re
}

// ClaimValue is a stored value as a claim: a multi_select as a list of
// strings, anything else as the string.
func (a Attribute) ClaimValue(stored string) any {
	if a.Type == TypeMultiSelect {
		if stored == "" {
			return []string{}
		}
		return strings.Split(stored, ",")
	}
	return stored
}
