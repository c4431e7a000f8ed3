package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one e-mail to one recipient, as the caller wrote it.
type Message struct {
	// To is the recipient's address; ToName optionally their name.
	To     string
	ToName string
	// Subject is one line of text.
	Subject string
	// Text and HTML are the two alternative bodies; Text is required.
	Text string
	HTML string
}

// Limits on what a message may hold.
const (
	maxAddress = 254
	maxName    = 200
	maxSubject = 300
	maxBody    = 256 << 10
)

// ErrInvalidMessage reports a message that cannot be sent as given: a bad
// address, a header value with a line break, a body too large.
var ErrInvalidMessage = errors.New("mail: invalid message")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, a...))
}

// parseAddress accepts one bare address (no name, no group, no line break).
func parseAddress(s string) (string, error) {
	if s == "" || len(s) > maxAddress || strings.ContainsAny(s, "\r\n<>\"") {
		return "", invalid("bad address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", invalid("bad address")
	}
	return a.Address, nil
}

// headerText refuses line breaks and control characters in a header value:
// they are how header injection is done.
func headerText(field, s string, max int) error {
	if len(s) > max {
		return invalid("%s too long", field)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not UTF-8", field)
	}
	if strings.Contains(s, "=?") {
		// Written as is, it would read as an RFC 2047 encoded word.
		return invalid("%s holds an encoded-word marker", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid("%s holds a control character", field)
		}
	}
	return nil
}

// checkName accepts a display name that needs no quoting tricks: no
// specials that address parsers treat differently.
func checkName(s string) error {
	if err := headerText("name", s, maxName); err != nil {
		return err
	}
	if strings.ContainsAny(s, `"\<>()[]:;@,`) {
		return invalid("name holds an address special character")
	}
	return nil
}

// ValidName reports whether s can be a recipient's display name; callers
// leave out a name that cannot.
func ValidName(s string) bool { return checkName(s) == nil }

// newID returns a unique id that sorts by creation time.
func newID(now time.Time) string {
	var b [10]byte
	rand.Read(b[:])
	return fmt.Sprintf("%016x-%s", now.UnixNano(), hex.EncodeToString(b[:]))
}

// compose writes m as an RFC 5322 message: multipart/alternative with
// quoted-printable text and HTML parts, every header value checked or
// encoded.
func compose(from *mail.Address, m Message, id, host string, date time.Time) ([]byte, error) {
	to, err := parseAddress(m.To)
	if err != nil {
		return nil, err
	}
	if err := checkName(m.ToName); err != nil {
		return nil, err
	}
	if err := headerText("subject", m.Subject, maxSubject); err != nil {
		return nil, err
	}
	if m.Text == "" {
		return nil, invalid("empty text body")
	}
	if len(m.Text)+len(m.HTML) > maxBody {
		return nil, invalid("body too large")
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	hdr := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", (&mail.Address{Name: m.ToName, Address: to}).String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", date.UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+"@"+host+">")
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated")
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	buf.WriteString("\r\n")
	parts := []struct{ ctype, body string }{{"text/plain; charset=utf-8", m.Text}}
	if m.HTML != "" {
		parts = append(parts, struct{ ctype, body string }{"text/html; charset=utf-8", m.HTML})
	}
	for _, p := range parts {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := qw.Write([]byte(crlf(p.body))); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// crlf turns every line ending into CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
