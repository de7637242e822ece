package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres"
	"github.com/gatehouse-auth/gatehouse/authserver/store/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/authserver/store/storetest"
)

// TestExactlyOnceUnderConnectionFaults runs the redemption and rotation
// races while the server terminates the store's connections every few
// milliseconds (pg_terminate_backend, as an administrator or a failover
// does): the store runs a call again on a new connection when nothing was
// committed, and never runs a write twice.
func TestExactlyOnceUnderConnectionFaults(t *testing.T) {
	t.Parallel()
	dsn, schema := pgtest.Schema(t)
	// pg_terminate_backend only signals a backend; its timeout argument
	// (PostgreSQL 14) waits until the backend is gone, so that no cut
	// lands after faults are switched off.
	//
	// A name of its own, so that only this test's connections are cut,
	// whatever else uses the server.
	app := "gatehouse_faults_" + strings.ToLower(rand.Text()[:10])
	st, err := postgres.Open(t.Context(), postgres.Config{DSN: withAppName(dsn, app), Schema: schema, MaxOpenConns: 8}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	var (
		on       atomic.Bool
		killing  sync.Mutex // held while a round of terminations runs
		cut      atomic.Int64
		done     = make(chan struct{})
		stopped  sync.WaitGroup
		killFreq = 3 * time.Millisecond
	)
	stopped.Go(func() {
		tick := time.NewTicker(killFreq)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			killing.Lock()
			if !on.Load() {
				killing.Unlock()
				continue
			}
			var n int64
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := admin.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid, 1000))
				FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
			cancel()
			killing.Unlock()
			if err == nil {
				cut.Add(n)
			}
		}
	})
	faults := func(enable bool) {
		on.Store(enable)
		if !enable {
			// Wait out a round of terminations already under way.
			killing.Lock()
			on.Store(false) // (again, inside: the lock is a barrier)
			killing.Unlock()
		}
	}
	storetest.RunUnderFaults(t, st, faults)
	close(done)
	stopped.Wait()
	if cut.Load() == 0 {
		t.Fatal("no connection was cut: the test proved nothing")
	}
	t.Logf("%d store connections cut by the server", cut.Load())
}

// withAppName sets application_name in a URL or key=value DSN.
func withAppName(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "application_name=" + name
	}
	return dsn + " application_name=" + name
}
