package risk

// PrimaryReason returns the code of the reason that weighs most in the
// decision: one that forces it (a denylisted network, a failed assessment)
// first, otherwise the reason that added most to the score, the earliest
// on a tie. It is empty when no reason added anything. Codes carry no
// personal data, so a caller may show one to a relying party.
func (a Assessment) PrimaryReason() Code {
	for _, c := range []Code{CodeIPDenylisted, CodeInvalidEvent, CodeHistoryFailed} {
		if a.Has(c) {
			return c
		}
	}
	var best Reason
	for _, r := range a.Reasons {
		if r.Weight > best.Weight {
			best = r
		}
	}
	return best.Code
}
