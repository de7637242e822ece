package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	_ "modernc.org/sqlite"
)

// A transaction the database aborted to settle a conflict is run again, a
// bounded number of times; any other failure is not.
func TestRetryableAbortRetried(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	abort := errors.New("deadlock detected")
	other := errors.New("syntax error")
	retryable := func(err error) bool { return errors.Is(err, abort) }
	tests := []struct {
		name      string
		retryable func(error) bool
		fails     int   // how many first attempts fail
		failWith  error // and with what
		wantCalls int
		wantErr   error
	}{
		{"aborted once", retryable, 1, abort, 2, nil},
		{"aborted every time", retryable, 99, abort, maxAttempts, abort},
		{"another error", retryable, 1, other, 1, other},
		{"dialect without retries", nil, 1, abort, 1, abort},
		{"lost race", nil, 1, errRaced, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(db, true)
			s := &Store{reader: p, writer: p, d: Dialect{Name: "test", IsUniqueViolation: func(error) bool { return false }, IsRetryable: tt.retryable}}
			calls := 0
			err := s.inWriteTx(t.Context(), func(*txn) error {
				calls++
				if calls <= tt.fails {
					return tt.failWith
				}
				return nil
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("ran %d times with result %v, want %d times and %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}

// A transaction whose connection was lost before COMMIT runs once more
// (nothing of it was committed), never twice more, and never after a
// deadline; a lost COMMIT runs again only when the driver says it was
// never sent.
func TestLostConnectionRetriedOnce(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lost := errors.New("connection reset by peer")
	unsent := errors.New("write failed before anything was sent")
	d := Dialect{Name: "test", IsUniqueViolation: func(error) bool { return false },
		IsConnectionError: func(err error) bool { return errors.Is(err, lost) || errors.Is(err, unsent) },
		NothingSent:       func(err error) bool { return errors.Is(err, unsent) }}
	tests := []struct {
		name      string
		fails     int
		failWith  error
		wantCalls int
		wantErr   error
	}{
		{"lost once", 1, lost, 2, nil},
		{"lost every time", 99, lost, 2, lost},
		{"lost at an unsent commit", 1, commitError{unsent}, 2, nil},
		{"lost at a sent commit", 1, commitError{lost}, 1, lost},
		{"timed out", 1, context.DeadlineExceeded, 1, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(db, true)
			p.connLost = d.IsConnectionError
			s := &Store{reader: p, writer: p, d: d}
			calls := 0
			err := s.inWriteTx(t.Context(), func(*txn) error {
				calls++
				if calls <= tt.fails {
					return tt.failWith
				}
				return nil
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("ran %d times with result %v, want %d times and %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}
