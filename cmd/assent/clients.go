package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/assent-auth/assent/adminclient"
)

// clientCmd runs `assent client create|list|show|delete`.
func clientCmd(ctx context.Context, args []string, e env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: client needs a subcommand: create, list, show, delete, rotate-secret", errUsage)
	}
	switch args[0] {
	case "create":
		return clientCreate(ctx, args[1:], e)
	case "list":
		return clientList(ctx, args[1:], e)
	case "show":
		return clientShow(ctx, args[1:], e)
	case "delete":
		return clientDelete(ctx, args[1:], e)
	case "rotate-secret":
		return clientRotateSecret(ctx, args[1:], e)
	}
	return fmt.Errorf("%w: unknown command 'client %s'", errUsage, args[0])
}

// repeated collects a flag given more than once.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

var _ flag.Value = (*repeated)(nil)

func clientCreate(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("client create", e)
	id := fs.String("id", "", "client id")
	name := fs.String("name", "", "display name shown to users on the consent page (default the id)")
	var uris repeated
	fs.Var(&uris, "redirect-uri", "redirect URI (repeat for more)")
	public := fs.Bool("public", false, "public client (no secret; PKCE with S256 required)")
	minACR := fs.String("min-acr", "", "lowest acr the client accepts: 1, mfa, phr or phrh")
	var logoutURIs, scopes, grants repeated
	fs.Var(&logoutURIs, "post-logout-redirect-uri", "where RP-initiated logout may return (repeat for more)")
	fs.Var(&scopes, "scope", "a scope the client may request (repeat; default all)")
	fs.Var(&grants, "grant-type", "a grant type the client may use (repeat; default authorization_code and refresh_token; client_credentials must be given)")
	jwksFile := fs.String("jwks", "", "file with the client's public JWK set: private_key_jwt instead of a secret")
	maxAuthAge := fs.Duration("max-auth-age", 0, "oldest sign-in the client accepts, e.g. 5m for payments (default none)")
	jwksURI := fs.String("jwks-uri", "", "URL where the client publishes its public JWK set (private_key_jwt)")
	idTokenAlg := fs.String("id-token-alg", "", "id_token_signed_response_alg: ES256 (default) or RS256")
	firstParty := fs.Bool("first-party", false, "the operator's own application: no consent screen")
	cibaMode := fs.String("ciba-mode", "", "let the client use OpenID CIBA: poll or ping")
	notifyEndpoint := fs.String("notification-endpoint", "", "where CIBA ping mode posts (https)")
	cibaUserCode := fs.Bool("ciba-user-code", false, "CIBA requests must carry the user's user_code, which users give to the businesses they trust")
	logoFile := fs.String("logo", "", "PNG or JPEG file (at most 32 KiB, 512 pixels a side) shown next to the name on the consent page")
	if _, err := parse(fs, args, 0, "takes no positional arguments"); err != nil {
		return err
	}
	if *id == "" || len(uris) == 0 && *cibaMode == "" && !onlyClientCredentials(grants) {
		return fmt.Errorf("%w: client create needs --id and --redirect-uri (or --ciba-mode, or only --grant-type client_credentials)", errUsage)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	nc := adminclient.NewOIDCClient{ID: *id, RedirectURIs: uris, Public: *public, MinACR: *minACR,
		PostLogoutRedirectURIs: logoutURIs, Scopes: scopes, GrantTypes: grants, IDTokenAlg: *idTokenAlg, FirstParty: *firstParty,
		CIBAMode: *cibaMode, NotificationEndpoint: *notifyEndpoint, CIBAUserCode: *cibaUserCode}
	nc.JWKSURI, nc.Name = *jwksURI, *name
	nc.MaxAuthAgeSeconds = int64(*maxAuthAge / time.Second)
	if *jwksFile != "" {
		b, err := os.ReadFile(*jwksFile)
		if err != nil {
			return err
		}
		nc.JWKS = b
	}
	if *logoFile != "" {
		b, err := os.ReadFile(*logoFile)
		if err != nil {
			return err
		}
		nc.Logo = b
	}
	created, err := cl.CreateClient(ctx, nc)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(created)
	}
	printClient(e.stdout, created)
	if created.Secret != "" {
		fmt.Fprintf(e.stdout, "secret:         %s\n\nThe secret is shown only now; the server keeps only its hash.\n", created.Secret)
	}
	return nil
}

