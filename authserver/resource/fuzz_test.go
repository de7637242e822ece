package resource

import "testing"

// FuzzNormalize: the normal form is a fixed point and a valid resource,
// and equivalence is symmetric.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"https://host", "HTTPS://Host:443/a/./b/../%7e?q", "http://[::1]:80/", "https://h/%2f%zz", "urn:x"} {
		f.Add(s, "https://host/")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		n, err := Normalize(a)
		if err == nil {
			again, err := Normalize(n)
			if err != nil || again != n {
				t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", a, n, n, again, err)
			}
		}
		if Equivalent(a, b) != Equivalent(b, a) {
			t.Fatalf("Equivalent(%q, %q) is not symmetric", a, b)
		}
	})
}
