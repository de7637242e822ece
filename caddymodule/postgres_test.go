package caddymodule

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
)

const testKEK = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestParseStoragePostgres(t *testing.T) {
	input := `gatehouse {
		issuer https://auth.example.com
		storage postgres {
			dsn {env.GATEHOUSE_DATABASE_URL}
			schema gatehouse
			max_conns 20
			max_idle_conns 5
			conn_max_lifetime 1h
			conn_max_idle_time 2m
			statement_timeout 3s
		}
		key_encryption_key {env.GATEHOUSE_KEK}
		key_rotation_interval 168h
		key_prepublication 12h
		key_reload_interval 30s
	}`
	v, err := parseGlobalOption(caddyfile.NewTestDispenser(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	var app App
	if err := json.Unmarshal(v.(httpcaddyfile.App).Value, &app); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Backend string `json:"backend"`
		PostgresStorage
	}
	if err := json.Unmarshal(app.StorageRaw, &got); err != nil {
		t.Fatal(err)
	}
	want := PostgresStorage{
		DSN: "{env.GATEHOUSE_DATABASE_URL}", Schema: "gatehouse", MaxConns: 20, MaxIdleConns: 5,
		ConnMaxLifetime: caddy.Duration(time.Hour), ConnMaxIdleTime: caddy.Duration(2 * time.Minute),
		StatementTimeout: caddy.Duration(3 * time.Second),
	}
	if got.Backend != "postgres" || got.PostgresStorage != want {
		t.Errorf("storage = %s", app.StorageRaw)
	}
	if time.Duration(app.KeyRotationInterval) != 168*time.Hour || time.Duration(app.KeyPrePublication) != 12*time.Hour ||
		time.Duration(app.KeyReloadInterval) != 30*time.Second {
		t.Errorf("key settings = %v %v %v", app.KeyRotationInterval, app.KeyPrePublication, app.KeyReloadInterval)
	}
}

func TestParseStoragePostgresErrors(t *testing.T) {
	tests := []struct{ name, block, want string }{
		{"no block", "storage postgres", "dsn is required"},
		{"dsn as argument", "storage postgres postgres://u:pw@h/db", "takes a block"},
		{"empty block", "storage postgres {\n}", "dsn is required"},
		{"unknown option", "storage postgres {\n dsn x\n password hunter2\n}", `storage postgres: unknown option "password"`},
		{"two dsns", "storage postgres {\n dsn a b\n}", "dsn: expected one value, got more"},
		{"bad max_conns", "storage postgres {\n dsn x\n max_conns many\n}", "max_conns: expected a positive whole number"},
		{"zero max_conns", "storage postgres {\n dsn x\n max_conns 0\n}", "max_conns: expected a positive whole number"},
		{"bad timeout", "storage postgres {\n dsn x\n statement_timeout soon\n}", "statement_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGlobalOption(caddyfile.NewTestDispenser("gatehouse {\n"+tc.block+"\n}"), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("error echoes a secret: %v", err)
			}
		})
	}
}

