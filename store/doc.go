// Package store defines Assent's storage contract: the persisted types, the
// sentinel errors callers branch on, and the Store interface that every
// backend implements. Backends live in sub-packages (store/bolt, later
// store/postgres) and are checked by the shared conformance suite in
// store/storetest.
//
// store imports no other Assent package; every other package may import it.
// It holds data as it is persisted. Identity data (e-mail, name, profile
// attributes) arrives already sealed by the profiles package, so no backend
// ever sees it in the clear. The security history the risk engine reads
// (IP addresses, coarse locations, device ids, payees) is kept in the clear
// so it can be scored quickly, and is erased with the user.
package store
