package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"
)

// newClientsCommand builds `caddy gatehouse clients ...`, a client of the
// admin API (admin.go) on a running Caddy.
func newClientsCommand() *cobra.Command {
	clients := &cobra.Command{
		Use:   "clients",
		Short: "Manages Connected Apps (OAuth clients) of a running Gatehouse",
		Long: `
Creates, lists, changes and deletes the Connected Apps of a running Caddy
through its admin API (admin.api.gatehouse), and rotates their secrets.

The admin API is reached at --address, or the CADDY_ADMIN environment
variable, or localhost:2019. Output is a table; --json prints the API's
JSON instead. Clients from the Caddyfile are listed as static and cannot
be changed here.
`,
	}
	clients.PersistentFlags().String("address", "", "address of Caddy's admin API (default: $CADDY_ADMIN or localhost:2019)")
	clients.PersistentFlags().Bool("json", false, "print JSON instead of a table")

	create := &cobra.Command{
		Use:   "create --name <name> --type <type> --redirect-uri <uri>... [flags]",
		Short: "Creates a client and prints its secret, once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := metadataFlags(cmd)
			if err != nil {
				return err
			}
			return runAdmin(cmd, http.MethodPost, adminClientsPath, body)
		},
	}
	addMetadataFlags(create)

	list := &cobra.Command{
		Use:   "list [--after <client_id>] [--limit <n>] [--all]",
		Short: "Lists clients, static ones first",
		Args:  cobra.NoArgs,
		RunE:  runList,
	}
	list.Flags().String("after", "", "list the clients after this cursor (the previous page's next)")
	list.Flags().Int("limit", defaultPageLimit, fmt.Sprintf("clients per page, at most %d", maxPageLimit))
	list.Flags().Bool("all", false, "follow every page")

	get := &cobra.Command{
		Use:   "get <client_id>",
		Short: "Shows a client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdmin(cmd, http.MethodGet, clientPath(args[0]), nil)
		},
	}

	update := &cobra.Command{
		Use:   "update <client_id> [flags]",
		Short: "Changes the given fields of a client",
		Long: `
Changes only the fields given as flags. A list flag replaces the whole
list; give it once with an empty value ("") to empty it. An empty string
resets a URI or lifetime to its default.
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := metadataFlags(cmd)
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return errors.New("nothing to change: give at least one field flag")
			}
			return runAdmin(cmd, http.MethodPatch, clientPath(args[0]), body)
		},
	}
	addMetadataFlags(update)

	del := &cobra.Command{
		Use:   "delete <client_id>",
		Short: "Deletes a client; its tokens stop working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdmin(cmd, http.MethodDelete, clientPath(args[0]), nil)
		},
	}

	rotate := &cobra.Command{
		Use:   "rotate-secret start|complete|cancel <client_id>",
		Short: "Rotates a client's secret in two phases",
		Long: `
start issues a new secret (printed once); the old and the new secret both
work until the rotation ends. complete makes the new secret the only one;
cancel discards it and keeps the old one.
`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 || (args[0] != "start" && args[0] != "complete" && args[0] != "cancel") {
				return errors.New("usage: rotate-secret start|complete|cancel <client_id>")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdmin(cmd, http.MethodPost, clientPath(args[1])+"/secret/"+args[0], nil)
		},
	}
	clients.AddCommand(create, list, get, update, del, rotate)
	return clients
}

func clientPath(id string) string { return adminClientsPath + "/" + url.PathEscape(id) }

// addMetadataFlags adds a flag per writable field of the admin API.
// Lists use string arrays, not slices, since URIs may contain commas.
func addMetadataFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("name", "", "name shown on the login and consent pages")
	f.String("description", "", "description")
	f.String("type", "", "first_party, first_party_public, third_party or third_party_public")
	f.StringArray("redirect-uri", nil, "redirect URI (repeat for several)")
	f.StringArray("post-logout-redirect-uri", nil, "post-logout redirect URI (repeat for several)")
	f.StringArray("scope", nil, "allowed scope (repeat for several; none means all)")
	f.StringArray("grant-type", nil, "allowed grant type: authorization_code, refresh_token (default both)")
	f.StringArray("contact", nil, "contact address (repeat for several)")
	f.String("logo-uri", "", "https URL of the app's logo")
	f.String("client-uri", "", "https URL of the app's home page")
	f.String("policy-uri", "", "https URL of the app's privacy policy")
	f.String("tos-uri", "", "https URL of the app's terms of service")
	f.String("backchannel-logout-uri", "", "URL that receives back-channel logout tokens")
	f.String("token-endpoint-auth-method", "", "client_secret_basic (default for confidential types), client_secret_post or none")
	f.String("id-token-signed-response-alg", "", "RS256 (default) or ES256")
	f.String("access-token-lifetime", "", `e.g. "15m"; "" for the server's default`)
	f.String("refresh-token-lifetime", "", `e.g. "720h"; "" for the server's default`)
	f.Bool("bypass-consent-for-offline-access", false, "first-party only: no consent page for offline_access")
}

