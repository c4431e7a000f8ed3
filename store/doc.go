// Package store defines Assent's storage contract: the persisted types, the
// sentinel errors callers branch on, and the Store interface that every
// backend implements. Backends live in sub-packages (store/bolt, later
// store/postgres) and are checked by the shared conformance suite in
// store/storetest.
//
// store imports no other Assent package; every other package may import it.
// It holds data as it is persisted: personal data arrives here already
// sealed by the profiles package, so no backend ever sees plaintext PII.
package store
