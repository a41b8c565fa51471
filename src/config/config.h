/* config.h -- the server configuration of flyteauth: flyteadmin's YAML layout
 * (and the flyte-binary / flyte-core Helm values files that render it) read
 * into one plain, typed, validated struct.
 *
 * What this module does: reads one YAML file (bounded by FA_MAX_CONFIG_FILE
 * and FA_MAX_YAML_DEPTH; aliases are refused, so no "billion laughs"),
 * deep-merges its `---` documents in order, recognises its shape (a flyteadmin
 * config, a flyte-binary values file or a flyte-core values file), applies it
 * over flyteadmin's defaults, and validates it: every problem becomes one line
 * "FILE:LINE:COL: message" in a struct fa_config_diag, all of them collected
 * (up to FA_CONFIG_MAX_ERRORS) before the load fails. What it does not do:
 * read secrets, open key files, resolve host names or reach the IdP -- later
 * layers do that, and print their own complaints at the positions kept here
 * (struct fa_config_pos) so that "secret missing" still points at a line.
 *
 * Keys match case-insensitively, as Flyte's loader (viper) does. Keys that
 * flyteadmin knows but flyteauth does not use (logger, storage, server.grpc,
 * database.connMaxLifeTime, ...) are accepted and ignored; any other key is an
 * error with a "did you mean" hint, except an unknown top-level section that
 * is not close to a known one, which is ignored with a note.
 *
 * Reading a config: `struct fa_config` is public, read-only plain data once
 * loaded; read fields directly (cfg->server.http_port,
 * cfg->auth.app_auth.self.access_token_lifespan_ms). Every string field is
 * non-NULL ("" when unset) and owned by the config; lists are items + count.
 * A loaded config is never modified, so threads may share it. Nothing in it
 * may be freed or changed by callers.
 *
 * Listen address: flyteadmin listens on all addresses (0.0.0.0). A config
 * loaded from a file therefore has server.bind_address "0.0.0.0" unless the
 * file sets `server.bindAddress`; the built-in defaults used when no file is
 * given (fa_config_new_defaults: the development server) bind to 127.0.0.1 so
 * that an unconfigured flyteauth is never reachable from another machine.
 */
#ifndef FA_CONFIG_H
#define FA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- caps (config-specific; the file and depth caps are in limits.h) ---- */

/* Error lines collected before the loader stops recording: an operator fixes
 * the first few and re-runs; hundreds of lines from a wrong file help nobody. */
#define FA_CONFIG_MAX_ERRORS 20
/* Warning and note lines kept, for the same reason. */
#define FA_CONFIG_MAX_NOTES 40
/* YAML nodes in one file: a complete flyte-core values file has ~3,000; the
 * cap bounds the parse tree of a hostile file made of tiny flow items. */
#define FA_CONFIG_MAX_NODES 50000
/* Items in one list (scopes, redirect URIs, authorizedUris, ...): real lists
 * have a handful; the cap bounds per-request loops that scan them. */
#define FA_CONFIG_MAX_LIST 256
/* Static clients and local users: each is scanned at login/token time. */
#define FA_CONFIG_MAX_CLIENTS 128
#define FA_CONFIG_MAX_USERS 1024
/* Inline secret values taken from a Helm values file. */
#define FA_CONFIG_MAX_INLINE_SECRETS 64

/* ---- positions and diagnostics ------------------------------------------- */

/* Where a value came from. `file` is borrowed from the config (valid while
 * the config lives); NULL for a built-in default. line/col are 1-based; 0
 * when the value is a default or was derived (then `file` names the file the
 * config came from, or is NULL). */
struct fa_config_pos {
	const char *file;
	int line;
	int col;
};

/* A token bucket: `burst` requests at once, refilled at `per_minute`. */
struct fa_config_rate {
	int burst;        /* 1..1,000,000 */
	int per_minute;   /* 1..6,000,000 */
};

/* Formats pos as "FILE:LINE:COL", "FILE" (line 0) or "built-in default"
 * (file NULL) into buf (always NUL-terminated; truncated to fit). Returns
 * buf, so it can be used in a printf argument list. */