// Configuration mistakes of shared storage fail at provision, before any
// connection, naming the field, and never showing the DSN's password.
func TestProvisionPostgresErrors(t *testing.T) {
	const site = "\n:0 {\n\tauthserver\n}\n"
	const password = "pw-Secr3t-in-dsn"
	t.Setenv("GATEHOUSE_TEST_UNSET_DSN", "")
	tests := []struct{ name, gatehouse, want string }{
		{"no key encryption key", "storage postgres {\n dsn postgres://u:" + password + "@127.0.0.1:1/db\n }", "key_encryption_key is required with shared storage (postgres)"},
		{"dsn placeholder unset", "storage postgres {\n dsn {env.GATEHOUSE_TEST_UNSET_DSN}\n }\n key_encryption_key " + testKEK, "storage postgres: dsn is required"},
		{"unparsable dsn", "storage postgres {\n dsn \"postgres://u:" + password + "@127.0.0.1:notaport/db\"\n }\n key_encryption_key " + testKEK, "storage postgres: dsn:"},
		{"one connection", "storage postgres {\n dsn postgres://u:" + password + "@127.0.0.1:1/db\n max_conns 1\n }\n key_encryption_key " + testKEK, "max_conns must be at least 2"},
		{"unreachable", "storage postgres {\n dsn \"postgres://u:" + password + "@127.0.0.1:1/db?connect_timeout=2\"\n }\n key_encryption_key " + testKEK, "storage:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_DATA_HOME", t.TempDir())
			cf := "{\n\tadmin off\n\tgatehouse {\n\t\tissuer https://a.example\n" + tc.gatehouse + "\n\t}\n}\n" + site
			err := validateCaddyfile(cf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func provisionedPostgres(t *testing.T, s *PostgresStorage) *PostgresStorage {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := s.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// The pool key tells databases and settings apart without the password.
func TestPostgresPoolKey(t *testing.T) {
	base := func() *PostgresStorage {
		return &PostgresStorage{DSN: "postgres://gh:first-Passw0rd@db.example:5432/auth", Schema: "gatehouse"}
	}
	k := provisionedPostgres(t, base()).PoolKey()
	if !strings.HasPrefix(k, "postgres:gh@db.example:5432/auth?schema=gatehouse#") {
		t.Errorf("pool key %q does not name the database", k)
	}
	if strings.Contains(k, "first-Passw0rd") {
		t.Errorf("pool key %q shows the password", k)
	}
	if provisionedPostgres(t, base()).PoolKey() != k {
		t.Error("the same configuration got another pool key")
	}
	for name, edit := range map[string]func(*PostgresStorage){
		"password": func(s *PostgresStorage) { s.DSN = strings.Replace(s.DSN, "first", "second", 1) },
		"schema":   func(s *PostgresStorage) { s.Schema = "other" },
		"database": func(s *PostgresStorage) { s.DSN = strings.Replace(s.DSN, "/auth", "/auth2", 1) },
		"pool":     func(s *PostgresStorage) { s.MaxConns = 3 },
	} {
		s := base()
		edit(s)
		if provisionedPostgres(t, s).PoolKey() == k {
			t.Errorf("changing the %s kept the pool key", name)
		}
	}
	// The DSN placeholder is resolved at provision.
	t.Setenv("GATEHOUSE_TEST_POOL_DSN", "postgres://gh:x@db.example:5432/auth")
	s := provisionedPostgres(t, &PostgresStorage{DSN: "{env.GATEHOUSE_TEST_POOL_DSN}"})
	if !strings.HasPrefix(s.PoolKey(), "postgres:gh@db.example:5432/auth?") {
		t.Errorf("pool key %q", s.PoolKey())
	}
}

// A full provision on PostgreSQL: with the KEK it connects, migrates and
// builds the server.
func TestProvisionPostgres(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	t.Setenv("GATEHOUSE_TEST_DSN", dsn)
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	cf := "{\n\tadmin off\n\tgatehouse {\n\t\tissuer https://a.example\n\t\tstorage postgres {\n\t\t\tdsn {env.GATEHOUSE_TEST_DSN}\n\t\t\tschema " + schema +
		"\n\t\t\tmax_conns 4\n\t\t\tstatement_timeout 5s\n\t\t}\n\t\tkey_encryption_key " + testKEK + "\n\t}\n}\n:0 {\n\tauthserver\n}\n"
	if err := validateCaddyfile(cf); err != nil {
		t.Fatal(err)
	}
	// The signing keys and cookie secret are in the database, sealed.
	st := pgtest.Open(t, dsn, schema)
	keys, err := st.ListSigningKeys(t.Context())
	if err != nil || len(keys) == 0 {
		t.Fatalf("signing keys in PostgreSQL: %d, %v", len(keys), err)
	}
}
