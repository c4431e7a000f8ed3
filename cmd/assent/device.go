package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/boombuler/barcode/qr"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
)

// deviceCmd runs `assent device ...`: the operator's enrollment code, and
// the reference app device (activate, run).
func deviceCmd(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: device needs a subcommand: enroll, activate, run, list, rename, revoke, unlock", errUsage)
	}
	switch args[0] {
	case "enroll":
		return deviceEnroll(ctx, args[1:], e)
	case "activate":
		return deviceActivate(ctx, args[1:], e)
	case "run":
		return deviceRun(ctx, args[1:], e)
	case "list":
		return deviceList(ctx, args[1:], e)
	case "rename":
		return deviceRename(ctx, args[1:], e)
	case "revoke":
		return deviceRevoke(ctx, args[1:], e)
	case "unlock":
		return deviceUnlock(ctx, args[1:], e)
	}
	return fmt.Errorf("%w: unknown command 'device %s'", errUsage, args[0])
}

// deviceEnroll prints a one-time enrollment code for a user, with a QR
// code the app can scan from the terminal.
func deviceEnroll(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("device enroll", e)
	user := fs.String("user", "", "e-mail or user id")
	mailIt := fs.Bool("mail", false, "mail the code (and its QR code) to the user's verified address instead of showing it")
	cl, _, err := c.clientWith(fs, args, 0, "needs --user E")
	if err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: device enroll needs --user E", errUsage)
	}
	if *mailIt {
		en, err := cl.MailAppEnrollment(ctx, *user)
		if err != nil {
			return userErr(*user, err)
		}
		if c.json {
			return c.printJSON(en)
		}
		fmt.Fprintf(e.stdout, "Enrollment code mailed to %s (good once, until %s).\n", en.SentTo, en.ExpiresAt.Local().Format("15:04:05"))
		return nil
	}
	en, err := cl.StartAppEnrollment(ctx, *user)
	if err != nil {
		return userErr(*user, err)
	}
	if c.json {
		return c.printJSON(en)
	}
	printQR(e.stdout, en.Code)
	fmt.Fprintf(e.stdout, "Enrollment code: %s (good once, until %s)\n", en.Code, en.ExpiresAt.Local().Format("15:04:05"))
	fmt.Fprintf(e.stdout, "On the device: assent device activate %s --device-file device.json\n", en.Code)
	return nil
}

// printQR draws s as a QR code with half-block characters, two modules
// per character cell, with a quiet zone.
func printQR(w io.Writer, s string) {
	bc, err := qr.Encode(s, qr.M, qr.Auto)
	if err != nil {
		return
	}
	b := bc.Bounds()
	dark := func(x, y int) bool {
		if x < b.Min.X || y < b.Min.Y || x >= b.Max.X || y >= b.Max.Y {
			return false
		}
		r, _, _, _ := bc.At(x, y).RGBA()
		return r == 0
	}
	var sb strings.Builder
	for y := b.Min.Y - 2; y < b.Max.Y+2; y += 2 {
		for x := b.Min.X - 2; x < b.Max.X+2; x++ {
			top, bottom := dark(x, y), dark(x, y+1)
			switch {
			case top && bottom:
				sb.WriteString(" ")
			case top:
				sb.WriteString("▄")
			case bottom:
				sb.WriteString("▀")
			default:
				sb.WriteString("█")
			}
		}
		sb.WriteString("\n")
	}
	io.WriteString(w, sb.String())
}

func serverURL(c *common) string {
	if c.server != "" {
		return c.server
	}
	if s := c.e.getenv("ASSENT_SERVER"); s != "" {
		return s
	}
	return "http://localhost:8080"
}

// deviceActivate enrolls this terminal as an app device with a code.
func deviceActivate(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("device activate", e)
	file := fs.String("device-file", "", "where the device's key is kept (created with mode 0600)")
	name := fs.String("name", "Terminal", "the device's name on the user's security page")
	pos, err := parse(fs, args, 1, "needs the enrollment CODE")
	if err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("%w: device activate needs --device-file F", errUsage)
	}
	if _, err := os.Stat(*file); err == nil {
		return fmt.Errorf("%s exists; choose another --device-file", *file)
	}
	id, err := deviceclient.Activate(ctx, nil, serverURL(c), pos[0], *name, "cli")
	if err != nil {
		return err
	}
	if err := id.Save(*file); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Enrolled as %s (%s). Key kept in %s.\n", id.Name, id.DeviceID, *file)
	return nil
}