const char *fa_config_pos_format(const struct fa_config_pos *pos, char *buf, size_t cap);

enum fa_config_severity {
	FA_CONFIG_ERROR = 0,    /* the config is refused */
	FA_CONFIG_WARNING = 1,  /* accepted, but probably not what was meant */
	FA_CONFIG_NOTE = 2,     /* accepted; for information */
};

/* Collected diagnostics, one line each: "FILE:LINE:COL: message" for errors,
 * "FILE:LINE:COL: warning: message" and "FILE:LINE:COL: note: message" for
 * the others ("FILE: message" when no line applies, e.g. an unreadable file).
 * Lines never contain a secret value. A diag may be reused for several loads;
 * lines accumulate. */
struct fa_config_diag;

/* NULL on allocation failure. */
struct fa_config_diag *fa_config_diag_new(void);
void fa_config_diag_free(struct fa_config_diag *d);               /* NULL: no-op */
size_t fa_config_diag_count(const struct fa_config_diag *d);      /* all lines */
size_t fa_config_diag_errors(const struct fa_config_diag *d);     /* error lines */
/* Line i (0-based) borrowed from d, or NULL when i is out of range. */
const char *fa_config_diag_line(const struct fa_config_diag *d, size_t i);
enum fa_config_severity fa_config_diag_severity(const struct fa_config_diag *d, size_t i);

/* ---- the configuration ----------------------------------------------------- */

/* Which shape the file had (fa_config_source_str names it for `config check`). */
enum fa_config_source {
	FA_CONFIG_SOURCE_DEFAULTS = 0,      /* no file: fa_config_new_defaults */
	FA_CONFIG_SOURCE_FLYTEADMIN = 1,    /* a flyteadmin config file */
	FA_CONFIG_SOURCE_FLYTE_BINARY = 2,  /* a flyte-binary Helm values file */
	FA_CONFIG_SOURCE_FLYTE_CORE = 3,    /* a flyte-core Helm values file */
};
/* Static English name, e.g. "flyte-core Helm values"; never NULL. */
const char *fa_config_source_str(enum fa_config_source s);

enum fa_config_auth_server {
	FA_CONFIG_AS_SELF = 0,      /* flyteauth issues tokens ("Self") */
	FA_CONFIG_AS_EXTERNAL = 1,  /* tokens come from an external AS */
};

/* cookieSetting.sameSitePolicy: flyteadmin's names are DefaultMode, LaxMode,
 * StrictMode, NoneMode; Lax, Strict, None and Default are accepted too.
 * DEFAULT means flyteauth's default, Lax (SPEC §4). */
enum fa_config_samesite {
	FA_CONFIG_SAMESITE_DEFAULT = 0,
	FA_CONFIG_SAMESITE_LAX = 1,
	FA_CONFIG_SAMESITE_STRICT = 2,
	FA_CONFIG_SAMESITE_NONE = 3,
};

/* selfAuthServer.tokenSigningAlgorithm (flyteauth extension). */
enum fa_config_sig_alg {
	FA_CONFIG_ALG_RS256 = 0,
	FA_CONFIG_ALG_ES256 = 1,
	FA_CONFIG_ALG_EDDSA = 2,
};

/* logger.formatter.type: flytestdlib's json (its default) and text.
 * flyteauth's own default, with no logger section, is text. */
enum fa_config_log_format {
	FA_CONFIG_LOG_TEXT = 0,
	FA_CONFIG_LOG_JSON = 1,
};

enum fa_config_db {
	FA_CONFIG_DB_SQLITE = 0,
	FA_CONFIG_DB_POSTGRES = 1,
};

/* The bounds of server.workers and server.bcryptWorkers: the HTTP layer's
 * FA_HTTP_MAX_THREADS and FA_HTTP_MAX_BLOCKING_THREADS (serve asserts
 * they agree). */
#define FA_CONFIG_MAX_WORKERS 64
#define FA_CONFIG_MAX_BCRYPT_WORKERS 16

/* Entries of server.security.trustedProxies (the HTTP layer's
 * FA_HTTP_MAX_PROXIES). */
