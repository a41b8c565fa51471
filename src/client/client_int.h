/* client_int.h -- what the files of the client module share with each other
 * and with the unit tests, and with nobody else (client.h is the module's
 * interface): the resolved settings (settings.c), HTTP (http.c), discovery
 * (discovery.c), token grants and the external command (grant.c), PKCE and
 * the loopback listener (pkce.c), the device flow and its QR code
 * (device.c), and the token cache (cache.c). */
#ifndef FA_CLIENT_INT_H
#define FA_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "base/base.h"
#include "client/client.h"
#include "config/config.h"
#include "remote/remote.h"

/* Room for a normalized endpoint URL. */
#define CL_URL_MAX (FA_CLIENT_MAX_ENDPOINT + 16)
/* A "where did this value come from" label for messages:
 * "FLYTE_PLATFORM_URL_FROM_FILE (/run/x)" or "/home/u/.flyte/config.yaml:3:13". */
#define CL_SRC_MAX 320
/* An authorization code, device code or state echoed back to us: our
 * server's are 43 characters; other servers' stay well under a form field. */
#define CL_MAX_CODE FA_MAX_FIELD_VALUE
/* One HTTP request read by the loopback listener: a browser's GET with
 * its headers. */
#define CL_MAX_CALLBACK_REQUEST (8 * 1024)
/* How long the listener waits for one accepted connection to send its
 * request before dropping it (a browser's idle pre-connection). */
#define CL_CALLBACK_READ_MS 5000

/* ---- settings (settings.c): config file + environment -------------------------- */

struct cl_settings {
	char base_url[CL_URL_MAX];        /* "" only for ExternalCommand without endpoint */
	char endpoint_src[CL_SRC_MAX];
	bool insecure;
	enum fa_client_auth_type auth_type;
	char auth_type_src[CL_SRC_MAX];
	char *client_id;                  /* "" = not given (discovered / flow default) */
	char client_id_src[CL_SRC_MAX];
	char *header;                     /* "" = not given */
	char **scopes;                    /* NULL-free array of n_scopes strings */
	size_t n_scopes;
	bool scopes_given;
	bool platform_auth;               /* FLYTE_PLATFORM_AUTH: accepted, no effect */
};

/* Resolves the settings from cfg and the environment (precedence: env >
 * <NAME>_FROM_ENV_VAR > <NAME>_FROM_FILE > config file > default).
 * FA_ECONFIG with a message naming the variable or FILE:LINE:COL. */
enum fa_rc cl_settings_resolve(const struct fa_client_config *cfg, struct cl_settings *s,
			       struct fa_err *err) FA_WUR;
void cl_settings_cleanup(struct cl_settings *s);

/* One variable with its redirections: *out is a malloc'd, trimmed value
 * (release with fa_free_secret) or NULL when none of the three is set; an
 * empty variable counts as unset. `src` (may be NULL) names where the value
 * came from. Values longer than max are FA_ETOOBIG; control bytes inside
 * are FA_EINVAL; a redirection to an unset variable or an unreadable file
 * is FA_ECONFIG. Messages never contain the value. */
enum fa_rc cl_env_get(const char *name, size_t max, char **out, char *src, size_t srccap,
		      struct fa_err *err) FA_WUR;

/* The client secret for ClientSecret: FLYTE_CREDENTIALS_CLIENT_SECRET (and
 * its redirections), else the variable named by admin.clientSecretEnvVar,
 * else the file admin.clientSecretLocation; trimmed. *out: fa_free_secret. */
enum fa_rc cl_client_secret(const struct fa_client_config *cfg, char **out,
			    struct fa_err *err) FA_WUR;

/* Reads a small file (at most FA_MAX_SECRET bytes) and trims surrounding
 * whitespace. *out: fa_free_secret. FA_ENOTFOUND / FA_EIO / FA_ETOOBIG. */
enum fa_rc cl_read_trimmed(const char *path, size_t max, char **out, struct fa_err *err) FA_WUR;

/* ---- the client object ----------------------------------------------------------- */

/* What the server publishes (discovery.c); strings malloc'd, "" = absent. */
struct cl_metadata {
	bool loaded;
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *device_endpoint;
	char *revocation_endpoint;
};

struct cl_public {
	bool loaded;
	char *client_id;
	char *redirect_uri;
	char **scopes;
	size_t n_scopes;
	char *authorization_metadata_key;
	char *audience;
};

struct fa_client {
	struct fa_client_config *own_cfg;
	const struct fa_client_config *cfg;
	struct cl_settings s;
	char cache_dir[1024];
	bool interactive;
	bool paste;
	bool prompt_qr;
	FILE *prompt;
	const struct fa_log *log;
	struct cl_metadata md;
	struct cl_public pub;
	char header[FA_CLIENT_MAX_HEADER_NAME + 1];   /* resolved header name */
	struct fa_remote *net;                         /* every request goes here */
};

/* ---- HTTP (http.c) --------------------------------------------------------------------- */

/* One warning line to the client's log (nothing when it has none). */
void cl_warn(const struct fa_client *c, const char *fmt, ...) FA_PRINTF(2, 3);

