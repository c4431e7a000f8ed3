package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/assent-auth/assent/adminclient"
)

// riskScenario scores events through the server's dry-run assessment
// (POST /admin/v1/users/{user}/risk/assess): the engine with the active
// policy, the user's history read from the store and the address located.
// Half are sign-ins, half payments, from a few countries; each user signed
// in once through the pages at setup, so there is history to read.
type riskScenario struct {
	*fixture
	admin *adminclient.Client
	n     []int // per worker: operations so far
}

// riskIPs are public addresses in a few countries (FI, US, GB, DE).
var riskIPs = []string{"193.166.3.1", "8.8.8.8", "81.2.69.142", "141.1.1.1"}

func (s *riskScenario) Setup(ctx context.Context, workers int) error {
	if err := s.setup(ctx, workers, false); err != nil {
		return err
	}
	s.n = make([]int, workers)
	a := *s.t.Admin
	a.HTTP = &http.Client{Transport: s.t.Transport}
	s.admin = &a
	var wg sync.WaitGroup
	errs := make(chan error, len(s.users))
	for i, u := range s.users {
		wg.Go(func() {
			page, _ := url.Parse(s.t.Base + "/signin")
			if _, err := s.browsers[i].signIn(ctx, page, u.email, u.password); err != nil {
				errs <- fmt.Errorf("first sign-in: %w", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (s *riskScenario) Do(ctx context.Context, w int) error {
	i := s.n[w]
	s.n[w]++
	ev := adminclient.RiskEvent{IP: riskIPs[(w+i)%len(riskIPs)],
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"}
	if i%2 == 1 {
		ev.Kind = "payment"
		ev.Payment = &adminclient.RiskPayment{Amount: int64(500 + 1000*(i%40)), Currency: "EUR", Payee: fmt.Sprintf("merchant-%d", i%7)}
	}
	out, err := s.admin.AssessRisk(ctx, s.user(w).email, ev)
	if err != nil {
		var p *adminclient.Problem
		if errors.As(err, &p) {
			return opErr(fmt.Sprintf("assess_http_%d", p.Status), "%s", p.Error())
		}
		return err
	}
	if out.Assessment.Decision == "" || out.Assessment.PolicyVersion == "" {
		return opErr("assess_empty", "no decision in the answer")
	}
	return nil
}