func clientList(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("client list", e)
	if _, err := parse(fs, args, 0, "takes no positional arguments"); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	cs, err := cl.ListClients(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if cs == nil {
			cs = []adminclient.OIDCClient{}
		}
		return c.printJSON(cs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tMIN ACR\tSOURCE\tREDIRECT URIS")
	for _, x := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, clientType(x), orDash(x.MinACR), clientSource(x), strings.Join(x.RedirectURIs, " "))
	}
	return tw.Flush()
}

func clientShow(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("client show", e)
	pos, err := parse(fs, args, 1, "needs one client id")
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	x, err := cl.GetClient(ctx, pos[0])
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(x)
	}
	printClient(e.stdout, x)
	return nil
}

func clientDelete(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("client delete", e)
	pos, err := parse(fs, args, 1, "needs one client id")
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.DeleteClient(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Deleted client %s and its refresh tokens.\n", pos[0])
	return nil
}

func printClient(w io.Writer, x adminclient.OIDCClient) {
	fmt.Fprintf(w, "id:             %s\ntype:           %s\nmin acr:        %s\nsource:         %s\n", x.ID, clientType(x), orDash(x.MinACR), clientSource(x))
	if x.Name != "" {
		fmt.Fprintf(w, "name:           %s\n", x.Name)
	}
	if x.LogoURI != "" {
		fmt.Fprintf(w, "logo:           %s\n", x.LogoURI)
	}
	for _, u := range x.RedirectURIs {
		fmt.Fprintf(w, "redirect uri:   %s\n", u)
	}
	if x.AuthMethod != "" {
		fmt.Fprintf(w, "auth method:    %s\n", x.AuthMethod)
	}
	for _, u := range x.PostLogoutRedirectURIs {
		fmt.Fprintf(w, "logout uri:     %s\n", u)
	}
	if len(x.Scopes) > 0 {
		fmt.Fprintf(w, "scopes:         %s\n", strings.Join(x.Scopes, " "))
	}
	if len(x.GrantTypes) > 0 {
		fmt.Fprintf(w, "grant types:    %s\n", strings.Join(x.GrantTypes, " "))
	}
	if x.CIBAMode != "" {
		fmt.Fprintf(w, "ciba mode:      %s\n", x.CIBAMode)
	}
	if x.CIBAUserCode {
		fmt.Fprintf(w, "ciba user code: required\n")
	}
	if x.NotificationEndpoint != "" {
		fmt.Fprintf(w, "notify at:      %s\n", x.NotificationEndpoint)
	}
	if x.IDTokenAlg != "" {
		fmt.Fprintf(w, "id token alg:   %s\n", x.IDTokenAlg)
	}
	if x.MaxAuthAgeSeconds > 0 {
		fmt.Fprintf(w, "max auth age:   %v\n", time.Duration(x.MaxAuthAgeSeconds)*time.Second)
	}
	if x.FirstParty {
		fmt.Fprintf(w, "first party:    yes (no consent screen)\n")
	}
}

func clientRotateSecret(ctx context.Context, args []string, e env) error {
	fs, c := newFlags("client rotate-secret", e)
	pos, err := parse(fs, args, 1, "needs one client id")
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	x, err := cl.RotateClientSecret(ctx, pos[0])
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(x)
	}
	fmt.Fprintf(e.stdout, "secret:         %s\n\nThe old secret no longer works. The new one is shown only now.\n", x.Secret)
	return nil
}

func clientType(x adminclient.OIDCClient) string {
	if x.Public {
		return "public"
	}
	return "confidential"
}

func clientSource(x adminclient.OIDCClient) string {
	if x.Configured {
		return "config file"
	}
	return "admin API"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// onlyClientCredentials reports whether the grant types are the client
// credentials grant alone, which needs no redirect URI.
func onlyClientCredentials(grants []string) bool {
	return len(grants) > 0 && !slices.ContainsFunc(grants, func(g string) bool { return g != "client_credentials" })
}
