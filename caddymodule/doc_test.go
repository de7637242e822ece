package caddymodule

import (
	"os"
	"reflect"
	"regexp"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestDocListsEveryModule: the package documentation lists exactly the
// Caddy modules this package registers.
func TestDocListsEveryModule(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^//\t([a-z_.]+) +\S`).FindAllSubmatch(doc, -1) {
		listed[string(m[1])] = true
	}
	ours := reflect.TypeFor[App]().PkgPath()
	registered := map[string]bool{}
	for _, id := range caddy.Modules() {
		info, err := caddy.GetModule(id)
		if err != nil {
			t.Fatal(err)
		}
		typ := reflect.TypeOf(info.New())
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.PkgPath() == ours {
			registered[id] = true
			if !listed[id] {
				t.Errorf("doc.go does not list the module %s", id)
			}
		}
	}
	for id := range listed {
		if !registered[id] {
			t.Errorf("doc.go lists %s, which this package does not register", id)
		}
	}
	if len(registered) == 0 {
		t.Fatal("no module of this package is registered")
	}
}
