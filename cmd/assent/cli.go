package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/assent-auth/assent/adminclient"
)

// env is what a command may touch, so tests can run commands in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

const usage = `assent is the operator's tool for an Assent identity server.

Usage:
  assent user create --email E [--name N] [--password-stdin] [--unverified]
  assent user show E|ID
  assent user list
  assent user lock E|ID
  assent user unlock E|ID
  assent user delete E|ID
  assent user import FILE      (JSON lines; - reads standard input)
  assent user factors E|ID     passkeys, authenticator app, recovery codes
  assent user remove-factor E|ID FACTOR-ID
  assent user export E|ID [--out FILE]  everything held about the user, as JSON
  assent user erase E|ID [--yes]        delete the account and personal data for good
  assent user links E|ID                linked upstream (sign in with ...) accounts
  assent user unlink E|ID LINK-ID [--force]  remove one; --force even if it is the only way in
  assent audit [--after SEQ] [--limit N]
  assent client create --id ID --redirect-uri URI [--public] [--min-acr ACR]
        [--post-logout-redirect-uri URI] [--scope S] [--grant-type G] [--jwks FILE | --jwks-uri URL]
        [--id-token-alg RS256] [--first-party] [--max-auth-age 5m]
                                register an OpenID Connect client; prints its secret once
  assent client list | show ID | delete ID | rotate-secret ID
  assent risk explain --user E  recent risk assessments with every reason
  assent risk policy            the active risk policy and its version
  assent risk eval [--seed N] [--svg FILE]
                                detection against friction on synthetic traffic
  assent device enroll --user E [--mail]  one-time code (and QR) to enroll a user's app device;
                                --mail sends it to the user instead of showing it
  assent device activate CODE --device-file F [--name N]
                                enroll this terminal as an app device (reference app)
  assent device run --device-file F [--auto approve|deny --pick N [--not-me]] [--once]
                                answer approval requests: a card each; → approves (pick
                                the number), ← denies (or "this wasn't me")
  assent device list --user E   a user's app devices and push lock
  assent device rename --user E ID NAME | revoke --user E ID | unlock --user E
  assent console                live sign-ins and risk decisions, users, overview
  assent bench --scenario S[,S...]|all [--concurrency N] [--rate R] [--duration D] [--warmup D]
                                load the server (signin, oidc-code, refresh, client-credentials,
                                introspect, risk) and report throughput, latency, errors, server CPU
                                and RSS; --json or --markdown for scripts

Flags for every command:
  --server URL      server base URL (env ASSENT_SERVER; default http://localhost:8080)
  --token-file F    admin token file (default ./data/admin.token)
                    (env ASSENT_TOKEN gives the token itself)
  --json            print JSON for scripts

Example:
  printf 'correct horse battery staple\n' | assent user create --email ada@example.com --name Ada --password-stdin
`

// errUsage marks a mistake in the command line (exit code 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, e env) int {
	err := dispatch(ctx, args, e)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(e.stderr, "assent:", strings.TrimPrefix(err.Error(), "usage: "))
		fmt.Fprintln(e.stderr, "Run 'assent help' for usage.")
		return 2
	default:
		fmt.Fprintln(e.stderr, "assent:", err)
		return 1
	}
}

