package postgres

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// TCP settings of every connection to PostgreSQL. Without them a
// connection whose peer vanished without a reset (a partition, a frozen
// proxy, a failover) stays open until the kernel gives up, about fifteen
// minutes by default, and the pool keeps handing it out.
const (
	// keepAliveIdle, keepAliveInterval and keepAliveCount probe an idle
	// connection after 10 s and drop it after two unanswered probes 5 s
	// apart, so a dead connection waiting in the pool is found in about
	// 20 s rather than 2 hours.
	keepAliveIdle     = 10 * time.Second
	keepAliveInterval = 5 * time.Second
	keepAliveCount    = 2
	// tcpUserTimeout drops a connection whose sent data has gone
	// unacknowledged this long (Linux TCP_USER_TIMEOUT, RFC 5482): a
	// statement sent into a silent network fails here even if nothing
	// cancels it. Longer than the call timeout, which normally ends the
	// wait first; this is the floor under every other bound.
	tcpUserTimeout = 20 * time.Second
)

// dialer returns the dialer of PostgreSQL connections: connectTimeout
// bounds the TCP connect, keep-alives and the user timeout find a dead
// peer.
func dialer(connectTimeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout: connectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     keepAliveIdle,
			Interval: keepAliveInterval,
			Count:    keepAliveCount,
		},
		Control: setUserTimeout,
	}
}

// suspectFor is how long after a lost connection every pooled connection
// is pinged before reuse.
const suspectFor = 2 * time.Second

// connHealth decides when a pooled connection is pinged before it is
// handed out. pgx pings one idle for over a second; after a connection
// was found dead, the others are suspect too (the server restarted, a
// proxy dropped them all), so for a short while every one is pinged, and
// the dead ones are discarded before a statement is sent on them. A timer
// ends the while: the store never reads the clock.
type connHealth struct {
	suspects atomic.Int64 // losses of the last suspectFor
}

// lost marks the pool's connections suspect for suspectFor.
func (h *connHealth) lost() {
	h.suspects.Add(1)
	time.AfterFunc(suspectFor, func() { h.suspects.Add(-1) })
}

func (h *connHealth) shouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	return p.IdleDuration > time.Second || h.suspects.Load() > 0
}
