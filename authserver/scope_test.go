package authserver

import (
	"slices"
	"testing"
)

func TestScopeSets(t *testing.T) {
	if !containsAll([]string{"a", "b"}, []string{"b"}) || containsAll([]string{"a"}, []string{"a", "b"}) || !containsAll(nil, nil) {
		t.Error("containsAll misjudged")
	}
	if got := union([]string{"a", "b"}, []string{"b", "c"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("union = %q", got)
	}
}
