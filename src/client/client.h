/* client.h -- the whole interface of flyteauth's client: get an access token
 * for a Flyte endpoint the way flytectl and flytekit do, from the same
 * config file and environment, and keep it cached and fresh. The CLI's
 * `login`, `token`, `whoami` and `logout` are thin wrappers around it, so a
 * C program that links libflyteauth authenticates exactly as the CLI does.
 *
 * Settings, highest precedence first (each documented in README.md):
 *   1. the environment variable itself (FLYTE_PLATFORM_URL, ...);
 *   2. <NAME>_FROM_ENV_VAR=OTHER: the value of OTHER;
 *   3. <NAME>_FROM_FILE=/path: the file's content, whitespace-trimmed;
 *   4. the config file's `admin:` section (--config > $FLYTECTL_CONFIG >
 *      ~/.flyte/config.yaml);
 *   5. the default.
 * An empty variable counts as unset. Variables: FLYTE_PLATFORM_URL
 * (admin.endpoint), FLYTE_PLATFORM_INSECURE (admin.insecure),
 * FLYTE_PLATFORM_AUTH (accepted and checked; the client always
 * authenticates), FLYTE_CREDENTIALS_AUTH_MODE (admin.authType; `basic` =
 * ClientSecret), FLYTE_CREDENTIALS_CLIENT_ID (admin.clientId),
 * FLYTE_CREDENTIALS_CLIENT_SECRET (beats admin.clientSecretEnvVar, which
 * beats admin.clientSecretLocation), FLYTE_CREDENTIALS_OAUTH_SCOPES
 * (admin.scopes; comma- or space-separated), and
 * FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY (admin.authorizationHeader).
 *
 * Discovery: /.well-known/oauth-authorization-server and
 * /config/v1/flyte_client of the endpoint, fetched only when a flow needs
 * them; admin.tokenUrl and the header setting override what they say.
 *
 * Tokens are cached per endpoint in a 0600 JSON file under
 * $XDG_CACHE_HOME/flyteauth (else ~/.cache/flyteauth), bound to the
 * endpoint, auth type and client id (a token is never offered to another
 * endpoint), replaced atomically, and guarded by a lock file so that
 * parallel processes refresh once. A token is refreshed within
 * min(refreshTime (5m), half its lifetime) of expiry. A failed refresh never
 * deletes the cached token: the still-valid access token is used, or the
 * full flow runs when interactive, or the call fails.
 *
 * Not thread-safe: one struct fa_client per thread. Every error message
 * names what failed and never contains a token, code, secret or password.
 */
#ifndef FA_CLIENT_H
#define FA_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "base/base.h"
#include "config/config.h"

/* ---- caps (client-only; shared ones are in base/limits.h) ------------------ */

/* A token, device or userinfo response: a few hundred bytes to a few KiB. */
#define FA_CLIENT_MAX_RESPONSE (64 * 1024)
/* Seconds before expiry at which a ClientSecret token is replaced (Pkce and
 * DeviceFlow use their refreshTime, 5m by default). */
#define FA_CLIENT_REFRESH_WINDOW_S 300
/* One HTTP exchange, and connecting: a token request that takes longer has
 * failed; CI jobs must not hang on a dead endpoint. */
#define FA_CLIENT_HTTP_TIMEOUT_S 30
#define FA_CLIENT_CONNECT_TIMEOUT_S 10
/* admin.command (ExternalCommand) must print its token within this time. */
#define FA_CLIENT_COMMAND_TIMEOUT_S 120

struct fa_client;

