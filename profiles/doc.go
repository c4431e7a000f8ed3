// Package profiles owns identities: creating, reading, updating, locking and
// deleting users; normalising and indexing e-mail addresses; hashing and
// verifying passwords (argon2id, and legacy bcrypt, PBKDF2 and argon2 hashes
// that are rehashed on sign-in); the password policy; and sealing each user's
// personal data under a per-user key wrapped by the master key.
//
// It knows nothing of HTTP and must never import authserver.
package profiles
