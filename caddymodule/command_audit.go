package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// newAuditCommand is `caddy gatehouse audit`: the audit records kept in
// the store, through the admin API (admin_audit.go).
func newAuditCommand() *cobra.Command {
	audit := &cobra.Command{
		Use:   "audit [--user <id>] [--client <id>] [--type <event>] [--since <time>] [--until <time>] [--after <id>] [--limit <n>]",
		Short: "Lists the audit records of a running Gatehouse, newest first",
		Long: `
Lists the audit records kept in the store (audit_retention, 90 days by
default), newest first, through Caddy's admin API
(admin.api.gatehouse_audit) at --address, or the CADDY_ADMIN environment
variable, or localhost:2019. Times are RFC 3339. When more records match
than --limit, the last line names the --after of the next page.
`,
		Args: cobra.NoArgs,
		RunE: runAudit,
	}
	f := audit.Flags()
	f.String("address", "", "address of Caddy's admin API (default: $CADDY_ADMIN or localhost:2019)")
	f.Bool("json", false, "print the API's JSON instead of a table")
	f.String("user", "", "only records of this user id")
	f.String("client", "", "only records of this client id")
	f.String("type", "", "only events of this type (e.g. login, token_issued, user_admin)")
	f.String("since", "", "only records at or after this RFC 3339 time")
	f.String("until", "", "only records before this RFC 3339 time")
	f.String("after", "", "the next page after this record id")
	f.Int("limit", 0, "at most this many records (default 100, at most 1000)")
	return audit
}

func runAudit(cmd *cobra.Command, _ []string) error {
	params := url.Values{}
	for flag, param := range map[string]string{
		"user": "user", "client": "client", "type": "type", "since": "since", "until": "until", "after": "after",
	} {
		if v, _ := cmd.Flags().GetString(flag); v != "" {
			params.Set(param, v)
		}
	}
	if n, _ := cmd.Flags().GetInt("limit"); n != 0 {
		params.Set("limit", fmt.Sprint(n))
	}
	path := adminAuditPath
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	raw, err := adminCall(cmd, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		_, err := out.Write(append(raw, '\n'))
		return err
	}
	var page auditPage
	if err := json.Unmarshal(raw, &page); err != nil {
		return fmt.Errorf("unexpected response from the admin API: %v", err)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tRESULT\tUSER\tCLIENT\tCLIENT IP")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range page.Records {
		result := r.Result
		if result == "" {
			result = r.GrantType + r.Kind
		}
		user := r.UserID
		if user == "" {
			user = r.Username
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Event, dash(result),
			dash(user), dash(r.ClientID), dash(r.ClientIP))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		_, err = fmt.Fprintf(out, "More records: --after %s\n", page.Next)
	}
	return err
}
