package risk

import "math"

// PSD2 RTS Art. 18 transaction risk analysis: the exemption threshold value
// a payment service provider may use is the largest whose reference fraud
// rate its own rate is equivalent to or below.
var traReference = [...]struct {
	limitCents     int64
	card, transfer float64 // reference fraud rates, percent
}{
	{50000, 0.01, 0.005},
	{25000, 0.06, 0.01},
	{10000, 0.13, 0.015},
}

// traLimit returns the TRA exemption threshold in euro cents earned by the
// configured fraud rate for the instrument, or 0 when none is earned.
func traLimit(c traConfig, inst Instrument) int64 {
	if !c.enabled {
		return 0
	}
	rate := c.creditTransfer
	if inst == InstrumentCard {
		rate = c.card
	}
	if math.IsNaN(rate) {
		return 0
	}
	for _, r := range traReference {
		ref := r.transfer
		if inst == InstrumentCard {
			ref = r.card
		}
		if rate <= ref {
			return r.limitCents
		}
	}
	return 0
}

// sinceLastSCA counts the payments (newest first) made after the most
// recent one authorised with SCA, and sums them in euro cents. ok is false
// when no SCA'd payment is in the history or an amount cannot be
// converted: the low-value counters are then unknown and the exemption must
// not be used.
func (p *Policy) sinceLastSCA(past []PaymentRecord) (count int, sum int64, ok bool) {
	for i := range past {
		if past[i].Strong {
			return count, sum, true
		}
		c, known := p.toEURCents(past[i].Amount, past[i].Currency)
		if !known {
			return 0, 0, false
		}
		count++
		sum += c
	}
	return 0, 0, false
}

// lowValueApplies applies PSD2 RTS Art. 16 to a payment of amount euro
// cents, given the count and sum of the payments since the last SCA. It
// takes the stricter reading: the payment itself counts towards both the
// cumulative amount and the number of payments, and both limits must hold.
func lowValueApplies(c lowValueConfig, amount int64, count int, sum int64, known bool) bool {
	return c.enabled && known &&
		amount <= c.maxEURCents &&
		count+1 <= c.maxCount &&
		sum+amount <= c.maxCumulativeCents
}

// exemption picks the PSD2 exemption for a payment of amount euro cents
// assessed at score, or explains why none applies.
func (p *Policy) exemption(pay *Payment, amount int64, score int, past []PaymentRecord, refused bool) (Exemption, string) {
	c := &p.payments
	switch {
	case refused:
		return ExemptionNone, "PSD2: this client accepts no exemption"
	case score > c.maxScore:
		return ExemptionNone, "PSD2: no exemption at this risk"
	}
	if c.trusted && pay.PayeeTrusted {
		return ExemptionTrustedPayee, ""
	}
	count, sum, known := p.sinceLastSCA(past)
	if lowValueApplies(c.lowValue, amount, count, sum, known) {
		return ExemptionLowValue, ""
	}
	limit := traLimit(c.tra, pay.Instrument)
	if limit > 0 && amount <= limit {
		return ExemptionTRA, ""
	}
	if limit > 0 {
		return ExemptionNone, "PSD2: " + eur(amount) + " is above the " + eur(limit) + " TRA threshold"
	}
	return ExemptionNone, "PSD2: no exemption covers " + eur(amount)
}
