package caddymodule

import (
	"encoding/json"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("gatehouse", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("authserver", parseAuthServer)
	// The issuer's endpoints answer before any authentication directive.
	httpcaddyfile.RegisterDirectiveOrder("authserver", httpcaddyfile.Before, "basic_auth")
}

// parseGlobalOption parses the `gatehouse` global option:
//
//	gatehouse {
//		issuer <url>
//		storage sqlite [<path>] [{
//			timeout <duration>
//		}]
//		storage postgres {
//			dsn <connection string>
//			schema <name>
//			max_conns <n>
//			max_idle_conns <n>
//			conn_max_lifetime <duration>
//			conn_max_idle_time <duration>
//			statement_timeout <duration>
//			timeout <duration>
//		}
//		key_encryption_key <key>...
//		cookie_secret <secret>...
//		authorization_code_lifetime <duration>
//		access_token_lifetime <duration>
//		id_token_lifetime <duration>
//		refresh_token_lifetime <duration>
//		refresh_token_max_lifetime <duration>
//		session_lifetime <duration>
//		registration off|open|token <initial_access_token>...
//		client_id_metadata_documents [{      # https client ids resolved by their metadata documents
//			allow_network <cidr>...       # non-public networks they may come from
//			root_certificate_file <pem>...
//		}]
//		private_key_jwt [{                   # client authentication with signed assertions (RFC 7523)
//			allow_network <cidr>...       # non-public networks jwks_uri may point to
//			root_certificate_file <pem>...
//		}]
//		dpop [{                              # DPoP-bound tokens (RFC 9449)
//			require_nonce
//		}]
//		token_exchange                       # RFC 8693 for clients whose grant_types list it
//		login_throttle|client_auth_throttle off
//		login_throttle|client_auth_throttle {
//			max_failures <n>
//			max_failures_per_ip <n>
//			lockout <duration>
//			backoff <duration>|off
//		}
//		revocation_poll_interval <duration>
//		health_path <path>
//		audit_retention <duration>
//		mfa off|optional|required
//		signing_algorithms <PS256|EdDSA...>
//		key_rotation_interval <duration>
//		key_prepublication <duration>
//		key_reload_interval <duration>
//		client_credentials
//		device_authorization
//		pushed_authorization_requests
//		ui {
//			product_name <name>
//			logo_url <url>
//			primary_color "#rrggbb"
//			templates <dir>
//		}
//		password_policy {
//			min_length <n>
//		}
//		invitation_lifetime <duration>
//		password_reset_lifetime <duration>
//		password_hashing {
//			concurrency <n>
//			cpu_share <fraction>
//			queue_wait <duration>
//			max_queue <n>
//		}
//		smtp {
//			host <host>
//			port <port>
//			username <username>
//			password <password>
//			from <address>
//			starttls
//		}
//		user <username> {
//			id <subject>
//			email <address>
//			email_verified
//			name <display name>
//			phone <number>
//			phone_verified
//			groups <group>...
//			password_hash <argon2id PHC string>
//		}
//		client <client_id> {
//			name|client_name <name>
//			description <text>
//			type first_party|first_party_public|third_party|third_party_public
//			secret_hash <hash>...
//			redirect_uris|redirect_uri <uri>...
//			scopes|scope <scope>...
//			logo_uri|client_uri|policy_uri|tos_uri <url>
//			grant_types|grant_type authorization_code|refresh_token|client_credentials|urn:ietf:params:oauth:grant-type:device_code...
//			token_endpoint_auth_method client_secret_basic|client_secret_post|none
//			id_token_signed_response_alg RS256|ES256|PS256|EdDSA
//			access_token_lifetime <duration>
//			refresh_token_lifetime <duration>
//			post_logout_redirect_uris|post_logout_redirect_uri <uri>...
//			backchannel_logout_uri <uri>
//			bypass_consent_for_offline_access [true|false]
//			contacts|contact <address>...
//			software_id|software_version <text>
//			mfa off|optional|required
//		}
//		provider <name> { ... }	(federation_config.go)
//		password on|off
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(App)
	if existing != nil {
		return nil, d.Err("the gatehouse global option may appear only once")
	}
	d.Next() // the option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch key := d.Val(); key {
		case "issuer":
			if err := oneArg(d, &app.Issuer); err != nil {
				return nil, err
			}
		case "health_path":
			if err := oneArg(d, &app.HealthPath); err != nil {
				return nil, err
			}
		case "storage":
			raw, err := parseStorage(d)
			if err != nil {
				return nil, err
			}
			app.StorageRaw = raw
		case "key_encryption_key":
			app.KeyEncryptionKeys = append(app.KeyEncryptionKeys, d.RemainingArgs()...)
			if len(app.KeyEncryptionKeys) == 0 {
				return nil, d.ArgErr()
			}
		case "signing_algorithms":
			app.SigningAlgorithms = append(app.SigningAlgorithms, d.RemainingArgs()...)
			if len(app.SigningAlgorithms) == 0 {
				return nil, d.ArgErr()
			}
		case "cookie_secret":
			app.CookieSecrets = append(app.CookieSecrets, d.RemainingArgs()...)
			if len(app.CookieSecrets) == 0 {
				return nil, d.ArgErr()
			}
		case "authorization_code_lifetime":
			if err := durationArg(d, &app.AuthCodeLifetime); err != nil {
				return nil, err
			}
		case "access_token_lifetime":
			if err := durationArg(d, &app.AccessTokenLifetime); err != nil {
				return nil, err
			}
		case "id_token_lifetime":
			if err := durationArg(d, &app.IDTokenLifetime); err != nil {
				return nil, err
			}
		case "refresh_token_lifetime":
			if err := durationArg(d, &app.RefreshTokenLifetime); err != nil {
				return nil, err
			}
		case "refresh_token_max_lifetime":
			if err := durationArg(d, &app.RefreshTokenMaxLifetime); err != nil {
				return nil, err
			}
		case "audit_retention":
			if err := durationArg(d, &app.AuditRetention); err != nil {
				return nil, err
			}
		case "mfa":
			if err := mfaArg(d, &app.MFA); err != nil {
				return nil, err
			}
		case "revocation_poll_interval":
			if err := durationArg(d, &app.RevocationPollInterval); err != nil {
				return nil, err
			}
		case "session_lifetime":
			if err := durationArg(d, &app.SessionLifetime); err != nil {
				return nil, err
			}
		case "key_rotation_interval":
			if err := durationArg(d, &app.KeyRotationInterval); err != nil {
				return nil, err
			}
		case "key_prepublication":
			if err := durationArg(d, &app.KeyPrePublication); err != nil {
				return nil, err
			}
		case "key_reload_interval":
			if err := durationArg(d, &app.KeyReloadInterval); err != nil {
				return nil, err
			}
		case "login_throttle", "client_auth_throttle":
			tc, err := parseThrottle(d)
			if err != nil {
				return nil, err
			}
			if key == "login_throttle" {
				app.LoginThrottle = tc
			} else {
				app.ClientAuthThrottle = tc
			}
		case "registration":
			rc, err := parseRegistration(d)
			if err != nil {
				return nil, err
			}
			app.Registration = rc
		case "client_id_metadata_documents":
			mc, err := parseMetadataDocuments(d)
			if err != nil {
				return nil, err
			}
			app.ClientIDMetadataDocuments = mc
		case "client_credentials", "device_authorization", "pushed_authorization_requests":
			if err := parseProtocolSwitch(d, app, key); err != nil {
				return nil, err
			}
		case "private_key_jwt":
			pc, err := parsePrivateKeyJWT(d)
			if err != nil {
				return nil, err
			}
			app.PrivateKeyJWT = pc
		case "dpop":
			dc, err := parseDPoP(d)
			if err != nil {
				return nil, err
			}
			app.DPoP = dc
		case "token_exchange":
			if d.NextArg() {
				return nil, d.Errf("token_exchange takes no value")
			}
			app.TokenExchange = true
		case "ui":
			u, err := parseUI(d)
			if err != nil {
				return nil, err
			}
			app.UI = u
		case "password_policy":
			p, err := parsePasswordPolicy(d)
			if err != nil {
				return nil, err
			}
			app.PasswordPolicy = p
		case "password_hashing":
			c, err := parsePasswordHashing(d)
			if err != nil {
				return nil, err
			}
			app.PasswordHashing = c
		case "smtp":
			c, err := parseSMTP(d)
			if err != nil {
				return nil, err
			}
			app.SMTP = c
		case "invitation_lifetime":
			if err := durationArg(d, &app.InvitationLifetime); err != nil {
				return nil, err
			}
		case "password_reset_lifetime":
			if err := durationArg(d, &app.PasswordResetLifetime); err != nil {
				return nil, err
			}
		case "user":
			u, err := parseUser(d)
			if err != nil {
				return nil, err
			}
			app.Users = append(app.Users, u)
		case "client":
			c, err := parseClient(d)
			if err != nil {
				return nil, err
			}
			app.Clients = append(app.Clients, c)
		case "provider":
			p, err := parseProvider(d)
			if err != nil {
				return nil, err
			}
			app.Providers = append(app.Providers, p)
		case "password":
			var on bool
			if err := onOffArg(d, &on); err != nil {
				return nil, err
			}
			app.PasswordOff = !on
		default:
			return nil, d.Errf("gatehouse: unknown option %q", key)
		}
	}
	return httpcaddyfile.App{Name: "gatehouse", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseUI(d *caddyfile.Dispenser) (*UIConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	u := new(UIConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch key := d.Val(); key {
		case "product_name":
			err = oneArg(d, &u.ProductName)
		case "logo_url":
			err = oneArg(d, &u.LogoURL)
		case "primary_color":
			// "#" starts a Caddyfile comment, so the color may be
			// written quoted ("#0f766e") or bare (0f766e).
			if err = oneArg(d, &u.PrimaryColor); err == nil && !strings.HasPrefix(u.PrimaryColor, "#") {
				u.PrimaryColor = "#" + u.PrimaryColor
			}
		case "templates":
			err = oneArg(d, &u.TemplatesDir)
		default:
			err = d.Errf("ui: unknown option %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}

func parseUser(d *caddyfile.Dispenser) (*UserConfig, error) {
	u := new(UserConfig)
	if err := oneArg(d, &u.Username); err != nil {
		return nil, d.Errf("user: expected exactly one username")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch key := d.Val(); key {
		case "id":
			err = oneArg(d, &u.ID)
		case "email":
			err = oneArg(d, &u.Email)
		case "email_verified":
			err = flagArg(d, &u.EmailVerified)
		case "name":
			err = oneArg(d, &u.Name)
		case "phone":
			err = oneArg(d, &u.Phone)
		case "phone_verified":
			err = flagArg(d, &u.PhoneVerified)
		case "groups":
			u.Groups = append(u.Groups, d.RemainingArgs()...)
		case "password_hash":
			err = oneArg(d, &u.PasswordHash)
		default:
			err = d.Errf("user %s: unknown option %q", u.Username, key)
		}
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}

// parseClient parses a client block. Its options are secret_hash and the
// client metadata fields (clients.Specs), a list under its singular name
// too ("redirect_uri"); the metadata codec reads each value as it reads
// the JSON configuration.
func parseClient(d *caddyfile.Dispenser) (*ClientConfig, error) {
	c := new(ClientConfig)
	if err := oneArg(d, &c.ID); err != nil {
		return nil, d.Errf("client: expected exactly one client id")
	}
	lists := map[string][]string{} // a list option may be repeated
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		if key == "secret_hash" {
			if err := manyArgs(d, &c.SecretHashes); err != nil {
				return nil, err
			}
			continue
		}
		if key == "mfa" {
			if err := mfaArg(d, &c.MFA); err != nil {
				return nil, err
			}
			continue
		}
		spec, ok := clients.LookupSpec(key)
		if !ok {
			return nil, d.Errf("client %s: unknown option %q", c.ID, key)
		}
		var value any
		var err error
		switch spec.Kind {
		case clients.KindString, clients.KindJSON:
			var v string
			err = oneArg(d, &v)
			value = v
		case clients.KindList:
			l := lists[spec.Name]
			err = manyArgs(d, &l)
			lists[spec.Name], value = l, l
		case clients.KindBool:
			var v bool
			err = flagArg(d, &v)
			value = v
		case clients.KindDuration:
			var v caddy.Duration
			err = durationArg(d, &v)
			value = int64(v) // nanoseconds, as the JSON configuration counts them
		}
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(value)
		if err == nil {
			err = c.Decode(map[string]json.RawMessage{spec.Name: raw}, clients.ConfigJSON)
		}
		if err != nil {
			return nil, d.Errf("client %s: %v", c.ID, err)
		}
	}
	return c, nil
}

// parseAuthServer parses the `authserver` directive, which takes no
// arguments: everything is configured in the gatehouse global option.
func parseAuthServer(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // directive name
	if h.NextArg() {
		return nil, h.Errf("authserver takes no arguments; configure it in the gatehouse global option")
	}
	if h.NextBlock(0) {
		return nil, h.Errf("authserver takes no block; configure it in the gatehouse global option")
	}
	return new(AuthServerHandler), nil
}

// Interface guards
var _ httpcaddyfile.UnmarshalGlobalFunc = parseGlobalOption