/* One request through the client's fa_remote (its caCertFilePath,
 * insecureSkipVerify, httpProxyURL and timeouts; http and https only; no
 * redirect followed, so a token or secret is never carried to a place the
 * server points at; an answer over rq->max_body is refused). FA_ENET when
 * the server cannot be reached or answers too much (the message names the
 * URL). */
enum fa_rc cl_http(const struct fa_client *c, const struct fa_remote_req *rq,
		   struct fa_remote_resp *resp, struct fa_err *err) FA_WUR;
/* The body as a JSON object (duplicates refused, nesting bounded), whatever
 * its Content-Type. FA_ENET when not. */
enum fa_rc cl_resp_json(const struct fa_remote_resp *resp, const char *what, json_t **out,
			struct fa_err *err) FA_WUR;
/* Copies a server-provided text (error_description) for a message:
 * printable ASCII only, at most cap-1 bytes. */
void cl_sanitize(const char *in, char *out, size_t cap);

/* ---- discovery (discovery.c) --------------------------------------------------------- */

enum fa_rc cl_discover_metadata(struct fa_client *c, struct fa_err *err) FA_WUR;
enum fa_rc cl_discover_public(struct fa_client *c, struct fa_err *err) FA_WUR;
void cl_discovery_cleanup(struct fa_client *c);
/* Whether a URL from the server may receive secrets: https, or http when
 * the endpoint itself is http or the host is loopback. */
bool cl_url_acceptable(const struct fa_client *c, const char *url);

/* ---- tokens (grant.c) ------------------------------------------------------------------ */

/* A token set and what it is bound to. Strings malloc'd ("" = absent);
 * secrets are zeroed by cl_token_cleanup. */
struct cl_token {
	char *endpoint;
	enum fa_client_auth_type auth_type;
	char *client_id;
	char *token_url;
	char *revocation_url;
	char *header;                 /* authorization metadata key, "" = unknown */
	char *access_token;
	char *token_type;
	char *refresh_token;          /* "" = none */
	char *scope;
	int64_t expires_at;           /* unix seconds; 0 = unknown */
	int64_t obtained_at;
};

void cl_token_init(struct cl_token *t);
void cl_token_cleanup(struct cl_token *t);
/* Replaces *dst with a copy of src (FA_ENOMEM). */
enum fa_rc cl_strset(char **dst, const char *src) FA_WUR;

/* Parses a successful token-endpoint response (RFC 6749 §5.1) into the
 * token fields of t (access_token printable and <= FA_MAX_TOKEN, token_type
 * Bearer or absent, expires_in, refresh_token, scope). expires_at is
 * now + expires_in, or the JWT's exp when that is earlier or expires_in is
 * absent, else now + 1h. */
enum fa_rc cl_token_parse(const json_t *j, int64_t now, struct cl_token *t,
			  struct fa_err *err) FA_WUR;
/* The `exp` claim of a JWT, read without verifying it (the client is not
 * the resource server and must not trust it for anything but scheduling a
 * refresh). FA_EINVAL when the token is not a JWT or has no numeric exp. */
enum fa_rc cl_jwt_exp(const char *jwt, int64_t *exp) FA_WUR;
/* POSTs form to url and parses the token response into t; server errors
 * become FA_EDENIED (invalid_grant, invalid_client, access_denied ...) with
 * "error: description" in the message, and their OAuth code in
 * err->oauth_error. */
/* The static copy of a known RFC 6749 §5.2 / RFC 8628 §3.5 error code
 * (for err->oauth_error), or NULL. */
const char *cl_oauth_error_name(const char *e);
enum fa_rc cl_token_request(const struct fa_client *c, const char *url, const char *form,
			    const char *basic_id, const char *basic_secret, struct cl_token *t,
			    struct fa_err *err) FA_WUR;
enum fa_rc cl_grant_client_credentials(struct fa_client *c, struct cl_token *t,
				       struct fa_err *err) FA_WUR;
enum fa_rc cl_grant_refresh(struct fa_client *c, const struct cl_token *old,
			    struct cl_token *t, struct fa_err *err) FA_WUR;
/* Runs admin.command; its trimmed stdout (<= FA_MAX_TOKEN) is the token. */
enum fa_rc cl_external_command(const struct fa_client *c, char **token,
			       struct fa_err *err) FA_WUR;
/* The client id a flow uses: given, else discovered, else `fallback`. */
const char *cl_effective_client_id(const struct fa_client *c, const char *fallback);
/* The audience to request ("" = none). */
const char *cl_audience(const struct fa_client *c);
/* Appends `scope` (space-joined: given, else discovered; omitted when
 * there is none) and `audience` (omitted when "") to a form or query. */
enum fa_rc cl_form_scope_audience(const struct fa_client *c, struct fa_buf *form) FA_WUR;
/* Fills the binding fields of t (endpoint, auth type, client id, token and
 * revocation URLs, header) for the cache. */
enum fa_rc cl_token_bind(const struct fa_client *c, const char *client_id,
			 const char *token_url, struct cl_token *t) FA_WUR;