struct fa_client_opts {
	/* The config file; NULL: $FLYTECTL_CONFIG, else ~/.flyte/config.yaml
	 * (which may be absent: then the environment must say everything).
	 * A file named here or by $FLYTECTL_CONFIG must exist. */
	const char *config_path;
	/* An already loaded config (borrowed; must outlive the client); when
	 * set, config_path is not used. */
	const struct fa_client_config *config;
	/* Receives the config file's diagnostic lines (may be NULL). */
	struct fa_config_diag *diag;
	/* NULL: $XDG_CACHE_HOME/flyteauth, else $HOME/.cache/flyteauth. */
	const char *cache_dir;
	/* fa_client_token may start a browser or device flow when no token can
	 * be had silently. The CLI sets it only on a terminal. */
	bool interactive;
	/* Pkce also accepts the address the browser landed on, pasted on stdin
	 * (for a browser on another machine). */
	bool paste;
	/* DeviceFlow prints a QR code of the verification URL to `prompt`. */
	bool prompt_qr;
	/* Where login URLs, device codes and QR codes are shown; NULL: stderr.
	 * Borrowed. */
	FILE *prompt;
	/* Warnings (a refresh that failed, TLS verification off); NULL: none.
	 * Borrowed. */
	const struct fa_log *log;
};

/* Loads the config, applies the environment and checks both; no network.
 * *out: free with fa_client_free. Errors:
 *   FA_ECONFIG  bad config file (FILE:LINE:COL: ...), bad or contradictory
 *               environment (names the variable), or no endpoint
 *   FA_ENOTFOUND / FA_EIO  a named config file is missing / unreadable
 *   FA_ENOMEM */
enum fa_rc fa_client_new(const struct fa_client_opts *opts, struct fa_client **out,
			 struct fa_err *err) FA_WUR;
void fa_client_free(struct fa_client *c);      /* NULL: no-op */

/* The normalized endpoint URL ("" for ExternalCommand without one) and
 * the auth type in effect; borrowed, never NULL. */
const char *fa_client_endpoint(const struct fa_client *c);
enum fa_client_auth_type fa_client_auth_type(const struct fa_client *c);
/* The header a Flyte request carries the token in ("authorization" unless
 * configured or discovered otherwise); borrowed, valid until the next call
 * on c. The value to send is "Bearer <token>". */
const char *fa_client_header_name(const struct fa_client *c);
/* Where this client's tokens are cached; borrowed. */
enum fa_rc fa_client_cache_path(const struct fa_client *c, char *out, size_t cap,
				struct fa_err *err) FA_WUR;

/* A valid access token: cached, else refreshed (once across processes),
 * else from the flow -- ClientSecret always; Pkce and DeviceFlow only when
 * opts.interactive; ExternalCommand runs the command every time.
 * *access_token is malloc'd; release with fa_free_secret. Errors:
 *   FA_ENOTFOUND  no token without interaction (run `flyteauth login`)
 *   FA_EDENIED    the server refused (err->oauth_error has its code)
 *   FA_EEXPIRED   the login or device code timed out
 *   FA_ENET       the endpoint or token URL could not be reached
 *   FA_EUNSUPPORTED  the server does not offer the flow
 *   FA_ECONFIG    a secret is missing or a setting is unusable
 *   FA_ECONFLICT  another process held the cache lock too long
 *   FA_EIO        the cache could not be written */
enum fa_rc fa_client_token(struct fa_client *c, char **access_token, struct fa_err *err) FA_WUR;

/* Runs the configured flow now, whatever is cached, and caches the result
 * (errors as fa_client_token). */
enum fa_rc fa_client_login(struct fa_client *c, struct fa_err *err) FA_WUR;

/* GET <endpoint>/me with the token: *user is a new JSON object
 * (json_decref) with flyteadmin's fields (subject, name, ...). A 401 is
 * FA_EDENIED. */
enum fa_rc fa_client_whoami(struct fa_client *c, json_t **user, struct fa_err *err) FA_WUR;

/* Revokes the cached refresh token (else the access token) at the
 * revocation endpoint and deletes the cache entry -- even when revocation
 * fails, which is then reported as FA_ENET / FA_EDENIED after the entry is
 * gone. FA_ENOTFOUND when nothing was cached. */
enum fa_rc fa_client_logout(struct fa_client *c, struct fa_err *err) FA_WUR;

/* One sentence on what to do about a failure of this client (err->rc and
 * err->oauth_error; c may be NULL): a static string, never NULL, for the
 * line a program prints. */
const char *fa_client_hint(const struct fa_client *c, const struct fa_err *err);

#endif
