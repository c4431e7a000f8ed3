package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/assent-auth/assent/risk/eval"
)

// riskCmd runs `assent risk explain|policy|eval`.
func riskCmd(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: risk needs a subcommand: explain, policy, eval", errUsage)
	}
	switch args[0] {
	case "explain":
		return riskExplain(ctx, args[1:], e)
	case "policy":
		return riskPolicy(ctx, args[1:], e)
	case "eval":
		return riskEval(ctx, args[1:], e)
	}
	return fmt.Errorf("%w: unknown command 'risk %s'", errUsage, args[0])
}

func riskExplain(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("risk explain", e)
	user := fs.String("user", "", "e-mail or id of the user (required)")
	limit := fs.Int("limit", 10, "how many recent assessments")
	if _, err := parse(fs, args, 0, "takes --user E"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: risk explain needs --user", errUsage)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	as, err := cl.UserRisk(ctx, *user, *limit)
	if err != nil {
		return userErr(*user, err)
	}
	if c.json {
		return c.printJSON(as)
	}
	if len(as) == 0 {
		fmt.Fprintf(e.stdout, "No risk assessments recorded for %s yet.\n", *user)
		return nil
	}
	for i, a := range as {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "%s  %s  score %d (%s) -> %s", a.Time.Local().Format("2006-01-02 15:04:05"), a.Event, a.Score, a.Level, a.Decision)
		if a.ACR != "" {
			fmt.Fprintf(e.stdout, " to %s [%s]", a.ACR, a.Methods)
		}
		if a.Exemption != "" {
			fmt.Fprintf(e.stdout, " (exemption %s)", a.Exemption)
		}
		fmt.Fprintf(e.stdout, "\n  from %s %s, policy %s\n", a.IP, a.Country, a.PolicyVersion)
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		for _, r := range a.Reasons {
			fmt.Fprintf(tw, "  %+d\t%s\t%s\n", r.Weight, r.Code, r.Detail)
		}
		tw.Flush()
		if len(a.Reasons) == 0 {
			fmt.Fprintln(e.stdout, "  no risk signals")
		}
	}
	return nil
}

func riskPolicy(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("risk policy", e)
	if _, err := parse(fs, args, 0, "takes no arguments"); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	p, err := cl.RiskPolicy(ctx)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(p)
	}
	fmt.Fprintf(e.stdout, "Active risk policy: %s\n\n%s", p.Version, p.Source)
	return nil
}

// riskEval runs the evaluation harness locally: labelled synthetic traffic
// through the engine with a policy, reporting detection and friction.
func riskEval(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("risk eval", e)
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same traffic")
	customers := fs.Int("customers", 1000, "genuine customers to simulate")
	policyFile := fs.String("policy", "", "risk policy file (default: the shipped policy)")
	svgFile := fs.String("svg", "", "also write detection against friction as the challenge threshold moves to this SVG file")
	countryLevel := fs.Bool("country-level", false, "locate addresses to country precision only, as without a city database")
	if _, err := parse(fs, args, 0, "takes no arguments"); err != nil {
		return err
	}
	o := eval.Options{Seed: *seed, Customers: *customers, CountryLevel: *countryLevel}
	if *policyFile != "" {
		b, err := os.ReadFile(*policyFile)
		if err != nil {
			return err
		}
		o.Policy = b
	}
	fmt.Fprintf(e.stderr, "simulating %d customers and their attackers...\n", *customers)
	rep, err := eval.Run(ctx, o)
	if err != nil {
		return err
	}
	if *svgFile != "" {
		fmt.Fprintln(e.stderr, "sweeping the challenge threshold...")
		pts, err := eval.Sweep(ctx, o, eval.DefaultThresholds())
		if err != nil {
			return err
		}
		if err := os.WriteFile(*svgFile, eval.SVG("Detection against friction, policy "+rep.PolicyVersion, pts), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s\n", *svgFile)
	}
	if c.json {
		return c.printJSON(rep)
	}
	fmt.Fprint(e.stdout, rep.Table())
	return nil
}
