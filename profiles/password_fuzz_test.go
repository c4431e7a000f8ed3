package profiles

import (
	"errors"
	"strings"
	"testing"
)

// cheapEnough reports whether verifying ph costs little enough for a fuzz
// iteration. Parsing is fuzzed without limit; only the key derivation of
// expensive (but valid) parameters is skipped.
func cheapEnough(ph *passwordHash) bool {
	switch ph.scheme {
	case SchemeArgon2id, SchemeArgon2i:
		return ph.params.Memory <= 1024 && ph.params.Time <= 4
	case SchemeBcrypt:
		return ph.rounds <= 6
	default:
		return ph.rounds <= 20_000
	}
}

func addHashSeeds(f *testing.F, add func(encoded string)) {
	for _, v := range loadHashVectors(f) {
		add(v.encoded)
	}
	for _, enc := range malformedHashes {
		add(enc)
	}
}

func FuzzVerify(f *testing.F) {
	addHashSeeds(f, func(enc string) {
		f.Add(enc, "password")
		f.Add(enc, "")
	})
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw", "lètmein")
	h := NewHasher(fastArgon2Params)
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ph, perr := parsePasswordHash(encoded)
		if perr == nil && !cheapEnough(ph) {
			t.Skip("valid but expensive parameters")
		}
		ok, rehash, err := h.Verify(encoded, password)
		if err != nil {
			if ok || rehash {
				t.Fatalf("Verify = %v, %v with error %v", ok, rehash, err)
			}
			if !errors.Is(err, ErrUnsupportedHash) {
				t.Fatalf("error %v does not wrap ErrUnsupportedHash", err)
			}
		}
		if (perr == nil) != (err == nil) {
			t.Fatalf("ParseHash error %v but Verify error %v", perr, err)
		}
		if rehash && !ok {
			t.Fatal("rehash without a match")
		}
		if ok && perr == nil && ph.scheme == SchemeArgon2id && ph.params == h.Params && rehash {
			t.Fatal("current hash reported for rehash")
		}
	})
}

func FuzzParseHash(f *testing.F) {
	addHashSeeds(f, func(enc string) { f.Add(enc) })
	f.Fuzz(func(t *testing.T, encoded string) {
		scheme, err := ParseHash(encoded)
		if err != nil {
			if scheme != "" {
				t.Fatalf("scheme %q with error %v", scheme, err)
			}
			if !errors.Is(err, ErrUnsupportedHash) {
				t.Fatalf("error %v does not wrap ErrUnsupportedHash", err)
			}
			return
		}
		switch scheme {
		case SchemeArgon2id, SchemeArgon2i, SchemeBcrypt, SchemePBKDF2Django, SchemePBKDF2Passlib:
		default:
			t.Fatalf("unknown scheme %q", scheme)
		}
		// Accepted encodings are canonical: parsing and encoding again gives
		// the input back.
		ph, err := parsePasswordHash(encoded)
		if err != nil {
			t.Fatal(err)
		}
		if got := ph.String(); got != encoded {
			t.Fatalf("re-encoded %q as %q", encoded, got)
		}
		if strings.ContainsAny(encoded, "\r\n") && scheme != SchemePBKDF2Django {
			t.Fatalf("accepted a line break in %q", encoded)
		}
	})
}
