package sqlstore

import (
	"slices"
	"testing"
	"time"
)

func TestMillis(t *testing.T) {
	if got := millis(time.Time{}); got != 0 {
		t.Errorf("millis(zero) = %d, want 0", got)
	}
	if got := fromMillis(0); !got.IsZero() {
		t.Errorf("fromMillis(0) = %v, want the zero time", got)
	}
	in := time.Date(2031, 3, 14, 15, 9, 26, 535_897_932, time.FixedZone("x", 3600))
	got := fromMillis(millis(in))
	if want := in.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("round trip of %v gave %v, want %v", in, got, want)
	}
	before1970 := time.Date(1969, 7, 20, 20, 17, 40, 999_999_999, time.UTC)
	if got := fromMillis(millis(before1970)); !got.Equal(before1970.Truncate(time.Millisecond)) {
		t.Errorf("round trip of %v gave %v", before1970, got)
	}
}

func TestLists(t *testing.T) {
	for _, l := range [][]string{nil, {}, {"openid"}, {"a b", `q"uote`, "ünïcode", ""}} {
		enc, err := encodeList(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeList(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, l) {
			t.Errorf("round trip of %q gave %q", l, got)
		}
	}
	if _, err := encodeList([]string{"\xff"}); err == nil {
		t.Error("encodeList accepted invalid UTF-8, which JSON would silently alter")
	}
}
