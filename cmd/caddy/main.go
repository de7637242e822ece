// Command caddy is Caddy with its standard modules plus Gatehouse.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/gatehouse-auth/gatehouse/caddymodule"
)

func main() {
	caddycmd.Main()
}
