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

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
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

// addMetadataFlags adds a flag per client metadata field. Lists use
// string arrays, not slices, since URIs may contain commas.
func addMetadataFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	for _, spec := range clients.Specs() {
		switch name := flagName(spec); spec.Kind {
		case clients.KindList:
			f.StringArray(name, nil, spec.Usage)
		case clients.KindBool:
			f.Bool(name, false, spec.Usage)
		default:
			f.String(name, "", spec.Usage)
		}
	}
}

// flagName is a field's flag: its name with dashes, a list's in the
// singular since its flag is repeated ("--redirect-uri").
func flagName(spec clients.Spec) string {
	name := spec.Name
	if spec.Kind == clients.KindList {
		name = strings.TrimSuffix(name, "s")
	}
	return strings.ReplaceAll(name, "_", "-")
}

// metadataFlags returns the request body made of the flags given.
func metadataFlags(cmd *cobra.Command) (map[string]any, error) {
	body := map[string]any{}
	flags := cmd.Flags()
	for _, spec := range clients.Specs() {
		name := flagName(spec)
		if !flags.Changed(name) {
			continue
		}
		var v any
		var err error
		switch spec.Kind {
		case clients.KindList:
			var vals []string
			vals, err = flags.GetStringArray(name)
			list := []string{} // given once as "": the list is emptied
			for _, val := range vals {
				if val != "" {
					list = append(list, val)
				}
			}
			v = list
		case clients.KindBool:
			v, err = flags.GetBool(name)
		default:
			v, err = flags.GetString(name)
		}
		if err != nil {
			return nil, err
		}
		body[spec.Name] = v
	}
	return body, nil
}

// listedClient is what the list table shows of a client.
type listedClient struct {
	ClientID     string   `json:"client_id"`
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	Static       bool     `json:"static"`
	Dynamic      bool     `json:"dynamic"`
}

func runList(cmd *cobra.Command, _ []string) error {
	after, _ := cmd.Flags().GetString("after")
	limit, _ := cmd.Flags().GetInt("limit")
	all, _ := cmd.Flags().GetBool("all")
	asJSON, _ := cmd.Flags().GetBool("json")
	var raws []json.RawMessage
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
			Clients []json.RawMessage `json:"clients"`
			Next    string            `json:"next"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		raws, next = append(raws, page.Clients...), page.Next
		if !all || next == "" {
			break
		}
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, struct {
			Clients []json.RawMessage `json:"clients"`
			Next    string            `json:"next"`
		}{Clients: append([]json.RawMessage{}, raws...), Next: next})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tTYPE\tSOURCE\tNAME\tREDIRECT_URIS")
	for _, raw := range raws {
		var c listedClient
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ClientID, c.Type, source(c.Static, c.Dynamic), oneLine(c.Name), strings.Join(c.RedirectURIs, " "))
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
	var c clients.Object
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("unexpected response from the admin API: %v", err)
	}
	return printClient(out, c)
}

// printClient prints one client as a two-column table, a row per member
// of the API's response in its order, empty ones left out.
func printClient(out io.Writer, c clients.Object) error {
	var static, dynamic bool
	for _, m := range c {
		switch m.Name {
		case "static":
			_ = json.Unmarshal(m.Value.(json.RawMessage), &static)
		case "dynamic":
			_ = json.Unmarshal(m.Value.(json.RawMessage), &dynamic)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, m := range c {
		v := text(m.Value.(json.RawMessage))
		switch m.Name {
		case "static", "dynamic":
			continue // shown as the source, after the type
		case "client_secret":
			v += "   <- shown only now: store it safely"
		case "scopes":
			if v == "" {
				v = "(all supported)"
			}
		case "created_at", "updated_at":
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				v = t.Format(time.RFC3339)
			}
		}
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", m.Name, v)
		}
		if m.Name == "type" {
			fmt.Fprintf(tw, "source\t%s\n", source(static, dynamic))
		}
	}
	return tw.Flush()
}

// text is a JSON value as one line of a table: a list space-separated.
func text(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return oneLine(v)
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			parts = append(parts, oneLine(fmt.Sprint(e)))
		}
		return strings.Join(parts, " ")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func source(static, dynamic bool) string {
	switch {
	case static:
		return "static"
	case dynamic:
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