// metadataFields are the field flags, by flag name.
var metadataFields = []string{
	"name", "description", "type", "redirect-uri", "post-logout-redirect-uri", "scope", "grant-type",
	"contact", "logo-uri", "client-uri", "policy-uri", "tos-uri", "backchannel-logout-uri",
	"token-endpoint-auth-method", "id-token-signed-response-alg", "access-token-lifetime",
	"refresh-token-lifetime", "bypass-consent-for-offline-access",
}

// metadataFlags returns the request body made of the flags given.
func metadataFlags(cmd *cobra.Command) (map[string]any, error) {
	body := map[string]any{}
	flags := cmd.Flags()
	for _, name := range metadataFields {
		if !flags.Changed(name) {
			continue
		}
		if field, ok := pluralField[name]; ok {
			vals, err := flags.GetStringArray(name)
			if err != nil {
				return nil, err
			}
			list := []string{}
			for _, v := range vals {
				if v != "" {
					list = append(list, v)
				}
			}
			body[field] = list
			continue
		}
		field := strings.ReplaceAll(name, "-", "_")
		if name == "bypass-consent-for-offline-access" {
			v, err := flags.GetBool(name)
			if err != nil {
				return nil, err
			}
			body[field] = v
			continue
		}
		v, err := flags.GetString(name)
		if err != nil {
			return nil, err
		}
		body[field] = v
	}
	return body, nil
}

// pluralField maps a repeatable flag to its JSON field.
var pluralField = map[string]string{
	"redirect-uri":             "redirect_uris",
	"post-logout-redirect-uri": "post_logout_redirect_uris",
	"scope":                    "scopes",
	"grant-type":               "grant_types",
	"contact":                  "contacts",
}

