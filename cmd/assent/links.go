package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/assent-auth/assent/adminclient"
)

// userLinks runs `assent user links E|ID`.
func userLinks(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user links", e)
	cl, pos, err := c.clientWith(fs, args, 1, "needs one e-mail or user id")
	if err != nil {
		return err
	}
	ls, err := cl.UserLinks(ctx, pos[0])
	if err != nil {
		return userErr(pos[0], err)
	}
	if c.json {
		if ls == nil {
			ls = []adminclient.UpstreamLink{}
		}
		return c.printJSON(ls)
	}
	if len(ls) == 0 {
		fmt.Fprintf(e.stdout, "%s has no linked upstream accounts.\n", pos[0])
		return nil
	}
	printLinks(e.stdout, ls)
	return nil
}

func printLinks(w io.Writer, ls []adminclient.UpstreamLink) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROVIDER\tNAME\tLINKED")
	for _, l := range ls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.ID, l.Provider, l.Name, when(l.CreatedAt))
	}
	tw.Flush()
}

// userUnlink runs `assent user unlink E|ID LINK-ID [--force]`.
func userUnlink(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user unlink", e)
	force := fs.Bool("force", false, "remove the link even if it is the user's only way to sign in")
	cl, pos, err := c.clientWith(fs, args, 2, "needs an e-mail or user id and a link id (see 'assent user links')")
	if err != nil {
		return err
	}
	l, err := cl.Unlink(ctx, pos[0], pos[1], *force)
	if err != nil {
		if adminclient.IsNotFound(err) {
			return fmt.Errorf("%s has no linked account %s, or there is no such user", pos[0], pos[1])
		}
		return err
	}
	if c.json {
		return c.printJSON(l)
	}
	fmt.Fprintf(e.stdout, "Unlinked %s (%s) from %s; the user was told by mail.\n", l.Name, l.Provider, pos[0])
	return nil
}