func dispatch(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	switch args[0] {
	case "user":
		if len(args) < 2 {
			return fmt.Errorf("%w: user needs a subcommand: create, show, list, lock, unlock, delete, import, factors, remove-factor, export, erase", errUsage)
		}
		cmd, ok := userCommands[args[1]]
		if !ok {
			return fmt.Errorf("%w: unknown command 'user %s'", errUsage, args[1])
		}
		return cmd(ctx, args[2:], e)
	case "audit":
		return auditCmd(ctx, args[1:], e)
	case "risk":
		return riskCmd(ctx, args[1:], e)
	case "client":
		return clientCmd(ctx, args[1:], e)
	case "device":
		return deviceCmd(ctx, args[1:], e)
	case "bench":
		return benchCmd(ctx, args[1:], e)
	case "console":
		return consoleCmd(ctx, args[1:], e)
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

var userCommands = map[string]func(context.Context, []string, env) error{
	"create":        userCreate,
	"show":          userShow,
	"list":          userList,
	"lock":          userLock,
	"unlock":        userUnlock,
	"delete":        userDelete,
	"import":        userImport,
	"factors":       userFactors,
	"remove-factor": userRemoveFactor,
	"export":        userExport,
	"erase":         userErase,
	"links":         userLinks,
	"unlink":        userUnlink,
}

// common holds the flags every command takes.
type common struct {
	server    string
	tokenFile string
	json      bool
	e         env
}

func newFlags(name string, e env) (*flag.FlagSet, *common) {
	c := &common{e: e}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&c.server, "server", "", "server base URL (env ASSENT_SERVER)")
	fs.StringVar(&c.tokenFile, "token-file", "./data/admin.token", "admin token file")
	fs.BoolVar(&c.json, "json", false, "print JSON")
	return fs, c
}

// parse parses flags that may stand before or after positional arguments
// and checks the count of positionals.
func parse(fs *flag.FlagSet, args []string, positionals int, what string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positionals {
		return nil, fmt.Errorf("%w: %s %s", errUsage, fs.Name(), what)
	}
	return pos, nil
}

// clientWith parses args (n positionals, described by what for the usage
// error) and returns a client with them.
func (c *common) clientWith(fs *flag.FlagSet, args []string, n int, what string) (*adminclient.Client, []string, error) {
	pos, err := parse(fs, args, n, what)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.client()
	return cl, pos, err
}

func (c *common) client() (*adminclient.Client, error) {
	server := c.server
	if server == "" {
		server = c.e.getenv("ASSENT_SERVER")
	}
	if server == "" {
		server = "http://localhost:8080"
	}
	token := c.e.getenv("ASSENT_TOKEN")
	if token == "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("no admin token: %w (set ASSENT_TOKEN or --token-file; assentd writes it to <data>/admin.token on first start)", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return adminclient.New(server, token), nil
}

func (c *common) printJSON(v any) error {
	enc := json.NewEncoder(c.e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// userErr turns a 404 into a message naming the user.
func userErr(user string, err error) error {
	if adminclient.IsNotFound(err) {
		return fmt.Errorf("no such user: %s", user)
	}
	return err
}

func userCreate(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user create", e)
	var nu adminclient.NewUser
	var pwStdin bool
	fs.StringVar(&nu.Email, "email", "", "e-mail address (required)")
	fs.StringVar(&nu.Name, "name", "", "display name")
	fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	fs.BoolVar(&nu.Unverified, "unverified", false, "mark the e-mail as not yet verified")
	if _, err := parse(fs, args, 0, "takes no arguments; use --email"); err != nil {
		return err
	}
	if nu.Email == "" {
		return fmt.Errorf("%w: user create needs --email", errUsage)
	}
	if pwStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		nu.Password = strings.TrimRight(line, "\r\n")
		if nu.Password == "" {
			return errors.New("--password-stdin: standard input is empty")
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	u, err := cl.CreateUser(ctx, nu)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(u)
	}
	fmt.Fprintf(e.stdout, "Created user %s (%s).\n", u.Email, u.ID)
	if !u.HasPassword {
		fmt.Fprintln(e.stdout, "No password set: the user cannot sign in with a password yet.")
	}
	return nil
}

func userShow(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user show", e)
	cl, pos, err := c.clientWith(fs, args, 1, "needs one e-mail or user id")
	if err != nil {
		return err
	}
	u, err := cl.GetUser(ctx, pos[0])
	if err != nil {
		return userErr(pos[0], err)
	}
	if c.json {
		return c.printJSON(u)
	}
	printUser(e.stdout, u)
	if ls, err := cl.UserLinks(ctx, u.ID); err == nil && len(ls) > 0 {
		fmt.Fprintln(e.stdout, "Linked accounts:")
		printLinks(e.stdout, ls)
	}
	return nil
}

func printUser(w io.Writer, u adminclient.User) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("ID", u.ID)
	row("E-mail", u.Email)
	if u.Name != "" {
		row("Name", u.Name)
	}
	row("E-mail verified", yesNo(u.EmailVerified))
	row("Password", map[bool]string{true: "set", false: "none"}[u.HasPassword])
	row("Status", status(u))
	row("Failed sign-ins", fmt.Sprint(u.FailedSignIns))
	row("Last sign-in", when(u.LastSignIn))
	row("Created", when(u.CreatedAt))
	tw.Flush()
}

func status(u adminclient.User) string {
	switch {
	case u.Locked:
		return "locked by an operator"
	case time.Now().Before(u.LockedUntil):
		return "temporarily locked until " + u.LockedUntil.Local().Format("2006-01-02 15:04:05")
	}
	return "active"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func userList(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user list", e)
	if _, err := parse(fs, args, 0, "takes no arguments"); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var all []adminclient.User
	after := ""
	for {
		us, next, err := cl.ListUsers(ctx, after, 500)
		if err != nil {
			return err
		}
		all = append(all, us...)
		if next == "" {
			break
		}
		after = next
	}
	if c.json {
		if all == nil {
			all = []adminclient.User{}
		}
		return c.printJSON(all)
	}
	if len(all) == 0 {
		fmt.Fprintln(e.stdout, "No users yet. Create one with: assent user create --email E --password-stdin")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "E-MAIL\tNAME\tSTATUS\tLAST SIGN-IN\tID")
	for _, u := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, status(u), when(u.LastSignIn), u.ID)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%d %s\n", len(all), plural(len(all), "user", "users"))
	return nil
}

func userLock(ctx context.Context, args []string, e env) error {
	return userAction(ctx, args, e, "user lock", "Locked", (*adminclient.Client).LockUser)
}

func userUnlock(ctx context.Context, args []string, e env) error {
	return userAction(ctx, args, e, "user unlock", "Unlocked", (*adminclient.Client).UnlockUser)
}

func userAction(ctx context.Context, args []string, e env, name, verb string, act func(*adminclient.Client, context.Context, string) (adminclient.User, error)) error {
	fs, c := newFlags(name, e)
	cl, pos, err := c.clientWith(fs, args, 1, "needs one e-mail or user id")
	if err != nil {
		return err
	}
	u, err := act(cl, ctx, pos[0])
	if err != nil {
		return userErr(pos[0], err)
	}
	if c.json {
		return c.printJSON(u)
	}
	fmt.Fprintf(e.stdout, "%s %s (%s).\n", verb, u.Email, u.ID)
	return nil
}

func userDelete(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user delete", e)
	cl, pos, err := c.clientWith(fs, args, 1, "needs one e-mail or user id")
	if err != nil {
		return err
	}
	if err := cl.DeleteUser(ctx, pos[0]); err != nil {
		return userErr(pos[0], err)
	}
	if c.json {
		return c.printJSON(map[string]any{"deleted": pos[0]})
	}
	fmt.Fprintf(e.stdout, "Deleted %s and erased their personal data.\n", pos[0])
	return nil
}

// importChunk is how many lines go in one request.
const importChunk = 500

func userImport(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("user import", e)
	pos, err := parse(fs, args, 1, "needs a JSON-lines file (or - for standard input)")
	if err != nil {
		return err
	}
	var in io.Reader = e.stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	type failure struct {
		Line   int                      `json:"line"`
		Errors []adminclient.FieldError `json:"errors"`
	}
	total := struct {
		Created int       `json:"created"`
		Failed  []failure `json:"failed"`
	}{Failed: []failure{}}

	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	var chunk bytes.Buffer
	first, line := 1, 0
	send := func() error {
		if chunk.Len() == 0 {
			return nil
		}
		res, err := cl.ImportUsers(ctx, chunk.Bytes())
		if err != nil {
			return fmt.Errorf("import lines %d-%d: %w (%d users created before)", first, line, err, total.Created)
		}
		total.Created += res.Created
		for _, f := range res.Failed {
			total.Failed = append(total.Failed, failure{Line: first - 1 + f.Line, Errors: f.Errors})
		}
		fmt.Fprintf(e.stderr, "\rimported %d lines: %d created, %d failed", line, total.Created, len(total.Failed))
		chunk.Reset()
		first = line + 1
		return nil
	}
	for sc.Scan() {
		line++
		chunk.Write(sc.Bytes())
		chunk.WriteByte('\n')
		if line%importChunk == 0 {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read line %d: %w", line+1, err)
	}
	if err := send(); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr)
	if c.json {
		return c.printJSON(total)
	}
	fmt.Fprintf(e.stdout, "Created %d %s; %d %s failed.\n", total.Created, plural(total.Created, "user", "users"), len(total.Failed), plural(len(total.Failed), "line", "lines"))
	for _, f := range total.Failed {
		for _, fe := range f.Errors {
			fmt.Fprintf(e.stdout, "  line %d: %s: %s\n", f.Line, fe.Field, fe.Detail)
		}
	}
	if len(total.Failed) > 0 {
		return fmt.Errorf("%d of %d lines were not imported", len(total.Failed), total.Created+len(total.Failed))
	}
	return nil
}

func auditCmd(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("audit", e)
	after := fs.Uint64("after", 0, "show events after this sequence number")
	limit := fs.Int("limit", 50, "how many events")
	if _, err := parse(fs, args, 0, "takes no arguments"); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	evs, err := cl.Audit(ctx, *after, *limit)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(evs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tOUTCOME\tSUBJECT\tIP\tDETAILS")
	for _, ev := range evs {
		var d []string
		for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
			d = append(d, k+"="+ev.Details[k])
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, ev.Time.Local().Format("2006-01-02 15:04:05"), ev.Kind, ev.Outcome, ev.Subject, ev.IP, strings.Join(d, " "))
	}
	return tw.Flush()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
