package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// checkEqual reports every field where got differs from want. Times are
// compared to the millisecond with Equal, and nil and empty slices are equal.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	var diffs []string
	diffValue(&diffs, "", reflect.ValueOf(want), reflect.ValueOf(got))
	if len(diffs) > 0 {
		t.Errorf("%s is not what was expected:\n\t%s", what, strings.Join(diffs, "\n\t"))
	}
}

func diffValue(diffs *[]string, path string, want, got reflect.Value) {
	if want.Type() != got.Type() {
		*diffs = append(*diffs, fmt.Sprintf("%s: got a %s, want a %s", path, got.Type(), want.Type()))
		return
	}
	if want.Type() == timeType {
		w := want.Interface().(time.Time).Truncate(time.Millisecond)
		g := got.Interface().(time.Time).Truncate(time.Millisecond)
		if !w.Equal(g) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, formatTime(g), formatTime(w)))
		}
		return
	}
	switch want.Kind() {
	case reflect.Struct:
		for i := range want.NumField() {
			diffValue(diffs, path+"."+want.Type().Field(i).Name, want.Field(i), got.Field(i))
		}
	case reflect.Slice:
		if want.Len() != got.Len() {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %d elements %v, want %d %v", path, got.Len(), got, want.Len(), want))
			return
		}
		for i := range want.Len() {
			diffValue(diffs, fmt.Sprintf("%s[%d]", path, i), want.Index(i), got.Index(i))
		}
	default:
		if want.Interface() != got.Interface() {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %#v, want %#v", path, got, want))
		}
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "zero time"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// must fails the test when a call that should succeed did not.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails the test unless errors.Is(err, target). A nil target
// accepts any non-nil error, for failures the contract does not name.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err == nil:
		t.Fatalf("%s: succeeded, want an error", what)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}
