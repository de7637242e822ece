package sqlstore

import (
	"strings"
	"sync"
)

// OpTimer starts timing one database call named op and returns the
// function that ends it. The store calls it around every statement and
// transaction when set (WithOpTimer); the caller reads the clock, as for
// every other time the store handles.
type OpTimer func(op string) (done func())

// WithOpTimer times every database call: statements as "<verb>
// <table>" ("select auth_codes", "update refresh_tokens"), transactions,
// from BEGIN to COMMIT or ROLLBACK, as "transaction". Queries are
// literals, so the names are a small fixed set, fit for metric labels.
func WithOpTimer(t OpTimer) Option {
	return func(o *options) { o.timer = t }
}

// opNames caches the name of each query text.
var opNames sync.Map // query -> string

// opName names a query by its verb and first table.
func opName(query string) string {
	if v, ok := opNames.Load(query); ok {
		return v.(string)
	}
	name := deriveOpName(query)
	opNames.Store(query, name)
	return name
}

func deriveOpName(query string) string {
	words := strings.Fields(strings.ToLower(query))
	if len(words) == 0 {
		return "other"
	}
	verb := words[0]
	var after string
	switch verb {
	case "select", "delete":
		after = "from"
	case "insert":
		after = "into"
	case "update":
		if len(words) > 1 {
			return verb + " " + tableName(words[1])
		}
		return verb
	default:
		return verb
	}
	for i, w := range words[:len(words)-1] {
		if w == after {
			return verb + " " + tableName(words[i+1])
		}
	}
	return verb
}

// tableName keeps the identifier at the start of w: a table name followed
// by "(" or "," in the same word loses them.
func tableName(w string) string {
	end := strings.IndexFunc(w, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') })
	if end == 0 {
		return "other"
	}
	if end > 0 {
		return w[:end]
	}
	return w
}

// RoundTrip is one message exchange with the database.
type RoundTrip struct {
	// Op names it as WithOpTimer does ("select gatehouse_sessions"), or
	// is "begin", "commit" or "rollback".
	Op string
	// Query is the statement as sent (placeholders in the database's
	// style), or BEGIN, COMMIT or ROLLBACK; Args are its arguments.
	Query string
	Args  []any
}

// WithRoundTrips calls count once per message exchange with the database
// a call makes in steady state (prepared statements): each statement,
// counted again when retried, and a transaction's BEGIN, COMMIT and
// ROLLBACK. Round trips, not time, are what set a networked database's
// throughput against an embedded one's; tests count them per operation
// and check the plans of the statements (no table scans on the hot path).
func WithRoundTrips(count func(RoundTrip)) Option {
	return func(o *options) { o.trip = count }
}

func (p *pool) roundTrip(query string, args []any) {
	if p.trip == nil {
		return
	}
	op := strings.ToLower(query)
	if op != "begin" && op != "commit" && op != "rollback" {
		op = opName(query)
	}
	p.trip(RoundTrip{Op: op, Query: query, Args: args})
}

// time starts timing op; done is a no-op without a timer.
func (p *pool) time(op string) func() {
	if p.timer == nil {
		return noop
	}
	return p.timer(op)
}

func noop() {}
