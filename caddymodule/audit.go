package caddymodule

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/exp/zapslog"

	"github.com/gatehouse-auth/gatehouse/authserver"
)

// auditLogger is the gatehouse.audit logger: Caddy's logging for this
// module, under its own name, so that a `log` block with `include
// gatehouse.audit` sends the audit records to a file of their own (and
// `exclude gatehouse.audit` keeps them out of the default log).
func auditLogger(ctx caddy.Context) *slog.Logger {
	return slog.New(zapslog.NewHandler(ctx.Logger().Core(), zapslog.WithName(authserver.AuditLogName)))
}

// audit records an administrative action of the admin API, with the
// caller's address, in the audit log (and metrics, where counted).
func (a *App) audit(ctx context.Context, r *http.Request, e authserver.Event) {
	if a == nil || a.server == nil {
		return
	}
	e.ClientIP = adminCaller(r)
	a.server.Emit(ctx, e)
}

// adminCaller is the address of an admin API request's peer.
func adminCaller(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// auditRetention is AuditRetention or, when unset, its default; a
// negative value is passed on for authserver.New to refuse.
func (a *App) auditRetention() time.Duration {
	if a.AuditRetention == 0 {
		return authserver.DefaultAuditRetention
	}
	return time.Duration(a.AuditRetention)
}