#define FA_CONFIG_MAX_PROXIES 64

/* A list of strings; items is NULL when count is 0. */
struct fa_config_list {
	char **items;
	size_t count;
};

/* One entry of selfAuthServer.staticClients (Flyte's fosite client, keys
 * spelled as Flyte does: id, client_secret, rotated_secrets, redirect_uris,
 * grant_types, response_types, scopes, audience, public). A client defined
 * in the file replaces the default client of the same map key as a whole,
 * as in flyteadmin. */
struct fa_config_client {
	char *key;              /* the map key (a name; `id` is what clients send) */
	char *id;
	/* base64(bcrypt) (Flyte's form) or a raw $2a$/$2b$/$2y$ hash; "" = none.
	 * Checked for shape only. A confidential client with "" can never
	 * authenticate: the one case is the built-in flytepropeller default,
	 * which deliberately lacks flyteadmin's public default hash. */
	char *client_secret;
	struct fa_config_list rotated_secrets;   /* older hashes still accepted */
	struct fa_config_list redirect_uris;     /* absolute http(s) URLs */
	struct fa_config_list grant_types;
	struct fa_config_list response_types;
	struct fa_config_list scopes;
	struct fa_config_list audience;
	/* Where /oauth2/end_session may send the browser after logout (OpenID
	 * Connect RP-Initiated Logout 1.0; flyteauth extension): absolute
	 * http(s) URLs, matched exactly. */
	struct fa_config_list post_logout_redirect_uris;
	bool is_public;                          /* `public` */
	bool is_default;                         /* from built-in defaults */
	struct fa_config_pos pos;                /* the map key */
	struct fa_config_pos id_pos;
	struct fa_config_pos secret_pos;
};

/* One entry of auth.userAuth.localUsers (flyteauth extension), used when
 * openId.baseUrl is empty. A user's subject is its username. */
struct fa_config_user {
	char *username;
	char *password_hash;    /* base64(bcrypt) or raw $2a$/$2b$/$2y$ */
	char *name;
	char *email;
	bool email_verified;    /* `emailVerified`: the OIDC email_verified claim */
	struct fa_config_list groups;   /* the `groups` claim */
	struct fa_config_pos pos;
	struct fa_config_pos hash_pos;
};

/* A secret value written inline in a Helm values file (auth.oidc.clientSecret
 * -> "oidc_client_secret", auth.internal.clientSecret and
 * secrets.adminOauthClientCredentials.clientSecret -> "client_secret",
 * flyteadmin.secrets.<name> -> <name>). The secrets layer consults these
 * before the environment and the secrets directory. Zeroed on free. */
struct fa_config_secret {
	char *name;
	char *value;
	struct fa_config_pos pos;
};

struct fa_config {
	enum fa_config_source source;
	char *path;             /* the file loaded; "" for built-in defaults */

	struct {
		int http_port;                          /* httpPort, 8088 */
		char *bind_address;                     /* bindAddress, see top */
		/* workers / bcryptWorkers (extensions): HTTP worker threads
		 * and the threads that check passwords and client secrets;
		 * 0 (absent): the CPUs usable (fa_cpus_usable), and half of
		 * them, at least one. */
		int workers;
		int bcrypt_workers;
		struct fa_config_pos http_port_pos;
		struct fa_config_pos bind_address_pos;
		struct {
			bool secure;                    /* false */
			bool use_auth;                  /* true */
			bool allow_cors;                /* true */
			bool insecure_cookie_header;    /* false: cookies are Secure */
			struct fa_config_list allowed_origins;   /* ["*"] */
			struct fa_config_list allowed_headers;   /* Content-Type, flyte-authorization */
			struct fa_config_pos allowed_origins_pos;
			struct fa_config_pos allowed_headers_pos;
			/* trustedProxies (extension): CIDRs whose forwarding
			 * headers are believed; empty by default. */
			struct fa_config_list trusted_proxies;
			struct fa_config_pos trusted_proxies_pos;
			struct {
				char *certificate_file;
				char *key_file;
				struct fa_config_pos certificate_file_pos;
				struct fa_config_pos key_file_pos;
			} ssl;
			struct fa_config_pos secure_pos;
		} security;
	} server;

