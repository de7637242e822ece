package authserver

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreDoesNotImportCaddy keeps the protocol core independent of Caddy:
// only package caddymodule may import it.
func TestCoreDoesNotImportCaddy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/caddyserver/") {
			t.Errorf("authserver depends on %s", pkg)
		}
	}
}
