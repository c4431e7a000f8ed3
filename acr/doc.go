// Package acr defines Assent's assurance levels: the ordered acr values
// ("1" < "mfa" < "phr" < "phrh") it advertises and issues, and how a
// session's authentication methods (RFC 8176 amr values) map onto them.
// It is shared by the provider and by resource servers that check tokens,
// so it imports nothing beyond the standard library.
package acr