// deviceRun connects and answers requests, from the keyboard (a card per
// request, devicecard.go) or by flags.
func deviceRun(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("device run", e)
	file := fs.String("device-file", "", "the device file written by activate")
	auto := fs.String("auto", "", "answer every request without asking: approve or deny")
	pick := fs.Int("pick", 0, "with --auto approve: the number to pick")
	notMe := fs.Bool("not-me", false, "with --auto deny: report \"this wasn't me\"")
	once := fs.Bool("once", false, "exit after the first answered request")
	if _, err := parse(fs, args, 0, "takes no arguments"); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("%w: device run needs --device-file F", errUsage)
	}
	if *auto != "" && *auto != "approve" && *auto != "deny" {
		return fmt.Errorf("%w: --auto is approve or deny", errUsage)
	}
	id, err := deviceclient.Load(*file)
	if err != nil {
		return err
	}
	if c.server != "" {
		id.Server = c.server
	}
	if *auto == "" {
		return deviceInteractive(ctx, id, e)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	say := func(format string, a ...any) { fmt.Fprintf(e.stdout, format, a...) }
	say("Connected as %s; waiting for requests. Ctrl-C to stop.\n", id.DeviceID)
	handler := func(ctx context.Context, req push.RequestView) (deviceclient.Answer, bool) {
		printCard(say, req)
		if *auto == "approve" {
			return deviceclient.Answer{Approve: true, Number: *pick}, true
		}
		return deviceclient.Answer{NotMe: *notMe}, true
	}
	report := func(m push.Message) {
		switch m.Type {
		case push.MsgResult:
			if m.OK {
				say("Sent: %s.\n", m.Status)
			} else {
				say("Refused by the server: %s.\n", m.Reason)
			}
			if *once {
				cancel()
			}
		case push.MsgResolved:
			say("Request %s was %s.\n", m.RequestID, m.Status)
		case push.MsgError:
			say("Connection lost (%s); reconnecting.\n", m.Reason)
		}
	}
	err = id.Run(ctx, handler, report)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// deviceInteractive shows each request as a card and takes the decision
// from the keyboard: → approves (then pick the number), ← denies.
func deviceInteractive(ctx context.Context, id *deviceclient.Identity, e env) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	replies := make(chan deviceclient.Reply)
	reply := func(r deviceclient.Reply) tea.Cmd {
		return func() tea.Msg {
			select {
			case replies <- r:
			case <-ctx.Done():
			}
			return nil
		}
	}
	p := tea.NewProgram(newCardModel(id.DeviceID, time.Now, reply), tea.WithContext(ctx),
		tea.WithInput(e.stdin), tea.WithOutput(e.stdout))
	go func() {
		id.RunLive(ctx, func(m push.Message) { p.Send(serverMsg(m)) }, replies)
	}()
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func printCard(say func(string, ...any), req push.RequestView) {
	say("\n┌──────────────────────────────────────────\n")
	if req.Kind == "payment" {
		say("│ Approve a payment for %s\n", req.RPName)
		say("│ Amount: %s %s\n│ Payee:  %s\n", req.Amount, req.Currency, req.Payee)
	} else {
		say("│ Sign in to %s?\n", req.RPName)
	}
	say("│ From:   %s %s\n│ Browser: %s\n", req.IP, req.Country, clipText(req.Browser, 60))
	say("│ Expires: %s\n", req.ExpiresAt.Local().Format("15:04:05"))
	if len(req.Choices) == 3 {
		say("│ Pick the number the browser shows: %d   %d   %d\n", req.Choices[0], req.Choices[1], req.Choices[2])
	}
	say("└──────────────────────────────────────────\n")
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:max(0, n-1)]) + "…"
	}
	return s
}
