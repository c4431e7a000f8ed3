package main

import (
	"context"

	"github.com/assent-auth/assent/tui"
)

// consoleCmd runs `assent console`: the operator console in the terminal.
func consoleCmd(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("console", e)
	cl, _, err := c.clientWith(fs, args, 0, "takes no arguments")
	if err != nil {
		return err
	}
	return tui.Run(ctx, tui.Options{API: cl, Server: cl.Base})
}
