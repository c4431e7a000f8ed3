package profiles

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizeEmail returns the canonical form of an e-mail address used for
// uniqueness and look-up: surrounding space trimmed, Unicode NFC, local part
// and domain lower-cased. It fails with a *ValidationError on the field
// "email" when the input is not a plain address (no display name, no
// comments, one @, a dotted domain, at most 254 bytes).
func NormalizeEmail(s string) (string, error) {
	bad := func(msg string) (string, error) {
		return "", &ValidationError{Field: "email", Code: "invalid", Message: msg}
	}
	if !utf8.ValidString(s) {
		return bad("The e-mail address contains invalid characters.")
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	if s == "" {
		return bad("Enter an e-mail address.")
	}
	if len(s) > 254 {
		return bad("The e-mail address is too long.")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '"' || r == '(' || r == ')' || r == ',' || r == ';' {
			return bad("Enter a plain e-mail address, like name@example.com.")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return bad("Enter a plain e-mail address, like name@example.com.")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return bad("The part before @ is too long.")
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return bad("The domain after @ is not valid.")
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
		return bad("Enter a plain e-mail address, like name@example.com.")
	}
	return strings.ToLower(local) + "@" + strings.ToLower(domain), nil
}