	struct {
		enum fa_config_db kind;                 /* sqlite unless postgres is given */
		struct fa_config_pos pos;               /* the chosen section */
		struct {
			/* "flyteauth.db" in the caller's state directory unless
			 * the file sets it (file_pos.line > 0): then as given. */
			char *file;
			struct fa_config_pos pos;
			struct fa_config_pos file_pos;
		} sqlite;
		/* Empty strings mean "libpq's default". */
		struct {
			char *host;
			int port;                       /* 5432 */
			char *dbname;
			char *username;
			char *password;                 /* inline password; prefer password_path */
			char *password_path;
			char *options;                  /* libpq keyword=value pairs */
			struct fa_config_pos pos;
			struct fa_config_pos host_pos;
			struct fa_config_pos password_path_pos;
		} postgres;
	} database;

	struct {
		char *secrets_prefix;                   /* secrets-prefix, "/etc/secrets" */
		char *env_prefix;                       /* env-prefix, "FLYTE_SECRET_" */
		struct fa_config_pos secrets_prefix_pos;
		struct fa_config_pos env_prefix_pos;
	} secrets;

	struct {
		char *http_authorization_header;        /* flyte-authorization */
		char *grpc_authorization_header;        /* flyte-authorization */
		bool disable_for_http;                  /* false */
		struct fa_config_list authorized_uris;  /* absolute http(s) URLs */
		struct fa_config_pos authorized_uris_pos;
		/* requiredScope (flyteauth extension): the scope /me and
		 * /auth/verify demand; "all", Flyte's blanket scope. One
		 * RFC 6749 scope-token. */
		char *required_scope;
		struct fa_config_pos required_scope_pos;
		/* httpProxyURL: proxy for requests to the external
		 * authorization server when externalAuthServer.httpProxyURL is
		 * not set (flyteadmin's metadata endpoint uses this one).
		 * http(s):// or socks5(h)://; "" = none. May hold a password. */
		char *http_proxy_url;
		struct fa_config_pos http_proxy_url_pos;
		struct {
			char *redirect_url;             /* "/console" (path or absolute URL) */
			struct fa_config_pos redirect_url_pos;
			char *cookie_hash_key_secret_name;   /* cookie_hash_key */
			char *cookie_block_key_secret_name;  /* cookie_block_key */
			struct fa_config_pos cookie_hash_key_secret_name_pos;
			struct fa_config_pos cookie_block_key_secret_name_pos;
			struct {
				enum fa_config_samesite same_site_policy;
				char *domain;
				struct fa_config_pos same_site_policy_pos;
			} cookie_setting;
			char *idp_query_parameter;
			struct {
				char *base_url;         /* "" = no upstream IdP */
				char *client_id;
				char *client_secret_name;    /* oidc_client_secret */
				struct fa_config_list scopes;   /* openid, profile */
				struct fa_config_pos base_url_pos;
				struct fa_config_pos client_id_pos;
				struct fa_config_pos client_secret_name_pos;
			} open_id;
			struct fa_config_user *local_users;
			size_t local_users_count;
		} user_auth;
		struct {
			enum fa_config_auth_server auth_server_type;   /* Self */
			struct fa_config_pos auth_server_type_pos;
			struct {
				char *issuer;           /* "" = derived from the listen address */
				int64_t access_token_lifespan_ms;        /* 30m */
				int64_t refresh_token_lifespan_ms;       /* 1h */
				int64_t authorization_code_lifespan_ms;  /* 5m */
				int64_t device_code_lifespan_ms;         /* 10m (extension) */
				int64_t device_poll_interval_ms;         /* 5s (extension) */
				/* refreshTokenMaxLifespan (extension): the
				 * absolute life of a refresh family, counted
				 * from the login (auth_time); rotation never
				 * extends it. 168h. */
				int64_t refresh_token_max_lifespan_ms;
				/* maxPendingDeviceCodes / maxPendingAuthorizationRequests
				 * (extensions): live device codes and authorization
				 * requests waiting for a user, at most; past them the
				 * unauthenticated endpoints write nothing. */
				int max_pending_device_codes;            /* 10000 */
				int max_pending_authorization_requests;  /* 10000 */
				/* rateLimits (extension): token buckets before
				 * the anonymous writes of /oauth2/authorize and
				 * /oauth2/device/authorize, per client address and
				 * per client id. */
				struct {
					struct fa_config_rate authorize_per_address; /* 60, 120/min */
					struct fa_config_rate authorize_per_client;  /* 300, 900/min */
					struct fa_config_rate device_per_address;    /* 30, 30/min */
					struct fa_config_rate device_per_client;     /* 100, 600/min */
				} rate_limits;
				char *claim_symmetric_encryption_key_secret_name;  /* claim_symmetric_key */
				char *token_signing_rsa_key_secret_name;           /* token_rsa_key.pem */
				char *old_token_signing_rsa_key_secret_name;       /* token_rsa_key_old.pem */
				enum fa_config_sig_alg token_signing_algorithm;  /* RS256 */
				/* checkRevocation (extension): the gate asks the
				 * store whether an access token was revoked
				 * (through a short in-process cache). false. */
				bool check_revocation;
				struct fa_config_client *static_clients;
				size_t static_clients_count;
				struct fa_config_pos issuer_pos;
				struct fa_config_pos claim_symmetric_encryption_key_secret_name_pos;
				struct fa_config_pos token_signing_rsa_key_secret_name_pos;
				struct fa_config_pos old_token_signing_rsa_key_secret_name_pos;
				struct fa_config_pos token_signing_algorithm_pos;
				struct fa_config_pos refresh_token_max_lifespan_pos;
			} self;
			struct {
				/* "" in the file means "use openId.baseUrl", as in
				 * flyteadmin; the loader fills it in (with that
				 * position) so readers need not. */
				char *base_url;
				struct fa_config_list allowed_audience;  /* string or list in YAML */
				char *metadata_url;     /* "" = /.well-known/oauth-authorization-server;
							 * relative paths are resolved against base_url */
				int retry_attempts;     /* 5 */
				int64_t retry_delay_ms; /* 1s */
				/* "" = auth.httpProxyURL (see there). */
				char *http_proxy_url;
				struct fa_config_pos base_url_pos;
				struct fa_config_pos metadata_url_pos;
				struct fa_config_pos http_proxy_url_pos;
			} external;
			struct {
				struct {
					char *client_id;        /* flytectl */
					char *redirect_uri;     /* http://localhost:53593/callback */
					struct fa_config_list scopes;   /* all, offline */
					char *audience;
					struct fa_config_pos client_id_pos;
				} flyte_client;
			} third_party;
		} app_auth;
	} auth;

