package caddymodule

// Helpers for the values of Caddyfile options, each with its d.Errf message.

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-auth/gatehouse/authserver/factor"
)

func intArg(d *caddyfile.Dispenser, dst *int) error {
	key := d.Val()
	var v string
	if err := oneArg(d, &v); err != nil {
		return err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return d.Errf("%s: expected a positive whole number", key)
	}
	*dst = n
	return nil
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	key := d.Val()
	if !d.NextArg() {
		return d.Errf("%s: expected one value", key)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("%s: expected one value, got more", key)
	}
	return nil
}

func manyArgs(d *caddyfile.Dispenser, dst *[]string) error {
	key := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("%s: expected at least one value", key)
	}
	*dst = append(*dst, args...)
	return nil
}

func flagArg(d *caddyfile.Dispenser, dst *bool) error {
	key := d.Val()
	*dst = true
	if d.NextArg() {
		v, err := strconv.ParseBool(d.Val())
		if err != nil {
			return d.Errf("%s: expected no value, true or false", key)
		}
		*dst = v
	}
	if d.NextArg() {
		return d.Errf("%s: too many values", key)
	}
	return nil
}

func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	key := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%s: %v", key, err)
	}
	if dur <= 0 {
		return d.Errf("%s: must be positive", key)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// mfaArg reads an mfa policy: off, optional or required.
func mfaArg(d *caddyfile.Dispenser, dst *string) error {
	var v string
	if err := oneArg(d, &v); err != nil {
		return d.Errf("mfa: expected one of off, optional, required")
	}
	if _, err := factor.ParsePolicy(v); err != nil {
		return d.Errf("mfa: %v", err)
	}
	*dst = v
	return nil
}
