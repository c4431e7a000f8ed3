package authserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rich Authorization Requests (RFC 9396) of type payment_initiation: the
// one authorization details type Assent understands. Details are parsed
// strictly (no unknown or nested fields, amounts only as decimal strings)
// and re-encoded canonically, so what the user approves, what the app signs
// and what the token carries are the same bytes.

// rarTypePayment is the supported authorization details type.
const rarTypePayment = "payment_initiation"

// maxAuthorizationDetails bounds the raw parameter.
const maxAuthorizationDetails = 4096

// errAuthorizationDetails is wrapped by every refusal; its text after the
// colon is safe to show the client.
var errAuthorizationDetails = errors.New("invalid authorization_details")

// paymentDetail is one payment_initiation object.
type paymentDetail struct {
	Type             string        `json:"type"`
	InstructedAmount instructedAmt `json:"instructedAmount"`
	CreditorName     string        `json:"creditorName"`
	CreditorAccount  *creditorAcct `json:"creditorAccount,omitempty"`
	Remittance       string        `json:"remittanceInformationUnstructured,omitempty"`
}

type instructedAmt struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
}

type creditorAcct struct {
	IBAN string `json:"iban"`
}

// payment is a validated payment_initiation with its amount in minor
// units, and the canonical JSON array it came in.
type payment struct {
	detail   paymentDetail
	minor    int64
	digits   int
	details  []byte // canonical authorization_details array
	currency string
}

// Payee is what the app shows and signs as the payee.
func (p payment) Payee() string {
	if p.detail.CreditorAccount != nil {
		return p.detail.CreditorName + " (" + p.detail.CreditorAccount.IBAN + ")"
	}
	return p.detail.CreditorName
}

// PayeeID is the risk engine's stable payee identifier.
func (p payment) PayeeID() string {
	if p.detail.CreditorAccount != nil {
		return p.detail.CreditorAccount.IBAN
	}
	return p.detail.CreditorName
}

// currencyDigits are the ISO 4217 minor unit exponents of the currencies
// Assent accepts in payments.
var currencyDigits = map[string]int{
	"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "DKK": 2, "NOK": 2, "PLN": 2, "CZK": 2, "HUF": 2,
	"JPY": 0, "ISK": 0, "RON": 2, "BGN": 2, "CAD": 2, "AUD": 2,
}

var (
	amountPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,11})(\.[0-9]{1,4})?$`)
	ibanPattern   = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`)
)

// parseAuthorizationDetails validates the authorization_details parameter:
// a JSON array holding exactly one payment_initiation object.
func parseAuthorizationDetails(raw string) (payment, error) {
	bad := func(format string, a ...any) (payment, error) {
		return payment{}, fmt.Errorf("%w: %s", errAuthorizationDetails, fmt.Sprintf(format, a...))
	}
	if len(raw) > maxAuthorizationDetails {
		return bad("longer than %d bytes", maxAuthorizationDetails)
	}
	if !utf8.ValidString(raw) {
		return bad("not UTF-8")
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		return bad("must be a JSON array of objects")
	}
	if len(items) != 1 {
		return bad("exactly one payment_initiation object is supported")
	}
	var head struct {
		Type             string `json:"type"`
		InstructedAmount struct {
			Amount json.RawMessage `json:"amount"`
		} `json:"instructedAmount"`
	}
	if err := json.Unmarshal(items[0], &head); err != nil {
		return bad("each entry must be an object with a type")
	}
	if head.Type != rarTypePayment {
		return bad("type %q is not supported (only %s)", clipText(head.Type, 40), rarTypePayment)
	}
	if a := bytes.TrimSpace(head.InstructedAmount.Amount); len(a) == 0 || a[0] != '"' {
		return bad("instructedAmount.amount must be a decimal string such as \"89.90\"")
	}
	var d paymentDetail
	dec := json.NewDecoder(bytes.NewReader(items[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return bad("unknown or malformed field in payment_initiation")
	}
	digits, ok := currencyDigits[d.InstructedAmount.Currency]
	if !ok {
		return bad("currency %q is not supported", clipText(d.InstructedAmount.Currency, 8))
	}
	minor, err := parseMinor(d.InstructedAmount.Amount, digits)
	if err != nil {
		return bad("instructedAmount.amount: %v", err)
	}
	if !printableText(d.CreditorName, 140) || strings.TrimSpace(d.CreditorName) == "" {
		return bad("creditorName must be 1 to 140 characters of printable text")
	}
	if d.CreditorAccount != nil && !ibanPattern.MatchString(d.CreditorAccount.IBAN) {
		return bad("creditorAccount.iban is not an IBAN")
	}
	if !printableText(d.Remittance, 140) {
		return bad("remittanceInformationUnstructured must be at most 140 characters of printable text")
	}
	canonical, err := json.Marshal([]paymentDetail{d})
	if err != nil {
		return payment{}, err
	}
	return payment{detail: d, minor: minor, digits: digits, details: canonical, currency: d.InstructedAmount.Currency}, nil
}

// parseMinor turns a decimal string into minor units: no exponent, no
// sign, no more decimals than the currency has, and more than zero.
func parseMinor(s string, digits int) (int64, error) {
	if !amountPattern.MatchString(s) {
		return 0, errors.New("not a plain positive decimal")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > digits {
		return 0, fmt.Errorf("at most %d decimals for this currency", digits)
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, errors.New("out of range")
	}
	if n <= 0 {
		return 0, errors.New("must be more than zero")
	}
	return n, nil
}

func printableText(s string, max int) bool {
	if utf8.RuneCountInString(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
	}
	return true
}

func clipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
