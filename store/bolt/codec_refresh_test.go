package bolt

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func TestRefreshCodec(t *testing.T) {
	at := time.Date(2026, 11, 26, 7, 0, 0, 123, time.UTC)
	for _, tok := range []store.OIDCRefreshToken{
		{TokenHash: []byte("h1"), Family: "fam", UserID: "u1", ClientID: "c", Grant: []byte(`{"sub":"u1"}`),
			CreatedAt: at, ExpiresAt: at.Add(time.Hour), Spent: true, Session: []byte{1, 2, 3}},
		{TokenHash: []byte("h2"), Family: "f", UserID: "u", ClientID: "c", CreatedAt: at, ExpiresAt: at},
	} {
		got, err := decodeRefresh(tok.TokenHash, encodeRefresh(tok))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tok) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, tok)
		}
		// A record an earlier release wrote as JSON still reads.
		legacy, _ := json.Marshal(tok)
		got, err = decodeRefresh(tok.TokenHash, legacy)
		if err != nil || !reflect.DeepEqual(got, tok) {
			t.Errorf("legacy JSON: %+v, %v", got, err)
		}
	}
	good := encodeRefresh(store.OIDCRefreshToken{Family: "f", UserID: "u", ClientID: "c", Grant: []byte("g")})
	for name, v := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-2],
		"trailing":       append(append([]byte(nil), good...), 0),
		"bad spent byte": func() []byte { b := append([]byte(nil), good...); b[len(b)-2] = 7; return b }(),
		"bad json":       []byte("{nope"),
	} {
		if _, err := decodeRefresh([]byte("h"), v); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeRefresh(f *testing.F) {
	f.Add(encodeRefresh(store.OIDCRefreshToken{Family: "f", UserID: "u", ClientID: "c", Grant: []byte("g"), Spent: true}))
	f.Add([]byte(`{"family":"f"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		tok, err := decodeRefresh([]byte("h"), v)
		if err != nil || len(v) > 0 && v[0] == '{' {
			return
		}
		again, err := decodeRefresh([]byte("h"), encodeRefresh(tok))
		if err != nil || !reflect.DeepEqual(again, tok) {
			t.Fatalf("re-encoding %+v: %+v, %v", tok, again, err)
		}
	})
}