	/* flytestdlib's logger section. `level` is flytestdlib's (logrus's)
	 * number: 0 panic, 1 fatal, 2 error, 3 warning, 4 info, 5 debug,
	 * 6 trace; flyteauth logs nothing below error, so 0-2 mean error and
	 * 5-6 debug. Default 4: the access log and audit events are info
	 * (flytestdlib's own default is 3). show-source is accepted and
	 * ignored. */
	struct {
		int level;                              /* 4 */
		enum fa_config_log_format format;       /* formatter.type, text */
		bool mute;                              /* nothing is logged */
		struct fa_config_pos level_pos;
	} logger;

	/* flyteauth extension: GET /metrics (Prometheus text format) on a
	 * listener of its own, off by default. Port 10254 is where Flyte's
	 * charts have Prometheus scrape flyteadmin's profiler. */
	struct {
		bool enabled;                           /* false */
		char *bind_address;                     /* "127.0.0.1" */
		int port;                               /* 10254 */
		struct fa_config_pos enabled_pos;
		struct fa_config_pos bind_address_pos;
		struct fa_config_pos port_pos;
	} metrics;

	struct fa_config_secret *inline_secrets;
	size_t inline_secrets_count;

	struct fa_arena *mem_;  /* private: owns every string and array above */
};

/* The built-in defaults (flyteadmin's, plus flyteauth's extensions; bind
 * 127.0.0.1; source FA_CONFIG_SOURCE_DEFAULTS). NULL on allocation failure.
 * Free with fa_config_free. */
