package caddymodule

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-auth/gatehouse/authserver"
	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

func init() {
	caddy.RegisterModule(AdminAudit{})
}

// AdminAudit serves the audit records kept in the store on Caddy's admin
// endpoint:
//
//	GET /gatehouse/audit?user=&client=&type=&since=&until=&after=&limit=
//
// newest first; since and until are RFC 3339 times (since <= time <
// until); a page that is full has "next", the after of the next page.
// See docs/operations.md.
type AdminAudit struct {
	adminModule
}

// CaddyModule returns the Caddy module information.
func (AdminAudit) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.gatehouse_audit",
		New: func() caddy.Module { return new(AdminAudit) },
	}
}

const (
	adminAuditPath = "/gatehouse/audit"
	// auditPageDefault and auditPageMax bound a page of records.
	auditPageDefault = 100
	auditPageMax     = 1000
	// auditParamMax bounds a filter value: ids and types are short.
	auditParamMax = 512
)

// Routes returns the admin route.
func (a *AdminAudit) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: adminAuditPath, Handler: writeCodedErrors(a.list)}}
}

// auditRecordJSON is a stored record as the API returns it: the fields of
// the gatehouse.audit log (docs/operations.md), with the record's id and
// time.
type auditRecordJSON struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	Result     string    `json:"result,omitempty"`
	Method     string    `json:"method,omitempty"`
	GrantType  string    `json:"grant_type,omitempty"`
	ClientType string    `json:"client_type,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	UserID     string    `json:"user_id,omitempty"`
	Username   string    `json:"username,omitempty"`
	ClientID   string    `json:"client_id,omitempty"`
	GrantID    string    `json:"grant_id,omitempty"`
	Scope      string    `json:"scope,omitempty"`
	ClientIP   string    `json:"client_ip,omitempty"`
}

type auditPage struct {
	Records []auditRecordJSON `json:"records"`
	Next    string            `json:"next,omitempty"`
}

func (a *AdminAudit) list(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if a.app == nil || a.app.server == nil {
		return apiError(http.StatusNotFound, adminNotFound, "the gatehouse app is not configured")
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	q, err := auditQuery(r)
	if err != nil {
		return apiError(http.StatusBadRequest, adminInvalidRequest, err.Error())
	}
	records, err := a.app.server.AuditRecords(r.Context(), q)
	switch {
	case errors.Is(err, authserver.ErrAuditNotKept):
		return apiError(http.StatusNotFound, adminNotFound, "audit records are not kept in this store")
	case errors.Is(err, store.ErrUnavailable):
		return storeUnavailable(a.log, r, err)
	case err != nil:
		a.log.Error("reading audit records failed", zap.Error(err))
		return apiError(http.StatusInternalServerError, adminServerError, "reading the audit records failed; see Caddy's log")
	}
	page := auditPage{Records: make([]auditRecordJSON, 0, len(records))}
	for _, rec := range records {
		page.Records = append(page.Records, auditRecordJSON{
			ID: rec.ID, Time: rec.Time, Event: rec.Type, Result: rec.Result, Method: rec.Method,
			GrantType: rec.GrantType, ClientType: rec.ClientType, Kind: rec.Kind,
			UserID: rec.Subject, Username: rec.Username, ClientID: rec.ClientID, GrantID: rec.GrantID,
			Scope: strings.Join(rec.Scopes, " "), ClientIP: rec.ClientIP,
		})
	}
	if len(records) == q.Limit {
		page.Next = records[len(records)-1].ID
	}
	return writeAdminJSON(w, http.StatusOK, page)
}

// auditQuery reads the filters of a GET /gatehouse/audit request. Unknown
// parameters are refused, so a misspelt filter does not silently widen
// the answer.
func auditQuery(r *http.Request) (store.AuditQuery, error) {
	values := r.URL.Query()
	q := store.AuditQuery{Limit: auditPageDefault}
	for name, vs := range values {
		if len(vs) != 1 {
			return q, errors.New("parameter " + strconv.Quote(name) + " must appear once")
		}
		v := vs[0]
		if len(v) > auditParamMax {
			return q, errors.New("parameter " + strconv.Quote(name) + " is too long")
		}
		var err error
		switch name {
		case "user":
			q.Subject = v
		case "client":
			q.ClientID = v
		case "type":
			q.Type = v
		case "after":
			q.After = v
		case "since":
			q.Since, err = time.Parse(time.RFC3339, v)
		case "until":
			q.Until, err = time.Parse(time.RFC3339, v)
		case "limit":
			q.Limit, err = strconv.Atoi(v)
			if err == nil && (q.Limit < 1 || q.Limit > auditPageMax) {
				err = errors.New("out of range 1-" + strconv.Itoa(auditPageMax))
			}
		default:
			return q, errors.New("unknown parameter " + strconv.Quote(truncateParam(name)))
		}
		if err != nil {
			return q, errors.New("parameter " + name + ": invalid value")
		}
	}
	return q, nil
}

func truncateParam(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAudit)(nil)
	_ caddy.AdminRouter = (*AdminAudit)(nil)
)
