package mail

import (
	"bytes"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzCompose: whatever the caller passes, a composed message has exactly
// the headers compose writes, one recipient, and the subject round-trips;
// or compose refuses it.
func FuzzCompose(f *testing.F) {
	f.Add("ada@example.com", "Ada", "Hello")
	f.Add("a@example.com\r\nBcc: v@example.com", "x", "y")
	f.Add("a@example.com", "Eve\nBcc: v@example.com", "y")
	f.Add("a@example.com", "", "S\u00e4hk\u00f6posti =?utf-8?q?x?=")
	f.Add("\"a b\"@example.com", "A, B <c>", "x\ty")
	from := &mail.Address{Name: "Assent", Address: "no-reply@example.com"}
	want := []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}
	f.Fuzz(func(t *testing.T, to, name, subject string) {
		b, err := compose(from, Message{To: to, ToName: name, Subject: subject, Text: "t", HTML: "<p>h</p>"}, "id", "example.com", time.Unix(0, 0))
		if err != nil {
			return
		}
		m, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("composed message does not parse: %v\n%q", err, b)
		}
		var keys []string
		for k := range m.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("headers %v, want %v", keys, want)
		}
		rcpt, err := m.Header.AddressList("To")
		if err != nil || len(rcpt) != 1 || rcpt[0].Address != to || rcpt[0].Name != name {
			t.Fatalf("To = %v (%v), want %q", rcpt, err, to)
		}
		// Header parsing trims the value's ends; nothing else may change.
		if got, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil || (got != subject && got != strings.TrimSpace(subject)) {
			t.Fatalf("Subject = %q (%v), want %q", got, err, subject)
		}
	})
}