struct fa_config *fa_config_new_defaults(void);

/* Loads and validates `path`. On FA_OK *out is a new config (free with
 * fa_config_free) and diag may hold warnings and notes. On failure *out is
 * NULL, diag holds every error line, and err (may be NULL) carries the rc and
 * the first error line:
 *   FA_ECONFIG  the file has errors (not YAML, unknown key, wrong type, ...)
 *   FA_EIO      the file cannot be read
 *   FA_ETOOBIG  the file is larger than FA_MAX_CONFIG_FILE
 *   FA_ENOMEM   allocation failed
 * diag may be NULL (then only err tells what went wrong). */
enum fa_rc fa_config_load(const char *path, struct fa_config_diag *diag,
			  struct fa_config **out, struct fa_err *err) FA_WUR;

/* As fa_config_load, from memory: `name` is used in messages and positions
 * (as the file name); data need not be NUL-terminated. */
enum fa_rc fa_config_load_buffer(const char *name, const void *data, size_t len,
				 struct fa_config_diag *diag, struct fa_config **out,
				 struct fa_err *err) FA_WUR;

/* What this build of flyteauth cannot serve yet, although flyteadmin's
 * layout (and fa_config_load) accepts it: an upstream identity provider
 * (userAuth.openId.baseUrl) and authServerType External.
 * One error line "FILE:LINE:COL: ... is not supported yet by this build;
 * ..." per feature goes into diag (may be NULL); FA_EUNSUPPORTED, with err
 * holding the first line, when there is any. `config check` and `serve`
 * both run it right after loading (fa_cli_config_load), so they cannot
 * disagree about such a config. */
enum fa_rc fa_config_supported(const struct fa_config *cfg, struct fa_config_diag *diag,
			       struct fa_err *err) FA_WUR;

/* Frees everything, zeroing it first (inline secrets, passwords). NULL: no-op. */
void fa_config_free(struct fa_config *cfg);

/* The static client whose `id` is client_id (exact, case-sensitive match), or
 * NULL. Borrowed from cfg. */
const struct fa_config_client *fa_config_client_get(const struct fa_config *cfg,
						    const char *client_id);
/* Is cl the built-in confidential client (flyteadmin's default
 * flytepropeller) whose secret the server generates on an installation's
 * first start, because the config gives it none? */
bool fa_config_client_secret_generated(const struct fa_config_client *cl);
/* The local user with this username (exact match), or NULL. Borrowed. */
const struct fa_config_user *fa_config_user_get(const struct fa_config *cfg,
						const char *username);
/* The inline secret value for `name` (e.g. "oidc_client_secret"), or NULL
 * when the values file did not carry it. Borrowed; never log it. */
const char *fa_config_inline_secret_get(const struct fa_config *cfg, const char *name);

/* The server's public base URL: the `iss` of every token, the base of every
 * endpoint URL it publishes, and an origin browsers may be sent back to.
 * selfAuthServer.issuer, else authorizedUris[0], else
 * http://localhost:<port> (https:// when server.security.secure: serve
 * then speaks TLS; port: the one the server listens on, which `serve
 * --listen` may choose), always without a trailing '/'. This is the
 * one place it is normalised: serve hands this exact string to authz
 * (which mints `iss`), the gate (which checks it) and identity, so
 * "https://flyte.example.com/" in the config cannot make them disagree.
 * out gets it, NUL-terminated; FA_ETOOBIG (out "") when it does not fit
 * (FA_MAX_URL + 1 always does). */
enum fa_rc fa_config_issuer(const struct fa_config *cfg, int port, char *out,
			    size_t cap) FA_WUR;

/* The threads serve runs on cpus usable CPUs (fa_cpus_usable):
 * server.workers HTTP workers, else one per CPU (at most
 * FA_CONFIG_MAX_WORKERS); server.bcryptWorkers threads for bcrypt, else
 * half the CPUs, at least one (at most FA_CONFIG_MAX_BCRYPT_WORKERS). */
