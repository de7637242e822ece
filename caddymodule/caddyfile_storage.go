package caddymodule

// The storage option: sqlite (the default) or postgres, and their settings.

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parseStorage(d *caddyfile.Dispenser) ([]byte, error) {
	if !d.NextArg() {
		return nil, d.Errf("storage: expected a backend name (sqlite or postgres)")
	}
	switch backend := d.Val(); backend {
	case "sqlite":
		s := new(SQLiteStorage)
		if d.NextArg() {
			s.Path = d.Val()
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			switch key := d.Val(); key {
			case "timeout":
				if err := durationArg(d, &s.Timeout); err != nil {
					return nil, err
				}
			default:
				return nil, d.Errf("storage sqlite: unknown option %q (known: timeout)", key)
			}
		}
		return caddyconfig.JSONModuleObject(s, "backend", "sqlite", nil), nil
	case "postgres":
		s, err := parsePostgres(d)
		if err != nil {
			return nil, err
		}
		return caddyconfig.JSONModuleObject(s, "backend", "postgres", nil), nil
	default:
		return nil, d.Errf("storage: unknown backend %q (supported: sqlite, postgres)", backend)
	}
}

func parsePostgres(d *caddyfile.Dispenser) (*PostgresStorage, error) {
	if d.NextArg() {
		return nil, d.Errf("storage postgres: takes a block, not arguments (put the connection string in dsn)")
	}
	s := new(PostgresStorage)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch key := d.Val(); key {
		case "dsn":
			err = oneArg(d, &s.DSN)
		case "schema":
			err = oneArg(d, &s.Schema)
		case "max_conns":
			err = intArg(d, &s.MaxConns)
		case "max_idle_conns":
			err = intArg(d, &s.MaxIdleConns)
		case "conn_max_lifetime":
			err = durationArg(d, &s.ConnMaxLifetime)
		case "conn_max_idle_time":
			err = durationArg(d, &s.ConnMaxIdleTime)
		case "statement_timeout":
			err = durationArg(d, &s.StatementTimeout)
		case "timeout":
			err = durationArg(d, &s.Timeout)
		default:
			// The value is not echoed: it could be a misplaced password.
			err = d.Errf("storage postgres: unknown option %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if s.DSN == "" {
		return nil, d.Errf("storage postgres: dsn is required (e.g. dsn {env.GATEHOUSE_DATABASE_URL})")
	}
	return s, nil
}
