package sqlstore

import "context"

// Ping runs a trivial query on the reader and the writer, each under the
// call deadline: the database answers queries, not merely accepts
// connections. Health checks use it (store.Pinger).
func (s *Store) Ping(ctx context.Context) error {
	for _, p := range []*pool{s.reader, s.writer} {
		var one int
		if err := p.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return s.wrap("ping", err)
		}
		if p == s.writer || s.reader == s.writer {
			break
		}
	}
	return nil
}