struct fa_config_threads {
	unsigned http;
	unsigned bcrypt;
};
struct fa_config_threads fa_config_threads(const struct fa_config *cfg, unsigned cpus);

/* Appends a short human summary of what the config means (source, listen
 * address, authorization server, IdP or local users, static clients, secret
 * names and where they are looked up, database), several lines ending in
 * '\n', to out. Never includes a secret value. FA_ETOOBIG if out's cap is
 * reached (out is then unchanged), FA_ENOMEM on allocation failure. */
enum fa_rc fa_config_explain(const struct fa_config *cfg, struct fa_buf *out) FA_WUR;

/* Names for enum values as flyteadmin spells them ("Self", "LaxMode",
 * "RS256", "sqlite"); never NULL. */
const char *fa_config_auth_server_str(enum fa_config_auth_server t);
const char *fa_config_samesite_str(enum fa_config_samesite s);
const char *fa_config_sig_alg_str(enum fa_config_sig_alg a);
const char *fa_config_db_str(enum fa_config_db d);

/* ======================================================================
 * client configuration
 *
 * The `admin:` section of a flytectl / flytekit config file
 * (~/.flyte/config.yaml), read by `flyteauth login|token|whoami|logout` and
 * the client library (src/client/client.h). Keys as flyteidl's admin client
 * spells them (flyteidl/clients/go/admin/config.go), matched
 * case-insensitively: endpoint, insecure, insecureSkipVerify,
 * caCertFilePath, authType, clientId, clientSecretLocation,
 * clientSecretEnvVar, scopes, audience, useAudienceFromAdmin, tokenUrl,
 * authorizationHeader, command, pkceConfig.{timeout,refreshTime},
 * deviceFlowConfig.{timeout,pollInterval,refreshTime}, httpProxyURL. The
 * admin keys flyteauth has no use for (maxRetries, perRetryTimeout,
 * proxyCommand, ...) are accepted and ignored; any other key under admin is
 * an error with a "did you mean". Other top-level sections of a flytectl
 * config (logger, storage, console, files, ...) are ignored. The loader
 * reports problems as "FILE:LINE:COL: message" through struct
 * fa_config_diag, like the server config. It does not read the environment
 * (FLYTE_CREDENTIALS_*, FLYTE_PLATFORM_*): the client layers those on top.
 * ====================================================================== */

/* admin.authType. Go spellings (Pkce, ClientSecret, DeviceFlow,
 * ExternalCommand) and flytekit's aliases (standard, pkce, basic,
 * client_credentials, clientsecret, deviceflow, external_process,
 * externalcommand), case-insensitive. */
enum fa_client_auth_type {
	FA_CLIENT_AUTH_PKCE = 0,              /* the seed's default flow */
	FA_CLIENT_AUTH_CLIENT_SECRET = 1,
	FA_CLIENT_AUTH_DEVICE_FLOW = 2,
	FA_CLIENT_AUTH_EXTERNAL_COMMAND = 3,
};

/* flyteidl's default admin.clientSecretLocation. */
#define FA_CLIENT_DEFAULT_SECRET_LOCATION "/etc/secrets/client_secret"
/* Longest admin.endpoint / FLYTE_PLATFORM_URL, normalized. */
#define FA_CLIENT_MAX_ENDPOINT 1024
/* Longest admin.authorizationHeader: header names are short words. */
#define FA_CLIENT_MAX_HEADER_NAME 128
/* Items of admin.command: a program and its arguments. */
#define FA_CLIENT_MAX_COMMAND_ARGS 64

/* Read-only plain data once loaded; every string non-NULL ("" = unset),
 * owned by the struct; lists are items + count. Defaults in comments. */
