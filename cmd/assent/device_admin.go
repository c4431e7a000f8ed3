package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/assent-auth/assent/adminclient"
)

// `assent device list|rename|revoke|unlock --user E`: the operator's view
// of a user's app devices and push lock, through the admin API.

func deviceList(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("device list", e)
	user := fs.String("user", "", "e-mail or user id")
	cl, _, err := c.clientWith(fs, args, 0, "needs --user E")
	if err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: device list needs --user E", errUsage)
	}
	ds, err := cl.ListAppDevices(ctx, *user)
	if err != nil {
		return userErr(*user, err)
	}
	lock, err := cl.GetPushLock(ctx, *user)
	if err != nil {
		return userErr(*user, err)
	}
	if c.json {
		if ds == nil {
			ds = []adminclient.Factor{}
		}
		return c.printJSON(map[string]any{"devices": ds, "push_lock": lock})
	}
	if len(ds) == 0 {
		fmt.Fprintf(e.stdout, "%s has no app devices.\n", *user)
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPLATFORM\tADDED\tLAST USED")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, d.Name, d.Platform, when(d.CreatedAt), when(d.LastUsedAt))
		}
		tw.Flush()
	}
	if lock.Locked {
		fmt.Fprintf(e.stdout, "Push approvals are locked after repeated denials until %s ('assent device unlock --user %s' lifts it).\n", when(lock.Until), *user)
	}
	return nil
}

func deviceRename(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("device rename", e)
	user := fs.String("user", "", "e-mail or user id")
	cl, pos, err := c.clientWith(fs, args, 2, "needs the device ID and the new NAME")
	if err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: device rename needs --user E", errUsage)
	}
	d, err := cl.RenameAppDevice(ctx, *user, pos[0], pos[1])
	if err != nil {
		if adminclient.IsNotFound(err) {
			return fmt.Errorf("%s has no app device %s, or there is no such user", *user, pos[0])
		}
		return err
	}
	if c.json {
		return c.printJSON(d)
	}
	fmt.Fprintf(e.stdout, "Renamed %s to %q.\n", d.ID, d.Name)
	return nil
}

func deviceRevoke(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("device revoke", e)
	user := fs.String("user", "", "e-mail or user id")
	cl, pos, err := c.clientWith(fs, args, 1, "needs the device ID (see 'assent device list --user E')")
	if err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: device revoke needs --user E", errUsage)
	}
	if err := cl.RevokeAppDevice(ctx, *user, pos[0]); err != nil {
		if adminclient.IsNotFound(err) {
			return fmt.Errorf("%s has no app device %s, or there is no such user", *user, pos[0])
		}
		return err
	}
	fmt.Fprintf(e.stdout, "Revoked %s of %s: its key no longer works.\n", pos[0], *user)
	return nil
}

func deviceUnlock(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("device unlock", e)
	user := fs.String("user", "", "e-mail or user id")
	cl, _, err := c.clientWith(fs, args, 0, "needs --user E")
	if err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: device unlock needs --user E", errUsage)
	}
	if err := cl.UnlockPush(ctx, *user); err != nil {
		if adminclient.IsNotFound(err) {
			return fmt.Errorf("push approvals of %s are not locked, or there is no such user", *user)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "Push approvals of %s are unlocked.\n", *user)
	return nil
}
