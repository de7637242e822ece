package ui

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestRegisteredPages: every registered page renders, full and empty, as
// a value and as a pointer, in every language, and passes the checks all
// pages must pass; every page template is registered exactly once.
func TestRegisteredPages(t *testing.T) {
	r := newTestRenderer(t, Branding{}, "")
	for _, p := range registered {
		name := p.templateName()
		empty := reflect.Zero(reflect.TypeOf(p)).Interface().(Page)
		ptr := reflect.New(reflect.TypeOf(p))
		ptr.Elem().Set(reflect.ValueOf(p))
		tests := []struct {
			variant string
			page    Page
		}{
			{"full", p},
			{"empty", empty},
			{"pointer", ptr.Interface().(Page)},
		}
		for _, tc := range tests {
			for lang := range catalogs {
				t.Run(name+"/"+tc.variant+"/"+lang, func(t *testing.T) {
					page := withBase(tc.page, func(b *Base) { b.Lang, b.CSSURL = lang, "/ui/gatehouse.css?v=test" })
					rec, doc, body := render(t, r, http.StatusOK, page)
					if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
						t.Errorf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
					}
					checkPageBasics(t, doc, body, lang)
				})
			}
		}
	}

	entries, err := embedded.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	var templates []string
	for _, e := range entries {
		if n := e.Name(); n != layoutFile && n != partialsFile {
			templates = append(templates, n)
		}
	}
	names := slices.Clone(pageFiles)
	slices.Sort(names)
	if !slices.Equal(names, templates) {
		t.Errorf("registered page templates %v, want one for each of %v", names, templates)
	}
}

// strayPage names a template but is not registered; bareStray has no
// Base either.
type strayPage struct{ Base }

func (strayPage) templateName() string { return "stray.html" }

type bareStray struct{}

func (bareStray) templateName() string { return "error.html" }

// TestRenderRejectsUnregisteredPages: a page type that is not registered,
// or that does not embed Base, is an error, and nothing is written.
func TestRenderRejectsUnregisteredPages(t *testing.T) {
	r := newTestRenderer(t, Branding{}, "")
	tests := []struct {
		page Page
		want string
	}{
		{strayPage{}, "not a registered page"},
		{&strayPage{}, "not a registered page"},
		{bareStray{}, "cannot render"},
		{(*strayPage)(nil), "cannot render"},
	}
	for _, tc := range tests {
		w := &spyWriter{}
		err := r.Render(w, http.StatusOK, tc.page)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Render(%T) = %v, want an error with %q", tc.page, err, tc.want)
		}
		if w.touched() {
			t.Errorf("Render(%T) wrote to the response", tc.page)
		}
	}
}
