package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/assent-auth/assent/adminclient"
)

// userFactors runs `assent user factors E|ID`.
func userFactors(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user factors", e)
	cl, pos, err := c.clientWith(fs, args, 1, "needs one e-mail or user id")
	if err != nil {
		return err
	}
	fsList, err := cl.ListFactors(ctx, pos[0])
	if err != nil {
		return userErr(pos[0], err)
	}
	if c.json {
		if fsList == nil {
			fsList = []adminclient.Factor{}
		}
		return c.printJSON(fsList)
	}
	if len(fsList) == 0 {
		fmt.Fprintf(e.stdout, "%s has no passkeys, authenticator app or recovery codes.\n", pos[0])
		return nil
	}
	printFactors(e.stdout, fsList)
	return nil
}

func printFactors(w io.Writer, fs []adminclient.Factor) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNAME\tDETAILS\tADDED\tLAST USED")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, f.Kind, f.Name, factorDetails(f), when(f.CreatedAt), when(f.LastUsedAt))
	}
	tw.Flush()
}

func factorDetails(f adminclient.Factor) string {
	var d []string
	switch f.Kind {
	case "passkey":
		if f.Synced {
			d = append(d, "synced")
		} else {
			d = append(d, "device-bound")
		}
		if f.UserVerified {
			d = append(d, "user-verifying")
		}
		if f.Suspect {
			d = append(d, "SUSPECT (sign counter went backwards; refused)")
		}
	case "totp":
		if f.Active {
			d = append(d, "active")
		} else {
			d = append(d, "enrollment not confirmed")
		}
	case "recovery":
		d = append(d, fmt.Sprintf("%d of 10 left", f.Remaining))
	}
	return strings.Join(d, ", ")
}

// userRemoveFactor runs `assent user remove-factor E|ID FACTOR-ID`.
func userRemoveFactor(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user remove-factor", e)
	cl, pos, err := c.clientWith(fs, args, 2, "needs an e-mail or user id and a factor id (see 'assent user factors')")
	if err != nil {
		return err
	}
	res, err := cl.RemoveFactor(ctx, pos[0], pos[1])
	if err != nil {
		if adminclient.IsNotFound(err) {
			return fmt.Errorf("%s has no factor %s, or there is no such user", pos[0], pos[1])
		}
		return err
	}
	if c.json {
		return c.printJSON(res)
	}
	fmt.Fprintf(e.stdout, "Removed %s %s (%s) of %s.\n", res.Removed.Kind, res.Removed.ID, res.Removed.Name, pos[0])
	if res.RecoveryCodesRemoved {
		fmt.Fprintln(e.stdout, "It was the last passkey or authenticator app, so the recovery codes were removed too.")
	}
	return nil
}
