package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// newUsersCommand builds `caddy gatehouse users ...`, a client of the
// users admin API (admin_accounts.go) on a running Caddy.
func newUsersCommand() *cobra.Command {
	users := &cobra.Command{
		Use:   "users",
		Short: "Manages the users of a running Gatehouse",
		Long: `
Creates, lists, changes, disables and deletes the users kept in Gatehouse's
store, sets their passwords and prints single-use links with which they
choose one, through the admin API of a running Caddy (admin.api.gatehouse_users).

A user is named by their id or their username. The admin API is reached at
--address, or the CADDY_ADMIN environment variable, or localhost:2019.
Output is a table; --json prints the API's JSON instead. Users from the
Caddyfile are shown as static and cannot be changed here. Passwords are
read from standard input (or prompted for on a terminal), never from flags.
`,
	}
	users.PersistentFlags().String("address", "", "address of Caddy's admin API (default: $CADDY_ADMIN or localhost:2019)")
	users.PersistentFlags().Bool("json", false, "print JSON instead of a table")

	create := &cobra.Command{
		Use:   "create <username> [--email <address>] [--email-verified] [--name <name>] [--group <group>]... [--password]",
		Short: "Creates a user; with --password, reads their password from standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := userFlags(cmd)
			body["username"] = args[0]
			if withPassword, _ := cmd.Flags().GetBool("password"); withPassword {
				pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				body["password"] = pw
			}
			raw, err := adminCall(cmd, http.MethodPost, adminUsersPath[:len(adminUsersPath)-1], body)
			if err != nil {
				return err
			}
			if err := printUserRaw(cmd, raw); err != nil {
				return err
			}
			if _, ok := body["password"]; !ok && !jsonOutput(cmd) {
				fmt.Fprintf(cmd.OutOrStdout(), "\nNo password yet: send them a link with `caddy gatehouse users invite %s`.\n", args[0])
			}
			return nil
		},
	}
	addUserFlags(create)
	create.Flags().Bool("password", false, "read the password from standard input (or prompt on a terminal)")

	list := &cobra.Command{
		Use:   "list [--username <prefix>] [--email <prefix>] [--group <prefix>] [--after <id>] [--limit <n>] [--all]",
		Short: "Lists the stored users in id order",
		Args:  cobra.NoArgs,
		RunE:  runUsersList,
	}
	list.Flags().String("username", "", "only usernames starting with this (any case)")
	list.Flags().String("email", "", "only emails starting with this (any case)")
	list.Flags().String("group", "", "only users with a group starting with this (any case)")
	list.Flags().String("after", "", "list the users after this cursor (the previous page's next)")
	list.Flags().Int("limit", defaultPageLimit, fmt.Sprintf("users per page, at most %d", maxPageLimit))
	list.Flags().Bool("all", false, "follow every page")

	get := &cobra.Command{
		Use:   "get <id|username>",
		Short: "Shows a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return userCall(cmd, args[0], http.MethodGet, "", nil)
		},
	}

	update := &cobra.Command{
		Use:   "update <id|username> [--username <name>] [--email <address>] [--email-verified=true|false] [--name <name>] [--group <group>]...",
		Short: "Changes the given fields of a user",
		Long: `
Changes only the fields given as flags. --group replaces the whole list;
give it once with an empty value ("") to empty it. A changed email is
unverified unless --email-verified says otherwise.
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := userFlags(cmd)
			if cmd.Flags().Changed("username") {
				body["username"], _ = cmd.Flags().GetString("username")
			}
			if len(body) == 0 {
				return errors.New("nothing to change: give at least one field flag")
			}
			return userCall(cmd, args[0], http.MethodPatch, "", body)
		},
	}
	addUserFlags(update)
	update.Flags().String("username", "", "new username")

	simple := func(use, short, action string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " <id|username>",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				method := http.MethodPost
				if action == "" {
					method = http.MethodDelete
				}
				return userCall(cmd, args[0], method, action, nil)
			},
		}
	}
	disable := simple("disable", "Disables a user: they cannot sign in, and their sessions and grants end", "disable")
	enable := simple("enable", "Enables a disabled user", "enable")
	del := simple("delete", "Deletes a user; their sessions and grants end", "")
	revoke := simple("revoke-sessions", "Ends every session and grant of a user (configured users too)", "sessions/revoke")
	resetFactors := simple("reset-factors", "Deletes a user's second factors and recovery codes (a lost device; configured users too)", "factors/reset")
	invite := simple("invite", "Prints a single-use link with which the user chooses a password", "invite")
	reset := simple("reset-link", "Prints a single-use password reset link for the user", "reset-link")

	setPassword := &cobra.Command{
		Use:   "set-password <id|username>",
		Short: "Sets a user's password, read from standard input; their sessions and grants end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return userCall(cmd, args[0], http.MethodPost, "password", map[string]any{"password": pw})
		},
	}
	users.AddCommand(create, list, get, update, disable, enable, del, setPassword, invite, reset, revoke, resetFactors)
	return users
}

func addUserFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("email", "", "email address (\"\" for none)")
	f.Bool("email-verified", false, "whether the email address is verified")
	f.String("name", "", "display name")
	f.StringArray("group", nil, "a group (repeat for several)")
}

// userFlags returns the request body made of the profile flags given.
func userFlags(cmd *cobra.Command) map[string]any {
	body := map[string]any{}
	f := cmd.Flags()
	for _, name := range []string{"email", "name"} {
		if f.Changed(name) {
			body[name], _ = f.GetString(name)
		}
	}
	if f.Changed("email-verified") {
		body["email_verified"], _ = f.GetBool("email-verified")
	}
	if f.Changed("group") {
		vals, _ := f.GetStringArray("group")
		groups := []string{} // given once as "": the list is emptied
		for _, v := range vals {
			if v != "" {
				groups = append(groups, v)
			}
		}
		body["groups"] = groups
	}
	return body
}

func jsonOutput(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

// resolveUser turns a username into the user's id; anything else is taken
// as an id.
func resolveUser(cmd *cobra.Command, arg string) (string, error) {
	raw, err := adminCall(cmd, http.MethodGet, adminUsersPath[:len(adminUsersPath)-1]+"?"+url.Values{"username": {arg}, "limit": {fmt.Sprint(maxPageLimit)}}.Encode(), nil)
	if err != nil {
		// A name the list refuses (too long, say) may still be an id.
		if strings.Contains(err.Error(), "HTTP 400") {
			return arg, nil
		}
		return "", err
	}
	var page userPage
	if err := json.Unmarshal(raw, &page); err != nil {
		return "", fmt.Errorf("unexpected response from the admin API: %v", err)
	}
	for _, u := range page.Users {
		if strings.EqualFold(u.Username, arg) {
			return u.ID, nil
		}
	}
	return arg, nil
}

// userCall makes one call about the user arg names and prints the result.
func userCall(cmd *cobra.Command, arg, method, action string, body any) error {
	id, err := resolveUser(cmd, arg)
	if err != nil {
		return err
	}
	path := adminUsersPath + url.PathEscape(id)
	if action != "" {
		path += "/" + action
	}
	raw, err := adminCall(cmd, method, path, body)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	asJSON := jsonOutput(cmd)
	switch {
	case method == http.MethodDelete:
		if asJSON {
			return printJSON(out, map[string]any{"deleted": true, "id": id})
		}
		_, err := fmt.Fprintln(out, "Deleted. Their sessions and grants are revoked.")
		return err
	case action == "password":
		if asJSON {
			return printJSON(out, map[string]any{"password_set": true, "id": id})
		}
		_, err := fmt.Fprintln(out, "Password set. Their sessions and grants are revoked.")
		return err
	case asJSON:
		_, err := out.Write(raw)
		return err
	case action == "invite" || action == "reset-link":
		var l linkJSON
		if err := json.Unmarshal(raw, &l); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		what := "Invitation"
		if action == "reset-link" {
			what = "Password reset link"
		}
		_, err := fmt.Fprintf(out, "%s for %s, single use, valid until %s:\n\n%s\n\nSend it to them privately: whoever opens it chooses the password.\n",
			what, arg, l.ExpiresAt.Local().Format(time.RFC1123), l.Link)
		return err
	case action == "sessions/revoke":
		var n map[string]int
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		_, err := fmt.Fprintf(out, "Ended %d sessions and %d grants. Gates refuse them within the revocation poll interval.\n",
			n["sessions_revoked"], n["grants_revoked"])
		return err
	case action == "factors/reset":
		var n map[string]int
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		_, err := fmt.Fprintf(out, "Deleted %d second factors and every recovery code. The user's sessions are kept: end them with revoke-sessions.\n",
			n["factors_deleted"])
		return err
	}
	return printUserRaw(cmd, raw)
}

func printUserRaw(cmd *cobra.Command, raw []byte) error {
	out := cmd.OutOrStdout()
	if jsonOutput(cmd) {
		_, err := out.Write(raw)
		return err
	}
	var u userJSON
	if err := json.Unmarshal(raw, &u); err != nil {
		return fmt.Errorf("unexpected response from the admin API: %v", err)
	}
	return printUser(out, u)
}

// printUser prints a user as a two-column table.
func printUser(out io.Writer, u userJSON) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, oneLine(v))
		}
	}
	when := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	row("id", u.ID)
	row("username", u.Username)
	row("email", u.Email)
	if u.Email != "" {
		row("email_verified", fmt.Sprint(u.EmailVerified))
	}
	row("name", u.Name)
	row("groups", strings.Join(u.Groups, " "))
	row("status", userStatus(u))
	row("source", map[bool]string{true: "static", false: "api"}[u.Static])
	row("password", map[bool]string{true: "set", false: "not set (invite them)"}[u.HasPassword])
	row("created_at", when(u.CreatedAt))
	row("last_login_at", when(u.LastLoginAt))
	return tw.Flush()
}

func userStatus(u userJSON) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

func runUsersList(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	after, _ := f.GetString("after")
	limit, _ := f.GetInt("limit")
	all, _ := f.GetBool("all")
	var users []json.RawMessage
	next := after
	// Bounded: a page holds at least one user, and no server has this
	// many pages.
	for range 100000 {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		for _, name := range []string{"username", "email", "group"} {
			if v, _ := f.GetString(name); v != "" {
				q.Set(name, v)
			}
		}
		if next != "" {
			q.Set("after", next)
		}
		raw, err := adminCall(cmd, http.MethodGet, adminUsersPath[:len(adminUsersPath)-1]+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var page struct {
			Users []json.RawMessage `json:"users"`
			Next  string            `json:"next"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		users, next = append(users, page.Users...), page.Next
		if !all || next == "" {
			break
		}
	}
	out := cmd.OutOrStdout()
	if jsonOutput(cmd) {
		return printJSON(out, struct {
			Users []json.RawMessage `json:"users"`
			Next  string            `json:"next"`
		}{Users: append([]json.RawMessage{}, users...), Next: next})
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tSTATUS\tGROUPS\tNAME")
	for _, raw := range users {
		var u userJSON
		if err := json.Unmarshal(raw, &u); err != nil {
			return fmt.Errorf("unexpected response from the admin API: %v", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, userStatus(u), strings.Join(u.Groups, ","), oneLine(u.Name))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(out, "\nMore users follow: --after %s (or --all)\n", next)
	}
	return nil
}
