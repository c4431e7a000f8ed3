package push

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeMessage checks that decoding never panics, refuses oversized
// input, and that whatever it accepts re-encodes to a message that decodes
// to the same decision and canonical bytes.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"type":"decision","decision":{"request_id":"pr_1","decision":"approve","number":42,"amount":"1.00","currency":"EUR","payee":"Shop","signature":"MEUCIQ=="}}`))
	f.Add([]byte(`{"type":"decision","decision":{"request_id":"pr_1","decision":"deny","not_me":true,"signature":"AA=="}}`))
	f.Add([]byte(`{"type":"hello","device_id":"app_x","signature":"AA=="}`))
	f.Add([]byte(`{"type":"decision","decision":null}`))
	f.Add([]byte(`{"type":"decision"} {}`))
	f.Add([]byte(`{"type":"token","fcm_token":"fcm-token-1:APA91b"}`))
	f.Add([]byte(`{"type":"token","fcm_token":"","device_id":"app_x"}`))
	f.Add(bytes.Repeat([]byte("a"), MaxMessage+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		if len(b) > MaxMessage {
			t.Fatal("accepted an oversized message")
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := DecodeMessage(again)
		if err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
		if m.Type == MsgDecision {
			nonce := []byte("n")
			if !bytes.Equal(m.Decision.SignedBytes(nonce), m2.Decision.SignedBytes(nonce)) {
				t.Fatal("canonical bytes changed across a round trip")
			}
		}
	})
}

// TestSignedBytesUnambiguous checks that moving bytes between fields
// changes what is signed.
func TestSignedBytesUnambiguous(t *testing.T) {
	a := Decision{RequestID: "r", Decision: Approve, Number: 1, Amount: "12", Currency: "EUR", Payee: "3Shop"}
	b := Decision{RequestID: "r", Decision: Approve, Number: 1, Amount: "123", Currency: "EUR", Payee: "Shop"}
	if bytes.Equal(a.SignedBytes(nil), b.SignedBytes(nil)) {
		t.Fatal("two different decisions sign the same bytes")
	}
}
