package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// newKeysCommand is `caddy gatehouse keys list|rotate`, through the admin
// API (admin_ops.go).
func newKeysCommand() *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Lists or rotates the signing keys of a running Gatehouse",
		Long: `
Lists the published signing keys, or starts a rotation now, through
Caddy's admin API (admin.api.gatehouse_ops) at --address, or the
CADDY_ADMIN environment variable, or localhost:2019. A rotation publishes
a new key per algorithm at once; it signs after key_prepublication.
`,
	}
	keys.PersistentFlags().String("address", "", "address of Caddy's admin API (default: $CADDY_ADMIN or localhost:2019)")
	keys.PersistentFlags().Bool("json", false, "print JSON instead of a table")
	keys.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Lists the published signing keys",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runKeys(cmd, http.MethodGet, adminKeysPath) },
	}, &cobra.Command{
		Use:   "rotate",
		Short: "Starts a key rotation now and lists the keys",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runKeys(cmd, http.MethodPost, adminRotatePath) },
	})
	return keys
}

func runKeys(cmd *cobra.Command, method, path string) error {
	raw, err := adminCall(cmd, method, path, nil)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		_, err := out.Write(raw)
		return err
	}
	var body struct {
		Keys []token.KeyInfo `json:"keys"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return fmt.Errorf("unexpected response from the admin API: %v", err)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSIGNING\tSIGNS FROM\tRETIRES AT")
	for _, k := range body.Keys {
		retires := "-"
		if !k.RetiresAt.IsZero() {
			retires = k.RetiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", k.KID, k.Algorithm, k.Signing, k.SignsFrom.Format(time.RFC3339), retires)
	}
	return tw.Flush()
}

// newHealthCommand is `caddy gatehouse health`: the readiness report; it
// fails (exit status 1) when Gatehouse is not healthy.
func newHealthCommand() *cobra.Command {
	health := &cobra.Command{
		Use:   "health",
		Short: "Checks that a running Gatehouse can serve (store, keys, revocation feed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := adminCall(cmd, http.MethodGet, adminHealthPath, nil)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(raw, '\n'))
			return err
		},
	}
	health.Flags().String("address", "", "address of Caddy's admin API (default: $CADDY_ADMIN or localhost:2019)")
	return health
}

// newBackupCommand is `caddy gatehouse backup <file>`: a consistent copy
// of the SQLite store, taken while Caddy runs.
func newBackupCommand() *cobra.Command {
	backup := &cobra.Command{
		Use:   "backup [--db <path>] <file>",
		Short: "Copies the SQLite store to a new file, consistently, while Caddy runs",
		Long: `
Writes a consistent copy of Gatehouse's SQLite database to <file> (which
must not exist) with VACUUM INTO, while Caddy keeps serving. --db is the
database (default: gatehouse/gatehouse.db in Caddy's data directory, the
default of storage sqlite).

The copy's signing keys and secrets are sealed with the key-encryption
key, which is not in it: back the key up too (key_encryption_key, or
gatehouse/kek in Caddy's data directory), separately. For PostgreSQL use
pg_dump (docs/operations.md).
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, _ := cmd.Flags().GetString("db")
			if db == "" {
				db = filepath.Join(caddy.AppDataDir(), "gatehouse", "gatehouse.db")
			}
			if err := sqlite.Backup(cmd.Context(), db, args[0]); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Backed up %s to %s. Keep the key-encryption key too: the copy's keys are sealed with it.\n", db, args[0])
			return err
		},
	}
	backup.Flags().String("db", "", "the SQLite database (default: gatehouse/gatehouse.db in Caddy's data directory)")
	return backup
}
