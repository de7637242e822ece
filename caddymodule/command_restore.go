package caddymodule

import (
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/authserver/store/sqlite"
)

// newRestoreCommand is `caddy gatehouse restore <file>`: puts a backup of
// the SQLite store in place, with Caddy stopped.
func newRestoreCommand() *cobra.Command {
	restore := &cobra.Command{
		Use:   "restore [--db <path>] <file>",
		Short: "Replaces the SQLite store with a backup; Caddy must be stopped",
		Long: `
Replaces Gatehouse's SQLite database with <file>, a copy written by
caddy gatehouse backup. --db is the database (default:
gatehouse/gatehouse.db in Caddy's data directory, the default of storage
sqlite).

Stop Caddy first: restore refuses (and changes nothing) while any process
has the database open. It checks that <file> is a sound Gatehouse
database, keeps the replaced database as <db>.pre-restore, removes its
-wal and -shm files, and moves the copy into place. Start Caddy with the
same key-encryption key as the instance that took the backup: the copy's
signing keys and secrets are sealed with it. See docs/operations.md for
what a restore rolls back.
`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, _ := cmd.Flags().GetString("db")
			if db == "" {
				db = filepath.Join(caddy.AppDataDir(), "gatehouse", "gatehouse.db")
			}
			if err := sqlite.Restore(cmd.Context(), args[0], db); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Restored %s from %s; the replaced database is at %s. Start Caddy with the same key-encryption key.\n",
				db, args[0], db+sqlite.PreRestoreSuffix)
			return err
		},
	}
	restore.Flags().String("db", "", "the SQLite database (default: gatehouse/gatehouse.db in Caddy's data directory)")
	return restore
}
