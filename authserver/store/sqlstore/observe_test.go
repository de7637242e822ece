package sqlstore

import "testing"

func TestOpName(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"SELECT hash, grant_id FROM auth_codes WHERE hash = ?", "select auth_codes"},
		{"select count(*) from grants g join refresh_tokens r on r.grant_id = g.id", "select grants"},
		{"INSERT INTO sessions(id_hash, subject) VALUES ($1, $2)", "insert sessions"},
		{"UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?", "update refresh_tokens"},
		{"DELETE FROM consents WHERE subject = ?", "delete consents"},
		{"  \n\tSELECT 1", "select"},
		{"WITH x AS (SELECT 1) SELECT * FROM x", "with"},
		{"INSERT INTO \"quoted\" VALUES (1)", "insert other"},
		{"", "other"},
	} {
		if got := deriveOpName(tc.query); got != tc.want {
			t.Errorf("deriveOpName(%q) = %q, want %q", tc.query, got, tc.want)
		}
	}
}
