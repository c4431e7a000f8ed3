// Package risk owns adaptive authentication decisions: it scores a sign-in,
// payment, enrollment, recovery or admin event against the user's own
// history and a versioned policy, and says whether to allow, challenge (and
// to which acr, with which methods) or deny, applying PSD2 exemptions to
// payments. Bad input and unreadable history fail closed: they never allow.
//
// risk is pure: it does no I/O of its own except through the small History
// interface it declares, and it imports no other Assent package.
package risk
