package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/assent-auth/assent/loadgen"
)

// benchCmd runs `assent bench`: load on a running server, scenario by
// scenario, with what it measured on standard output and a progress line
// on standard error.
func benchCmd(ctx context.Context, args []string, e env) error {
	if len(args) > 0 && args[0] == "seed" {
		return benchSeedCmd(ctx, args[1:], e)
	}
	fs, c := newFlags("bench", e)
	scenarios := fs.String("scenario", "", "scenario, a comma-separated list, or all: "+strings.Join(loadgen.Scenarios, ", "))
	concurrency := fs.Int("concurrency", 8, "workers: operations in flight at most")
	rate := fs.Float64("rate", 0, "open-loop target in operations per second (0: closed loop)")
	duration := fs.Duration("duration", 10*time.Second, "measured time per scenario")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured time before it")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on one operation")
	users := fs.Int("users", 16, "users to create at most (workers share them); ciba and push: users with a device each, at least one per worker")
	devices := fs.Int("devices", 1000, "push: app devices to keep connected, most of them idle")
	pid := fs.Int("pid", 0, "server process to sample CPU and memory from (default: the local process listening on the server's port)")
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	cl, _, err := c.clientWith(fs, args, 0, "takes no arguments")
	if err != nil {
		return err
	}
	names, err := benchScenarios(*scenarios)
	if err != nil {
		return err
	}
	if *concurrency < 1 || *duration <= 0 || *rate < 0 || *warmup < 0 || *users < 1 || *devices < 1 {
		return fmt.Errorf("%w: --concurrency, --users and --devices must be at least 1, --duration positive, --rate and --warmup not negative", errUsage)
	}
	if c.json && *markdown {
		return fmt.Errorf("%w: --json and --markdown exclude each other", errUsage)
	}
	serverPID := *pid
	if serverPID == 0 {
		serverPID = localServerPID(cl.Base)
		if serverPID == 0 {
			fmt.Fprintln(e.stderr, "assent bench: the server is not a local process this user can see; server CPU and memory are not sampled (use --pid)")
		}
	}
	inPlace := false
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(f.Fd()) {
		inPlace = true
	}
	opts := loadgen.Options{Concurrency: *concurrency, Rate: *rate, Duration: *duration, Warmup: *warmup,
		Timeout: *timeout, PID: serverPID, Progress: e.stderr, InPlace: inPlace}
	tr := loadgen.NewTransport(*concurrency)
	if *markdown {
		loadgen.WriteMarkdownHeader(e.stdout)
	}
	var failed []string
	for _, name := range names {
		sc, err := loadgen.New(name, loadgen.Target{Base: cl.Base, Admin: cl, Transport: tr, Users: *users,
			Devices: *devices, PID: serverPID})
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		res, err := loadgen.Run(ctx, name, sc, opts)
		switch {
		case errors.Is(err, loadgen.ErrUnsupported):
			res = &loadgen.Result{Scenario: name, Skipped: loadgen.SkipReason(err)}
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(e.stderr, "assent bench: %s: %v\n", name, err)
			failed = append(failed, name)
			continue
		}
		switch {
		case c.json:
			b, _ := json.Marshal(res)
			fmt.Fprintln(e.stdout, string(b))
		case *markdown:
			loadgen.WriteMarkdownRow(e.stdout, res)
		default:
			loadgen.WriteText(e.stdout, res)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s could not run", strings.Join(failed, ", "))
	}
	return nil
}

func benchScenarios(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: bench needs --scenario (%s, or all)", errUsage, strings.Join(loadgen.Scenarios, ", "))
	}
	if s == "all" {
		return loadgen.Scenarios, nil
	}
	var out []string
	for n := range strings.SplitSeq(s, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(loadgen.Scenarios, n) {
			return nil, fmt.Errorf("%w: unknown scenario %q (known: %s)", errUsage, n, strings.Join(loadgen.Scenarios, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// localServerPID finds the process serving base when it is on this
// machine; 0 when it cannot.
func localServerPID(base string) int {
	u, err := url.Parse(base)
	if err != nil {
		return 0
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return 0
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	pid, err := loadgen.ListenerPID(p)
	if err != nil {
		return 0
	}
	return pid
}