/* ---- PKCE (pkce.c) ------------------------------------------------------------------------ */

/* The verifier is fa_rand_token (32 random bytes, base64url: RFC 7636
 * §4.1) and the S256 challenge fa_sha256_b64url of it (§4.2). */

struct cl_redirect {
	char host[256];               /* as written: localhost, 127.0.0.1, [::1] */
	int port;
	char path[512];
};

/* A loopback http:// redirect URI with a port (RFC 8252 §7.3). */
enum fa_rc cl_redirect_parse(const char *uri, struct cl_redirect *r, struct fa_err *err) FA_WUR;

struct cl_listener {
	int fds[2];
	size_t n;
};

enum fa_rc cl_listener_open(const struct cl_redirect *r, struct cl_listener *l,
			    struct fa_err *err) FA_WUR;
void cl_listener_close(struct cl_listener *l);

/* Checks a callback's query string: `state` must equal expected (constant
 * time). FA_OK with *code (malloc'd) for a code; FA_EDENIED for an error
 * answer; FA_EINVAL for a malformed, repeated or mismatched parameter. */
enum fa_rc cl_callback_parse(const char *query, size_t n, const char *expected_state,
			     char **code, struct fa_err *err) FA_WUR;
/* Waits until deadline (fa_mono_ms) for the redirect on l, or a pasted URL
 * on paste_fd (-1: none). Wrong paths get 404 and wrong states 400 and are
 * otherwise ignored, so a stray request cannot end the login. */
enum fa_rc cl_listener_wait(const struct fa_client *c, struct cl_listener *l,
			    const struct cl_redirect *r, const char *state, int64_t deadline,
			    int paste_fd, char **code, struct fa_err *err) FA_WUR;
/* Starts $BROWSER, or xdg-open / open when there is a display, on url,
 * detached (stdout goes to stderr). false when nothing was started. */
bool cl_open_browser(const char *url);
enum fa_rc cl_flow_pkce(struct fa_client *c, struct cl_token *t, struct fa_err *err) FA_WUR;

/* ---- device flow (device.c) ----------------------------------------------------------------- */

enum cl_poll {
	CL_POLL_WAIT = 0,             /* authorization_pending: poll again */
	CL_POLL_SLOW_DOWN = 1,        /* interval += 5 s, poll again */
	CL_POLL_STOP = 2,             /* expired_token, access_denied or other */
};

/* What a device-grant token error means (RFC 8628 §3.5); updates
 * *interval_ms for slow_down (capped). */
enum cl_poll cl_device_poll_step(const char *oauth_error, int64_t *interval_ms);
/* A QR code of text in UTF-8 half blocks (light modules drawn, for dark
 * terminals), quiet zone included, lines ending in '\n'. */
enum fa_rc cl_qr_render(const char *text, struct fa_buf *out, struct fa_err *err) FA_WUR;
enum fa_rc cl_flow_device(struct fa_client *c, struct cl_token *t, struct fa_err *err) FA_WUR;

/* ---- cache (cache.c) ------------------------------------------------------------------------------- */

/* Largest cache file: a few tokens and URLs. */
#define CL_MAX_CACHE_FILE (64 * 1024)

/* The cache directory: dir if given, else $XDG_CACHE_HOME/flyteauth, else
 * $HOME/.cache/flyteauth. */
enum fa_rc cl_cache_dir(const char *given, char *out, size_t cap, struct fa_err *err) FA_WUR;
/* <dir>/<hex SHA-256 of endpoint>.json */
enum fa_rc cl_cache_path(const char *dir, const char *endpoint, char *out, size_t cap,
			 struct fa_err *err) FA_WUR;
/* Creates dir (0700) if needed and refuses one that another user owns or
 * that others can write. */
enum fa_rc cl_cache_prepare(const char *dir, struct fa_err *err) FA_WUR;
/* flock(LOCK_EX) on "<path>.lock", waiting at most timeout_ms (0: one
 * try); FA_ECONFLICT on timeout. *fd is released by cl_cache_unlock. */
enum fa_rc cl_cache_lock(const char *path, int64_t timeout_ms, int *fd, struct fa_err *err) FA_WUR;
void cl_cache_unlock(int fd);
/* FA_ENOTFOUND when there is no file; FA_EINVAL for a malformed one. */
enum fa_rc cl_cache_read(const char *path, struct cl_token *t, struct fa_err *err) FA_WUR;
/* Writes t as mode 0600 JSON: a temp file in the same directory, fsync,
 * rename over path. */
enum fa_rc cl_cache_write(const char *path, const struct cl_token *t, struct fa_err *err) FA_WUR;
/* Deletes the cached tokens and the lock file; call it holding the lock. */
enum fa_rc cl_cache_delete(const char *path, struct fa_err *err) FA_WUR;
/* Whether t should be refreshed at `now`: within min(window_s, half its
 * lifetime) of expires_at (so a short-lived token is not refreshed on
 * every call). */
bool cl_token_needs_refresh(const struct cl_token *t, int64_t now, int64_t window_s);
bool cl_token_expired(const struct cl_token *t, int64_t now);

#endif
