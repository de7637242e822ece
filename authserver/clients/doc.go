// Package clients holds Gatehouse's OAuth clients (Connected Apps): the
// four client types, client metadata and its rules, redirect URI
// matching, client secrets, and where clients come from: the
// configuration (Static), the store, managed at run time (Registry), and
// the gates' own client (Gate).
//
// One type, Metadata, describes a client wherever it is written, and one
// codec (codec.go) reads and writes it in each JSON dialect: dynamic
// client registration (RFC 7591, RFC 7592), the admin API and Caddy's
// configuration. The HTTP endpoints are package authserver's, which
// imports this one; this package never imports authserver.
package clients
