package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// userExport prints (or writes to --out) everything the server holds about
// a user, as JSON.
func userExport(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user export", e)
	out := fs.String("out", "", "write to this file (mode 0600) instead of standard output")
	cl, pos, err := c.clientWith(fs, args, 1, "needs one e-mail or user id")
	if err != nil {
		return err
	}
	raw, err := cl.ExportUser(ctx, pos[0])
	if err != nil {
		return userErr(pos[0], err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	if *out == "" {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Wrote the data of %s to %s.\n", pos[0], *out)
	return nil
}

// userErase erases a user after the operator types the user again (or
// passes --yes).
func userErase(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user erase", e)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	cl, pos, err := c.clientWith(fs, args, 1, "needs one e-mail or user id")
	if err != nil {
		return err
	}
	if !*yes {
		fmt.Fprintf(e.stderr, "Erasing %s deletes their account and personal data for good.\nType %s again to confirm: ", pos[0], pos[0])
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if strings.TrimSpace(line) != pos[0] {
			return fmt.Errorf("not confirmed; nothing was erased")
		}
	}
	res, err := cl.EraseUser(ctx, pos[0])
	if err != nil {
		return userErr(pos[0], err)
	}
	if c.json {
		return c.printJSON(res)
	}
	fmt.Fprintf(e.stdout, "Erased %s: account, factors, devices, sessions, tokens, attributes and consents deleted; %d audit events now name %s.\n",
		pos[0], res.AuditEvents, res.Pseudonym)
	return nil
}
