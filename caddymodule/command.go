package caddymodule

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatehouse-auth/gatehouse/authserver/identity"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gatehouse",
		Short: "Gatehouse administration commands",
		Long: `
Commands for operating Gatehouse, the OAuth 2.0 / OpenID Connect
authorization server and identity gate for Caddy.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(newHashPasswordCommand())
			cmd.AddCommand(newClientsCommand())
			cmd.AddCommand(newUsersCommand())
			cmd.AddCommand(newKeysCommand(), newHealthCommand(), newBackupCommand())
			cmd.AddCommand(newAuditCommand(), newRestoreCommand())
		},
	})
}

// newHashPasswordCommand builds `caddy gatehouse hash-password`. It reads
// from the command's input (os.Stdin unless set otherwise, as tests do).
func newHashPasswordCommand() *cobra.Command {
	hash := &cobra.Command{
		Use:   "hash-password [--memory <KiB>] [--iterations <n>] [--parallelism <n>]",
		Short: "Hashes a password (or client secret) with argon2id",
		Long: `
Reads a password from standard input (or prompts for it twice on a
terminal) and prints an argon2id PHC string for the password_hash of a
user or the secret_hash of a client in the gatehouse global option.
`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHashPassword(cmd, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	hash.Flags().Uint32("memory", identity.DefaultParams().Memory, "argon2id memory in KiB")
	hash.Flags().Uint32("iterations", identity.DefaultParams().Iterations, "argon2id iterations")
	hash.Flags().Uint8("parallelism", identity.DefaultParams().Parallelism, "argon2id parallelism")
	return hash
}

func runHashPassword(cmd *cobra.Command, in io.Reader, out io.Writer) error {
	p := identity.DefaultParams()
	var err error
	if p.Memory, err = cmd.Flags().GetUint32("memory"); err != nil {
		return err
	}
	if p.Iterations, err = cmd.Flags().GetUint32("iterations"); err != nil {
		return err
	}
	if p.Parallelism, err = cmd.Flags().GetUint8("parallelism"); err != nil {
		return err
	}
	// Checked before prompting: argon2 panics on t=0 or p=0, and a huge
	// cost would run for minutes only to be refused by the parser.
	if err := p.Validate(); err != nil {
		return fmt.Errorf("these parameters are outside the accepted range: %w", err)
	}
	password, err := readPassword(in, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	h, err := identity.HashPassword(password, p)
	if err != nil {
		return err
	}
	if _, err := identity.ParsePasswordHash(h); err != nil {
		return fmt.Errorf("these parameters are outside the accepted range: %w", err)
	}
	_, err = fmt.Fprintln(out, h)
	return err
}

// readPassword prompts twice on a terminal, or reads one line otherwise.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		fmt.Fprint(prompt, "Password: ")
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Confirm password: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords do not match")
		}
		if len(a) == 0 {
			return "", errors.New("the password is empty")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}