func runList(cmd *cobra.Command, _ []string) error {
	after, _ := cmd.Flags().GetString("after")
	limit, _ := cmd.Flags().GetInt("limit")
	all, _ := cmd.Flags().GetBool("all")
	asJSON, _ := cmd.Flags().GetBool("json")
	var clients []adminClient
	next := after
	// Bounded: a page holds at least one client, and no server has this
	// many pages.
	for range 100000 {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if next != "" {
			q.Set("after", next)
		}
		raw, err := adminCall(cmd, http.MethodGet, adminClientsPath+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var page struct {
			Clients []adminClient `json:"clients"`
			Next    string        `json:"next"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		clients, next = append(clients, page.Clients...), page.Next
		if !all || next == "" {
			break
		}
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, struct {
			Clients []adminClient `json:"clients"`
			Next    string        `json:"next"`
		}{Clients: append([]adminClient{}, clients...), Next: next})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tTYPE\tSOURCE\tNAME\tREDIRECT_URIS")
	for _, c := range clients {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ClientID, c.Type, source(c), oneLine(c.Name), strings.Join(c.RedirectURIs, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(out, "\nMore clients follow: --after %s (or --all)\n", next)
	}
	return nil
}

// runAdmin makes one admin API call and prints its result.
func runAdmin(cmd *cobra.Command, method, path string, body any) error {
	raw, err := adminCall(cmd, method, path, body)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	asJSON, _ := cmd.Flags().GetBool("json")
	if method == http.MethodDelete {
		if asJSON {
			return printJSON(out, map[string]any{"deleted": true})
		}
		_, err := fmt.Fprintln(out, "Deleted. Its grants are revoked; its tokens no longer work.")
		return err
	}
	if asJSON {
		_, err := out.Write(raw)
		return err
	}
	var c adminClient
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("unexpected response from the admin API: %v", err)
	}
	return printClient(out, c)
}

// printClient prints one client as a two-column table.
func printClient(out io.Writer, c adminClient) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("client_id", c.ClientID)
	if c.ClientSecret != "" {
		row("client_secret", c.ClientSecret+"   <- shown only now: store it safely")
	}
	row("name", oneLine(c.Name))
	row("description", oneLine(c.Description))
	row("type", c.Type)
	row("source", source(c))
	row("redirect_uris", strings.Join(c.RedirectURIs, " "))
	row("post_logout_redirect_uris", strings.Join(c.PostLogoutRedirectURIs, " "))
	row("backchannel_logout_uri", c.BackchannelLogoutURI)
	scopes := strings.Join(c.Scopes, " ")
	if scopes == "" {
		scopes = "(all supported)"
	}
	row("scopes", scopes)
	row("grant_types", strings.Join(c.GrantTypes, " "))
	row("token_endpoint_auth_method", c.TokenEndpointAuthMethod)
	row("logo_uri", c.LogoURI)
	row("client_uri", c.ClientURI)
	row("policy_uri", c.PolicyURI)
	row("tos_uri", c.TOSURI)
	row("id_token_signed_response_alg", c.IDTokenSignedResponseAlg)
	row("access_token_lifetime", c.AccessTokenLifetime)
	row("refresh_token_lifetime", c.RefreshTokenLifetime)
	row("bypass_consent_for_offline_access", fmt.Sprint(c.BypassConsentForOfflineAccess))
	row("contacts", strings.Join(c.Contacts, " "))
	row("secret_rotation_pending", fmt.Sprint(c.SecretRotationPending))
	if c.CreatedAt != nil {
		row("created_at", c.CreatedAt.Format(time.RFC3339))
		row("updated_at", c.UpdatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func source(c adminClient) string {
	switch {
	case c.Static:
		return "static"
	case c.Dynamic:
		return "dynamic"
	}
	return "api"
}

// oneLine keeps a table row on one line whatever the text holds.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// adminAddress is --address, else $CADDY_ADMIN, else Caddy's default.
func adminAddress(cmd *cobra.Command) string {
	if a, _ := cmd.Flags().GetString("address"); a != "" {
		return a
	}
	if a := os.Getenv("CADDY_ADMIN"); a != "" {
		return a
	}
	return caddy.DefaultAdminListen
}

// adminCall sends one request to the admin API and returns the body of a
// successful response; an error response becomes an error carrying the
// API's error code and description.
func adminCall(cmd *cobra.Command, method, path string, body any) ([]byte, error) {
	addr := adminAddress(cmd)
	na, err := caddy.ParseNetworkAddress(addr)
	if err != nil || na.PortRangeSize() > 1 {
		return nil, fmt.Errorf("invalid admin address %q", addr)
	}
	// Like Caddy's own commands: a loopback origin the admin endpoint
	// accepts, and a dialer for unix sockets as well as TCP.
	origin, dialAddr := "http://"+na.JoinHostPort(0), na.JoinHostPort(0)
	if na.IsUnixNetwork() {
		origin = "http://127.0.0.1"
		dialAddr, _, _ = strings.Cut(na.Host, "|") // drop socket permission bits
	}
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, origin+path, reader)
	if err != nil {
		return nil, err
	}
	if !na.IsUnixNetwork() {
		req.Header.Set("Origin", origin)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, na.Network, dialAddr)
		},
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching Caddy's admin API at %s (is Caddy running with its admin endpoint on?): %v", addr, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			if e.Description != "" {
				return nil, fmt.Errorf("%s: %s (HTTP %d)", e.Error, e.Description, resp.StatusCode)
			}
			return nil, fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	return raw, nil
}
