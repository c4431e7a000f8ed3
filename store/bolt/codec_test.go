package bolt

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func TestSessionCodecRoundTrip(t *testing.T) {
	at := time.Date(2025, time.March, 1, 12, 0, 0, 123456789, time.UTC)
	for _, s := range []store.Session{
		{IDHash: []byte{1}, UserID: "u"},
		{
			IDHash:    bytes.Repeat([]byte{0xab}, 32),
			UserID:    "user-1",
			AuthTime:  at,
			AMR:       []string{"pwd", "otp", ""},
			IP:        "2001:db8::1",
			UserAgent: "agent/1.0 (ünïcode)",
			CreatedAt: at.Add(-time.Hour),
			ExpiresAt: at.Add(24 * time.Hour),
		},
		{IDHash: []byte{2}, UserID: "before 1970", AuthTime: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)},
	} {
		got, err := decodeSession(s.IDHash, encodeSession(s))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", s, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
		}
	}
}

func TestSessionCodecKeepsInstantNotZone(t *testing.T) {
	at := time.Date(2025, time.March, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	got, err := decodeSession([]byte{1}, encodeSession(store.Session{UserID: "u", ExpiresAt: at}))
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(at) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v, want %v in UTC", got.ExpiresAt, at.UTC())
	}
}

func TestSessionCodecRejectsMalformed(t *testing.T) {
	good := encodeSession(store.Session{UserID: "user", AMR: []string{"pwd"}, IP: "192.0.2.1"})
	bad := map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{sessionFormat + 1}, good[1:]...),
		"trailing bytes": append(bytes.Clone(good), 0),
		"huge amr count": {sessionFormat, 1, 'u', 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"nanos too big":  {sessionFormat, 1, 'u', 0, 0x80, 0x94, 0xeb, 0xdc, 0x03},
	}
	for i := range len(good) - 1 {
		bad["truncated "+string(rune('a'+i))] = good[:i+1]
	}
	for name, v := range bad {
		if s, err := decodeSession([]byte{1}, v); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, s)
		}
	}
}

func FuzzSessionCodec(f *testing.F) {
	f.Add(encodeSession(store.Session{UserID: "u", AMR: []string{"pwd"}}))
	f.Add(encodeSession(store.Session{
		UserID:    "user-1",
		AuthTime:  time.Date(2025, time.March, 1, 12, 0, 0, 5, time.UTC),
		IP:        "192.0.2.1",
		UserAgent: "agent",
		ExpiresAt: time.Date(2025, time.March, 2, 12, 0, 0, 0, time.UTC),
	}))
	f.Add([]byte{sessionFormat})
	f.Add([]byte{sessionFormat, 0x81, 0x00, 'u', 0, 0, 0, 0, 0, 0, 0, 0, 0}) // overlong length
	f.Fuzz(func(t *testing.T, v []byte) {
		s, err := decodeSession([]byte{1}, v)
		if err != nil {
			return
		}
		// Whatever decodes survives a round trip unchanged. (The bytes may
		// differ: a varint may be written longer than needed.)
		again, err := decodeSession([]byte{1}, encodeSession(s))
		if err != nil {
			t.Fatalf("decoding the re-encoding of %+v: %v", s, err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", again, s)
		}
	})
}