struct fa_client_config {
	char *path;                         /* file loaded; "" for the defaults */
	char *endpoint;                     /* as written ("" = none) */
	bool insecure;                      /* false: https for host:port forms */
	bool insecure_skip_verify;          /* false */
	char *ca_cert_file_path;            /* "" = system CAs */
	enum fa_client_auth_type auth_type; /* Pkce */
	char *client_id;                    /* "" = discovered / flow default */
	char *client_secret_location;       /* FA_CLIENT_DEFAULT_SECRET_LOCATION */
	char *client_secret_env_var;        /* "" = none */
	struct fa_config_list scopes;       /* none = discovered */
	char *audience;
	bool use_audience_from_admin;       /* false */
	char *token_url;                    /* "" = discovered */
	char *authorization_header;         /* "" = discovered */
	struct fa_config_list command;      /* ExternalCommand: argv */
	int64_t pkce_timeout_ms;            /* pkceConfig.timeout, 2m */
	int64_t pkce_refresh_time_ms;       /* pkceConfig.refreshTime, 5m */
	int64_t device_timeout_ms;          /* deviceFlowConfig.timeout, 10m */
	int64_t device_poll_interval_ms;    /* deviceFlowConfig.pollInterval, 5s */
	int64_t device_refresh_time_ms;     /* deviceFlowConfig.refreshTime, 5m */
	char *http_proxy_url;               /* "" = libcurl's default (env) */
	struct fa_config_pos endpoint_pos;
	struct fa_config_pos insecure_pos;
	struct fa_config_pos auth_type_pos;
	struct fa_config_pos client_id_pos;
	struct fa_config_pos client_secret_location_pos;
	struct fa_config_pos client_secret_env_var_pos;
	struct fa_config_pos scopes_pos;
	struct fa_config_pos audience_pos;
	struct fa_config_pos token_url_pos;
	struct fa_config_pos authorization_header_pos;
	struct fa_config_pos command_pos;
	struct fa_config_pos ca_cert_file_path_pos;
	struct fa_config_pos http_proxy_url_pos;
	struct fa_arena *mem_;              /* private: owns everything above */
};

/* The defaults (no file). NULL on allocation failure. */
struct fa_client_config *fa_client_config_new_defaults(void);

/* Loads and validates a client config file. On FA_OK *out is new (free with
 * fa_client_config_free) and diag may hold warnings and notes. On failure
 * *out is NULL, diag (may be NULL) holds every error line and err the first:
 *   FA_ENOTFOUND  the file does not exist
 *   FA_EIO        it cannot be read
 *   FA_ETOOBIG    it is larger than FA_MAX_CONFIG_FILE
 *   FA_ECONFIG    it has errors ("FILE:LINE:COL: ...")
 *   FA_ENOMEM     allocation failed */
enum fa_rc fa_client_config_load(const char *path, struct fa_config_diag *diag,
				 struct fa_client_config **out, struct fa_err *err) FA_WUR;
/* The same from memory; `name` names it in messages (data need not be
 * NUL-terminated). */
enum fa_rc fa_client_config_load_buffer(const char *name, const void *data, size_t len,
					struct fa_config_diag *diag,
					struct fa_client_config **out, struct fa_err *err) FA_WUR;
void fa_client_config_free(struct fa_client_config *cc);    /* NULL: no-op */

/* Parses an authType value (any spelling above). FA_EINVAL otherwise, with
 * a message listing the accepted values. */
enum fa_rc fa_client_auth_type_parse(const char *s, enum fa_client_auth_type *out,
				     struct fa_err *err) FA_WUR;
/* The Go spelling ("Pkce", "ClientSecret", ...); never NULL. */
const char *fa_client_auth_type_str(enum fa_client_auth_type t);

/* Turns an endpoint as Flyte writes it -- "dns:///host:port", "host:port",
 * "host", "http://host[:port][/path]" or "https://..." -- into the base URL
 * the client talks to: scheme://host[:port][/path], no trailing '/'. The
 * forms without a scheme get http when `insecure`, else https. Refused
 * (FA_EINVAL, message says why): spaces or control bytes, credentials
 * (user@host), a query or fragment, a scheme other than http(s)/dns, a bad
 * port; FA_ETOOBIG past FA_CLIENT_MAX_ENDPOINT or `cap`. `url` is always
 * NUL-terminated ("" on failure). */
enum fa_rc fa_client_endpoint_parse(const char *endpoint, bool insecure, char *url,
				    size_t cap, struct fa_err *err) FA_WUR;

#endif
