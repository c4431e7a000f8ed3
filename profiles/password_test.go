package profiles

import (
	"bufio"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// fastArgon2Params keep tests quick; production uses DefaultArgon2Params.
var fastArgon2Params = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// hashVector is one line of testdata/hashes.txt, made by other
// implementations (see testdata/gen-hashes.sh).
type hashVector struct {
	scheme, password, encoded string
}

func loadHashVectors(t testing.TB) []hashVector {
	t.Helper()
	f, err := os.Open("testdata/hashes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []hashVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 3 {
			t.Fatalf("hashes.txt: malformed line %q", line)
		}
		vs = append(vs, hashVector{fields[0], fields[1], fields[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 20 {
		t.Fatalf("hashes.txt: only %d vectors", len(vs))
	}
	return vs
}

// wrongPassword returns a password that differs from pw within its first 72
// bytes, so it must not match even under bcrypt's truncation.
func wrongPassword(pw string) string { return "x" + pw }

func TestDefaultArgon2Params(t *testing.T) {
	want := Argon2Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if DefaultArgon2Params != want {
		t.Fatalf("DefaultArgon2Params = %+v, want %+v", DefaultArgon2Params, want)
	}
	h := NewHasher(DefaultArgon2Params)
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("Hash = %q, want PHC argon2id with default parameters", enc)
	}
	ok, rehash, err := h.Verify(enc, "correct horse battery staple")
	if !ok || rehash || err != nil {
		t.Fatalf("Verify(own hash) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	// A hasher with other parameters still verifies it, and asks to rehash.
	ok, rehash, err = NewHasher(fastArgon2Params).Verify(enc, "correct horse battery staple")
	if !ok || !rehash || err != nil {
		t.Fatalf("Verify with other params = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestHashDistinctSalts(t *testing.T) {
	h := NewHasher(fastArgon2Params)
	seen := map[string]bool{}
	for range 8 {
		enc, err := h.Hash("same password")
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(enc, "$")
		salt := parts[4]
		if seen[salt] {
			t.Fatalf("salt %s repeated", salt)
		}
		seen[salt] = true
		if ok, rehash, err := h.Verify(enc, "same password"); !ok || rehash || err != nil {
			t.Fatalf("Verify = %v, %v, %v", ok, rehash, err)
		}
	}
}

func TestHashInvalidParams(t *testing.T) {
	tests := []struct {
		name string
		p    Argon2Params
	}{
		{"zero", Argon2Params{}},
		{"no threads", Argon2Params{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32}},
		{"no time", Argon2Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"time too high", Argon2Params{Memory: 64, Time: 101, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"memory below 8 per thread", Argon2Params{Memory: 31, Time: 1, Threads: 4, SaltLen: 16, KeyLen: 32}},
		{"memory above 1 GiB", Argon2Params{Memory: 1<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"short salt", Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 32}},
		{"short key", Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 15}},
		{"long key", Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 129}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); err == nil {
				t.Error("Validate: no error")
			}
			if enc, err := NewHasher(tt.p).Hash("password"); err == nil {
				t.Errorf("Hash = %q, want error", enc)
			}
		})
	}
	if err := DefaultArgon2Params.Validate(); err != nil {
		t.Errorf("DefaultArgon2Params.Validate: %v", err)
	}
	if err := fastArgon2Params.Validate(); err != nil {
		t.Errorf("fastArgon2Params.Validate: %v", err)
	}
}

// TestVerifyVectors checks hashes made by other implementations.
func TestVerifyVectors(t *testing.T) {
	h := NewHasher(DefaultArgon2Params)
	for i, v := range loadHashVectors(t) {
		t.Run(fmt.Sprintf("%s#%d", v.scheme, i), func(t *testing.T) {
			t.Parallel()
			scheme, err := ParseHash(v.encoded)
			if err != nil || scheme != v.scheme {
				t.Fatalf("ParseHash = %q, %v; want %q", scheme, err, v.scheme)
			}
			// Only argon2id with exactly the current parameters is current.
			wantRehash := !strings.HasPrefix(v.encoded, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$")
			ok, rehash, err := h.Verify(v.encoded, v.password)
			if !ok || rehash != wantRehash || err != nil {
				t.Errorf("Verify(right password) = %v, %v, %v; want true, %v, nil", ok, rehash, err, wantRehash)
			}
			ok, rehash, err = h.Verify(v.encoded, wrongPassword(v.password))
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
			if pw := v.password; len(pw) > 1 && (v.scheme != SchemeBcrypt || len(pw) <= 72) {
				ok, _, err = h.Verify(v.encoded, pw[:len(pw)-1])
				if ok || err != nil {
					t.Errorf("Verify(password minus last byte) = %v, %v; want false, nil", ok, err)
				}
			}
			ph, err := parsePasswordHash(v.encoded)
			if err != nil {
				t.Fatal(err)
			}
			if got := ph.String(); got != v.encoded {
				t.Errorf("re-encoded as %q", got)
			}
		})
	}
}

// TestVerifyBcryptTruncation pins the behaviour every bcrypt implementation
// shares: only the first 72 bytes of the password count.
func TestVerifyBcryptTruncation(t *testing.T) {
	const enc = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"
	const pw = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := NewHasher(fastArgon2Params)
	for _, p := range []string{pw, pw + "anything"} {
		if ok, rehash, err := h.Verify(enc, p); !ok || !rehash || err != nil {
			t.Errorf("Verify(%d bytes) = %v, %v, %v; want true, true, nil", len(p), ok, rehash, err)
		}
	}
	if ok, _, _ := h.Verify(enc, pw[:71]); ok {
		t.Error("71-byte prefix matched")
	}
}

// TestVerifySchemes builds hashes of each scheme with the libraries directly
// and checks match, mismatch and the rehash flag.
func TestVerifySchemes(t *testing.T) {
	const pw = "pässwörd 123"
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcrypt2a := string(bc)
	if !strings.HasPrefix(bcrypt2a, "$2a$04$") {
		t.Fatalf("bcrypt made %q", bcrypt2a)
	}
	salt := []byte("0123456789abcdef")
	b64 := base64.RawStdEncoding.EncodeToString
	argonEnc := func(mode string, key []byte, p Argon2Params) string {
		return fmt.Sprintf("$%s$v=19$m=%d,t=%d,p=%d$%s$%s", mode, p.Memory, p.Time, p.Threads, b64(salt), b64(key))
	}
	idKey := func(p Argon2Params) []byte {
		return argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
	with := func(f func(*Argon2Params)) Argon2Params {
		p := fastArgon2Params
		f(&p)
		return p
	}
	dk, err := pbkdf2.Key(sha256.New, pw, salt, 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	current := fastArgon2Params
	tests := []struct {
		name       string
		encoded    string
		wantScheme string
		wantRehash bool
	}{
		{"argon2id current", argonEnc("argon2id", idKey(current), current), SchemeArgon2id, false},
		{"argon2id other memory", argonEnc("argon2id", idKey(with(func(p *Argon2Params) { p.Memory = 128 })), with(func(p *Argon2Params) { p.Memory = 128 })), SchemeArgon2id, true},
		{"argon2id other time", argonEnc("argon2id", idKey(with(func(p *Argon2Params) { p.Time = 2 })), with(func(p *Argon2Params) { p.Time = 2 })), SchemeArgon2id, true},
		{"argon2id other threads", argonEnc("argon2id", idKey(with(func(p *Argon2Params) { p.Threads = 2 })), with(func(p *Argon2Params) { p.Threads = 2 })), SchemeArgon2id, true},
		{"argon2id other key length", argonEnc("argon2id", idKey(with(func(p *Argon2Params) { p.KeyLen = 16 })), current), SchemeArgon2id, true},
		{"argon2i", argonEnc("argon2i", argon2.Key([]byte(pw), salt, 1, 64, 1, 32), current), SchemeArgon2i, true},
		{"bcrypt 2a", bcrypt2a, SchemeBcrypt, true},
		{"bcrypt 2b", "$2b$" + bcrypt2a[4:], SchemeBcrypt, true},
		{"bcrypt 2y", "$2y$" + bcrypt2a[4:], SchemeBcrypt, true},
		{"django pbkdf2", "pbkdf2_sha256$1000$" + string(salt) + "$" + base64.StdEncoding.EncodeToString(dk), SchemePBKDF2Django, true},
		{"passlib pbkdf2", "$pbkdf2-sha256$1000$" + ab64.EncodeToString(salt) + "$" + ab64.EncodeToString(dk), SchemePBKDF2Passlib, true},
	}
	h := NewHasher(current)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if scheme, err := ParseHash(tt.encoded); scheme != tt.wantScheme || err != nil {
				t.Fatalf("ParseHash = %q, %v; want %q", scheme, err, tt.wantScheme)
			}
			ok, rehash, err := h.Verify(tt.encoded, pw)
			if !ok || rehash != tt.wantRehash || err != nil {
				t.Errorf("Verify(match) = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.wantRehash)
			}
			for _, wrong := range []string{"", "pässwörd 12", "Pässwörd 123", "pässwörd 123 "} {
				ok, rehash, err := h.Verify(tt.encoded, wrong)
				if ok || rehash || err != nil {
					t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", wrong, ok, rehash, err)
				}
			}
		})
	}
}

func TestVerifyZeroHasher(t *testing.T) {
	// Params matter only for the rehash decision.
	enc, err := NewHasher(fastArgon2Params).Hash("password")
	if err != nil {
		t.Fatal(err)
	}
	var h Hasher
	if ok, rehash, err := h.Verify(enc, "password"); !ok || !rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	h.DummyVerify("password") // falls back to the defaults; must not panic
}

func TestDummyVerify(t *testing.T) {
	// DummyVerify must run the same path as Verify on a current hash: the
	// dummy it builds has to parse as one, with h's parameters.
	h := NewHasher(fastArgon2Params)
	dummy := passwordHash{scheme: SchemeArgon2id, params: h.Params, salt: make([]byte, h.Params.SaltLen), key: make([]byte, h.Params.KeyLen)}
	ph, err := parsePasswordHash(dummy.String())
	if err != nil {
		t.Fatal(err)
	}
	if ph.needsRehash(h.Params) {
		t.Error("dummy hash is not current")
	}
	h.DummyVerify("password")
	h.DummyVerify("")
}

// Malformed and out-of-bounds hashes of every scheme.
var malformedHashes = []string{
	"",
	"$",
	"$$$$$",
	"password",
	"plaintext$",
	"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", // md5-crypt
	"$5$rounds=5000$saltsalt$abc",        // sha256-crypt
	"$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$M0in0mFX54jOFzjkLoLVSw",
	"sha1$salt$0123456789abcdef",
	"pbkdf2_sha1$1000$salt$hash",

	// argon2
	"$argon2id$",
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg",
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw$",
	"$argon2id$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                        // no version (0x10)
	"$argon2id$v=16$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                   // old version
	"$argon2id$v=019$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                  // leading zero
	"$argon2id$v=19$t=1,m=64,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                   // order
	"$argon2id$v=19$m=64,t=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                       // missing p
	"$argon2id$v=19$m=64,t=1,p=1,k=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",               // extra
	"$argon2id$v=19$m=64,t=1,p=1,data=YQ$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",           // associated data
	"$argon2id$v=19$m=064,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                  // leading zero
	"$argon2id$v=19$m=+64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                  // sign
	"$argon2id$v=19$m=-64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                  // sign
	"$argon2id$v=19$m=,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                     // empty
	"$argon2id$v=19$m=99999999999,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",          // overflow
	"$argon2id$v=19$m=1048577,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",              // > 1 GiB
	"$argon2id$v=19$m=7,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                    // < 8*p
	"$argon2id$v=19$m=64,t=1,p=9$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                   // < 8*p
	"$argon2id$v=19$m=64,t=0,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                   // t = 0
	"$argon2id$v=19$m=64,t=101,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                 // t > 100
	"$argon2id$v=19$m=64,t=1,p=0$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",                   // p = 0
	"$argon2id$v=19$m=4096,t=1,p=256$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",               // p > 255
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$M0in0mFX54jOFzjkLoLVSw",                           // 4-byte salt
	"$argon2id$v=19$m=64,t=1,p=1$$M0in0mFX54jOFzjkLoLVSw",                                 // empty salt
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLV",                     // 15-byte key
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$",                                         // empty key
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg==$M0in0mFX54jOFzjkLoLVSw",                 // padding
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw==",                 // padding
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lch$M0in0mFX54jOFzjkLoLVSw",                   // non-zero trailing bits
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVS",                    // impossible length
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRl-G1lcg$M0in0mFX54jOFzjkLoLVSw",                   // URL alphabet
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoL\nSw",                  // newline
	"$argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$" + strings.Repeat("A", 200),              // key > 128
	"$argon2i$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 1400) + "$M0in0mFX54jOFzjkLoLVSw", // salt > 1024
	"$ARGON2ID$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",
	" $argon2id$v=19$m=64,t=1,p=1$c2VsIGRlIG1lcg$M0in0mFX54jOFzjkLoLVSw",

	// bcrypt
	"$2",
	"$2a$",
	"$2a$05$",
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",     // 59 bytes
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW",   // 61 bytes
	"$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // crypt_blowfish's buggy variant
	"$2c$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // unknown variant
	"$3a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // unknown version
	"$2$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",    // original $2$
	"$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // cost < 4
	"$2a$17$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // cost > 16
	"$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // cost > 16
	"$2a$+5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // sign
	"$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",    // one digit
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC+E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // '+'
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe=",    // '='
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC$E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // '$'
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe\x00", // NUL
	"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOé",     // non-ASCII
	"$2a$05XCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",    // separator

	// Django pbkdf2_sha256
	"pbkdf2_sha256$",
	"pbkdf2_sha256$1000$seasalt",
	"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=$",
	"pbkdf2_sha256$$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",         // no iterations
	"pbkdf2_sha256$0$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",        // zero
	"pbkdf2_sha256$01000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",    // leading zero
	"pbkdf2_sha256$-1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",    // sign
	"pbkdf2_sha256$1e3$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",      // not decimal
	"pbkdf2_sha256$10000001$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=", // > 10M
	"pbkdf2_sha256$18446744073709551617$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
	"pbkdf2_sha256$1000$$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",                                  // empty salt
	"pbkdf2_sha256$1000$" + strings.Repeat("s", 1025) + "$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=", // long salt
	"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A",                            // no padding
	"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4B=",                           // trailing bits
	"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=\n",                         // line break
	"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkL",                                                   // 15 bytes
	"pbkdf2_sha256$1000$seasalt$" + strings.Repeat("AAAA", 44),                                          // 132 bytes
	"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A.",                           // '.'
	"pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6X_zkLpTdyPQrHqsinbL9BnnhgX4A=",                           // URL alphabet
	"PBKDF2_SHA256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",                           // case

	// passlib pbkdf2-sha256
	"$pbkdf2-sha256$",
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/w",
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY$",
	"$pbkdf2-sha256$0$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY",
	"$pbkdf2-sha256$10000001$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY",
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP+Kgq/lpxY",   // '+'
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/w==$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY", // padding
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY=",  // padding
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/x$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY",   // trailing bits
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57E",                         // 15 bytes
	"$pbkdf2-sha256$2000$" + strings.Repeat("A", 1400) + "$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY",
	"$pbkdf2-sha256$2000$ABEiM0RVZneImaq7zN3u/w$" + strings.Repeat("A", 180),
	"$pbkdf2-sha512$2000$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY",
	"$pbkdf2$2000$ABEiM0RVZneImaq7zN3u/w$9bpCimXzZcyzJ50jWG57EVnn1Bi6FbEvwP.Kgq/lpxY",
}

func TestVerifyMalformed(t *testing.T) {
	h := NewHasher(fastArgon2Params)
	for _, enc := range malformedHashes {
		t.Run(fmt.Sprintf("%.60q", enc), func(t *testing.T) {
			ok, rehash, err := h.Verify(enc, "password")
			if ok || rehash || !errors.Is(err, ErrUnsupportedHash) {
				t.Errorf("Verify = %v, %v, %v; want false, false, ErrUnsupportedHash", ok, rehash, err)
			}
			scheme, err := ParseHash(enc)
			if scheme != "" || !errors.Is(err, ErrUnsupportedHash) {
				t.Errorf("ParseHash = %q, %v; want ErrUnsupportedHash", scheme, err)
			}
			if err != nil && len(enc) > 8 && strings.Contains(err.Error(), enc) {
				t.Errorf("error %q repeats the hash", err)
			}
		})
	}
}

// TestParseHashTruncated cuts every vector at every length and flips every
// byte: the parser must never panic and must wrap ErrUnsupportedHash.
func TestParseHashTruncated(t *testing.T) {
	for _, v := range loadHashVectors(t) {
		for i := range len(v.encoded) {
			for _, enc := range []string{v.encoded[:i], v.encoded[:i] + "\xff" + v.encoded[i+1:], v.encoded[:i] + "$" + v.encoded[i:]} {
				if _, err := ParseHash(enc); err != nil && !errors.Is(err, ErrUnsupportedHash) {
					t.Errorf("ParseHash(%q) = %v, not ErrUnsupportedHash", enc, err)
				}
			}
		}
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		code     string // "" for accepted
	}{
		{"empty", "", PolicyTooShort},
		{"7 runes", "abcdxy7", PolicyTooShort},
		{"8 runes", "abcdxy78", ""},
		{"128 runes", strings.Repeat("ab", 64), ""},
		{"129 runes", strings.Repeat("ab", 64) + "c", PolicyTooLong},
		{"7 two-byte runes (14 bytes)", strings.Repeat("é", 7), PolicyTooShort},
		{"8 two-byte runes", strings.Repeat("é", 8), ""},
		{"8 three-byte runes", "日本語のパスワー", ""},
		{"7 four-byte runes (28 bytes)", strings.Repeat("😀", 7), PolicyTooShort},
		{"8 four-byte runes", strings.Repeat("😀", 8), ""},
		{"128 three-byte runes", strings.Repeat("€", 128), ""},
		{"129 three-byte runes", strings.Repeat("€", 129), PolicyTooLong},
		{"128 four-byte runes (512 bytes)", strings.Repeat("😀", 128), ""},
		{"129 four-byte runes", strings.Repeat("😀", 129), PolicyTooLong},
		{"combining marks count as runes", strings.Repeat("e\u0301", 4), ""},
		{"spaces allowed", "correct horse battery staple", ""},
		{"only spaces", "        ", ""},
		{"no composition rules", "aaaaaaab", ""},
		{"invalid UTF-8", "abcdefg\xff", PolicyInvalid},
		{"truncated rune", "abcdefgh\xe2\x82", PolicyInvalid},
		{"surrogate encoded", "abcdefgh\xed\xa0\x80", PolicyInvalid},
		{"NUL", "abcd\x00efgh", PolicyInvalid},
		{"NUL at end", "abcdefgh\x00", PolicyInvalid},
		{"huge invalid input", strings.Repeat("\xff", 1<<20), PolicyTooLong},
		{"huge input", strings.Repeat("a", 1<<20), PolicyTooLong},
		{"common", "password", PolicyCommon},
		{"common upper case", "PASSWORD", PolicyCommon},
		{"common mixed case", "PassWord1", PolicyCommon},
		{"Passw0rd", "Passw0rd", PolicyCommon},
		{"P@ssw0rd", "P@ssw0rd", PolicyCommon},
		{"digits", "12345678", PolicyCommon},
		{"digits 9", "123456789", PolicyCommon},
		{"keyboard walk", "QwertyUIOP", PolicyCommon},
		{"iloveyou1", "iloveyou1", PolicyCommon},
		{"year appended", "Summer2024", PolicyCommon},
		{"common with space is not common", "password ", ""},
		{"common as substring is fine", "password-for-my-bank", ""},
	}
	messages := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("CheckPassword = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckPassword = %v, want *PolicyError %s", err, tt.code)
			}
			if pe.Code != tt.code {
				t.Errorf("Code = %q, want %q", pe.Code, tt.code)
			}
			if pe.Message == "" || pe.Error() == "" {
				t.Error("empty message")
			}
			// The message depends on the code alone, so it cannot carry the
			// password.
			if prev, ok := messages[pe.Code]; ok && prev != pe.Message {
				t.Errorf("messages for %s differ: %q and %q", pe.Code, prev, pe.Message)
			}
			messages[pe.Code] = pe.Message
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	lines := strings.Split(commonPasswordsText, "\n")
	if !strings.HasPrefix(lines[0], "# ") {
		t.Errorf("first line %q is not a comment describing the list", lines[0])
	}
	seen := map[string]bool{}
	for i, line := range lines {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line != strings.TrimSpace(line) || line != strings.ToLower(line) {
			t.Errorf("line %d: %q is not trimmed lower case", i+1, line)
		}
		if n := utf8.RuneCountInString(line); n < MinPasswordLen || n > MaxPasswordLen {
			t.Errorf("line %d: %q has %d runes; the policy rejects it before the list", i+1, line, n)
		}
		if seen[line] {
			t.Errorf("line %d: %q repeated", i+1, line)
		}
		seen[line] = true
		var pe *PolicyError
		if err := CheckPassword(strings.ToUpper(line)); !errors.As(err, &pe) || pe.Code != PolicyCommon {
			t.Errorf("CheckPassword(%q) = %v, want common", strings.ToUpper(line), err)
		}
	}
	if len(seen) < 400 {
		t.Errorf("%d common passwords, want at least 400", len(seen))
	}
	if len(commonPasswords()) != len(seen) {
		t.Errorf("loaded %d entries, file has %d", len(commonPasswords()), len(seen))
	}
}
