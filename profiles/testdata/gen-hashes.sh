#!/bin/sh
# Regenerates hashes.txt: password hash vectors made by implementations other
# than the ones this package uses, so the tests check interoperability and not
# only a round trip.
#
#   argon2   the reference implementation's command-line tool (Debian package
#            "argon2", libargon2 20171227)
#   bcrypt   libxcrypt's crypt(3), through Python's crypt module (Python
#            3.12 or earlier: 3.13 removed it), plus the published OpenWall
#            crypt_blowfish test vectors
#   pbkdf2   Python 3's hashlib.pbkdf2_hmac, written in Django's and in
#            passlib's encodings
#
# Every input is fixed, so the output is the same on every run.
# Usage: sh gen-hashes.sh > hashes.txt
set -eu

cat <<'EOF'
# Password hash test vectors: scheme<TAB>password<TAB>encoded hash.
# Made by gen-hashes.sh beside this file; each group names the command that made it.
EOF

argon2v() { # mode password salt t m p len
	printf '%s\t%s\t' "argon2$1" "$2"
	printf '%s' "$2" | argon2 "$3" "-$1" -t "$4" -k "$5" -p "$6" -l "$7" -e
}
echo "# argon2: printf '%s' PASSWORD | argon2 SALT -id|-i -t T -k M -p P -l LEN -e"
echo "# The first two are the reference implementation's own test vectors."
argon2v id password somesalt 2 65536 1 32
argon2v i password somesalt 2 65536 1 32
argon2v id password saltsaltsaltsalt 2 19456 1 32
argon2v id 'lètmein' 'sel de mer' 1 64 1 16
argon2v id 'correct horse battery staple' 'a longer salt of 32 bytes.......' 3 512 4 64
argon2v id 'pässwörd😀' 12345678 4 256 2 128
argon2v i 'lètmein' 'sel de mer' 3 128 1 32
argon2v i 'correct horse battery staple' saltsaltsaltsalt 1 256 4 24

echo "# bcrypt: OpenWall crypt_blowfish wrapper.c test vectors (checked with libxcrypt)"
printf 'bcrypt\tU*U\t$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n'
printf 'bcrypt\tU*U*\t$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK\n'
printf 'bcrypt\tU*U*U\t$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a\n'
printf 'bcrypt\t0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored\t$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui\n'
printf 'bcrypt\t\t$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy\n'
echo "# bcrypt: python3 -c 'import crypt; print(crypt.crypt(PASSWORD, SETTING))'"
python3 -W ignore::DeprecationWarning - <<'EOF'
import crypt
for pw, setting in [
    ("password", "$2b$04$abcdefghijklmnopqrstuu"),
    ("password", "$2y$05$abcdefghijklmnopqrstuu"),
    ("lètmein", "$2y$04$0123456789ABCDEFGHIJKL"),
    ("pässwörd😀", "$2b$06$./ABCDEFGHIJKLMNOPQRSu"),
    ("correct horse battery staple", "$2a$04$zyxwvutsrqponmlkjihgfO"),
]:
    print("bcrypt\t%s\t%s" % (pw, crypt.crypt(pw, setting)))
EOF

echo "# Django: pbkdf2_sha256\$ITER\$SALT\$base64(hashlib.pbkdf2_hmac('sha256', PASSWORD, SALT, ITER))"
python3 - <<'EOF'
import base64, hashlib
for pw, salt, it in [
    ("lètmein", "seasalt", 1000),
    ("password", "Hx3vmVc2bNQ4k8OJ6Hkxqe", 20000),
    ("correct horse battery staple", "a1B2c3D4e5F6g7H8i9J0kL", 1),
    ("pässwörd😀", "Zq9Xv", 12345),
    ("", "emptypassword", 10),
]:
    dk = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt.encode(), it)
    print("pbkdf2_sha256\t%s\tpbkdf2_sha256$%d$%s$%s" % (pw, it, salt, base64.b64encode(dk).decode()))
EOF

echo "# passlib: \$pbkdf2-sha256\$ITER\$ab64(SALT)\$ab64(hashlib.pbkdf2_hmac('sha256', PASSWORD, SALT, ITER)),"
echo "# ab64 = base64 with '.' for '+' and no padding"
python3 - <<'EOF'
import base64, hashlib
def ab64(b):
    return base64.b64encode(b).rstrip(b"=").replace(b"+", b".").decode()
for pw, salt, it, n in [
    ("password", "fbefbe0102030405060708090a0b0c0d", 29000, 32),
    ("lètmein", "00112233445566778899aabbccddeeff", 2000, 32),
    ("correct horse battery staple", "fa7b3e", 1, 32),
    ("pässwörd😀", "0102030405060708", 5000, 64),
]:
    s = bytes.fromhex(salt)
    dk = hashlib.pbkdf2_hmac("sha256", pw.encode(), s, it, n)
    print("pbkdf2-sha256\t%s\t$pbkdf2-sha256$%d$%s$%s" % (pw, it, ab64(s), ab64(dk)))
EOF
