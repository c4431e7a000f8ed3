package acr

import "slices"

// Level is an assurance level. Levels are ordered: a higher level satisfies
// every request for a lower one.
type Level int

// The assurance levels Assent issues, lowest first, with the acr value each
// is advertised and issued as.
const (
	// None is no authentication; it is never issued.
	None Level = iota
	// SingleFactor ("1") is one factor, typically a password.
	SingleFactor
	// MFA ("mfa") is two distinct factors, such as password and TOTP.
	MFA
	// PhishingResistant ("phr") is a passkey verified with its user.
	PhishingResistant
	// PhishingResistantHardware ("phrh") is a device-bound passkey
	// verified with its user.
	PhishingResistantHardware
)

var levelNames = []string{"", "1", "mfa", "phr", "phrh"}

// Values lists the issued acr values, lowest level first, as advertised
// in acr_values_supported.
func Values() []string { return slices.Clone(levelNames[1:]) }

// String returns the level's acr value.
func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return ""
	}
	return levelNames[l]
}

// Parse returns the level of an acr value; ok is false for a value
// Assent does not issue.
func Parse(acr string) (Level, bool) {
	i := slices.Index(levelNames, acr)
	if i < 1 {
		return None, false
	}
	return Level(i), true
}

// Of derives the level a session reached from its authentication
// methods (RFC 8176 amr values). A passkey (hwk or swk) counts as phishing
// resistant only with user verification (user or pin) and when no
// other-channel approval (mca) is part of it; hwk makes it hardware bound.
// Two factors (mfa), or a passkey without user verification next to
// another factor, are mfa. Anything else authenticated is single factor.
func Of(amr []string) Level {
	if len(amr) == 0 {
		return None
	}
	has := func(m string) bool { return slices.Contains(amr, m) }
	verified := has("user") || has("pin")
	if verified && !has("mca") {
		if has("hwk") {
			return PhishingResistantHardware
		}
		if has("swk") {
			return PhishingResistant
		}
	}
	if has("mfa") {
		return MFA
	}
	return SingleFactor
}
