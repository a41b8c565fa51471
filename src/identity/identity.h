/* identity.h -- flyteauth's identity layer: who the browser user is. It
 * serves the login page (/login), keeps login sessions in the store behind
 * one sealed cookie, ends them (/logout), and tells the authorization server
 * (authz) and the resource gate (gate) which user a browser request belongs
 * to.
 *
 * Users come from a "provider". Local users: auth.userAuth.localUsers from
 * the config (SPEC §3), plus -- only when serve runs on its embedded
 * defaults -- a development user `flyte` whose random password is generated
 * on first start. The upstream IdP (userAuth.openId.baseUrl): the OpenID
 * Connect relying party of oidc.c (/login sends the browser to the IdP,
 * /callback takes it back); local users configured beside it stay
 * available as break-glass accounts on the same login page, and
 * /.well-known/openid-configuration redirects to the IdP as flyteadmin
 * does.
 *
 * What it does not do: issue tokens (authz), verify bearer tokens (gate),
 * read secret files (serve decodes the cookie keys and passes the bytes).
 *
 * Threads: after fa_identity_new, a struct fa_identity is read-only, and
 * its handlers and
 * fa_identity_session_user may run on any number of threads at once. All
 * shared state lives in the store, so several instances behind one load
 * balancer (sharing the store and the cookie keys) agree on every session.
 */
#ifndef FA_IDENTITY_H
#define FA_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "config/config.h"
#include "http/http.h"
#include "store/store.h"

/* ---- caps and policy of this module (shared caps are in limits.h) ------- */

/* The failed-login throttle (throttle.c), counted in the store so that it
 * holds across instances. Per username: FA_IDENTITY_USER_FREE_FAILURES
 * failures within FA_IDENTITY_THROTTLE_WINDOW_S are free; after the n-th
 * (n >= 5) every attempt for that username, from anywhere, must wait
 * 2^(n-5) s (at most FA_IDENTITY_USER_MAX_DELAY_S) after it -- a delay,
 * never a lock, so an attacker elsewhere slows the real user's next try by
 * a minute at most instead of locking the account. */
#define FA_IDENTITY_USER_FREE_FAILURES 5
#define FA_IDENTITY_USER_MAX_DELAY_S 60
/* Failed logins for one username from one client address (IPv6: its /64)
 * in the window: past it that pair is refused until the window ends. */
#define FA_IDENTITY_PAIR_MAX_FAILURES 10
/* Failed logins from one address across all usernames: higher, since one
 * office NAT is many people; it stops one address spraying many accounts. */
#define FA_IDENTITY_ADDR_MAX_FAILURES 100
/* The counting window, fixed from the first failure (fa_store_incr). */
#define FA_IDENTITY_THROTTLE_WINDOW_S (15 * 60)
/* How long a login form (its CSRF cookie) stays usable: long enough to type
 * a password, short enough that a leaked form is soon worthless. */
#define FA_IDENTITY_LOGIN_FORM_TTL_S (15 * 60)
/* Bounds on the session lifetime (see fa_identity_opts.session_ttl_s). */
#define FA_IDENTITY_SESSION_MIN_S 60
#define FA_IDENTITY_SESSION_MAX_S (30LL * 24 * 3600)
/* A session unused this long ends, whatever its absolute timeout (see
 * fa_identity_opts.session_idle_s): a browser left logged in on a shared
 * machine overnight is logged out by morning. */
#define FA_IDENTITY_SESSION_IDLE_DEFAULT_S (8 * 3600)
/* A session's last use is written to the store at most this often, so a
 * busy console does not turn every request into a write. */
#define FA_IDENTITY_SESSION_TOUCH_S 60

/* Cookie names. flyteadmin keeps its login in flyte_at/flyte_idt/flyte_rt
 * (raw IdP tokens) and its CSRF state in flyte_csrf_state; flyteauth keeps
 * one opaque session cookie and reuses flyteadmin's CSRF cookie name. */
#define FA_IDENTITY_SESSION_COOKIE "flyte_session"
#define FA_IDENTITY_CSRF_COOKIE "flyte_csrf_state"

/* The development user's name (embedded defaults only). */
#define FA_IDENTITY_DEV_USER "flyte"

/* Cookie key lengths (decoded), as flyteadmin's secrets: cookie_hash_key
 * 64 bytes, cookie_block_key 32 bytes. */
#define FA_IDENTITY_HASH_KEY_LEN 64
#define FA_IDENTITY_BLOCK_KEY_LEN 32

/* ---- lifecycle ------------------------------------------------------------ */

struct fa_identity;
struct fa_remote;
struct fa_remote_issuer;

/* cfg, store and log are borrowed and must outlive the identity; issuer
 * and the two keys are only read during fa_identity_new (the derived keys
 * are kept, and wiped on free).
 *
 * Cookie keys: passed already decoded (serve reads cookie_hash_key and
 * cookie_block_key with fa_secret_get_key). Cookies are sealed with
 * AES-256-GCM under HKDF-SHA256(IKM = cookie_block_key, salt =
 * cookie_hash_key, info = purpose), so both keys are needed and changing
 * either logs everybody out; each purpose (session, login form, CSRF MAC)
 * gets its own derived key. */
struct fa_identity_opts {
	const struct fa_config *cfg;     /* required */
	struct fa_store *store;          /* required */
	const struct fa_log *log;        /* NULL: stderr; audit events of logins too */
	/* Logins and throttle hits are counted here (borrowed, outlives the
	 * server; NULL: not counted). */
	struct fa_metrics *metrics;
	/* The server's public base URL (fa_config_issuer: selfAuthServer.issuer,
	 * else authorizedUris[0], else http://localhost:<port>). Its origin is
	 * an accepted redirect target besides authorizedUris. Required. */
	const char *issuer;
	const unsigned char *cookie_hash_key;    /* FA_IDENTITY_HASH_KEY_LEN bytes */
	size_t cookie_hash_key_len;
	const unsigned char *cookie_block_key;   /* FA_IDENTITY_BLOCK_KEY_LEN bytes */
	size_t cookie_block_key_len;
	/* Session lifetime in seconds; 0: selfAuthServer.refreshTokenLifespan
	 * (default 1h), so a browser login lives as long as one refresh token
	 * issued from it. Clamped to FA_IDENTITY_SESSION_MIN_S.._MAX_S. The
	 * timeout is absolute: using a session never extends it. */
	int64_t session_ttl_s;
	/* Idle timeout in seconds; 0: FA_IDENTITY_SESSION_IDLE_DEFAULT_S.
	 * Clamped to FA_IDENTITY_SESSION_MIN_S..session_ttl_s. Last use is
	 * known within FA_IDENTITY_SESSION_TOUCH_S. */
	int64_t session_idle_s;
	/* serve runs on its embedded defaults: when the config has no local
	 * users and no IdP, use the development user `flyte`, creating it on
	 * the installation's first start. Never set it for a config file. */
	bool dev_default_user;
	/* Out, may be NULL: when this call created the development user,
	 * *dev_password gets its plain password (malloc'd; print it once, then
	 * fa_free_secret); otherwise NULL. The password is never stored: the
	 * store keeps its bcrypt hash (as authz's generated client secret). */
	char **dev_password;
	/* The upstream IdP, required when userAuth.openId.baseUrl is set
	 * (ignored otherwise): serve starts its issuer (discovery and keys,
	 * loaded in the background, so an unreachable IdP does not stop the
	 * start) and the outbound HTTP settings it was made with; both
	 * borrowed, outliving the identity. idp_client_secret is
	 * openId.clientSecretName's value, copied (and wiped on free). */
	struct fa_remote_issuer *idp;
	const struct fa_remote *idp_remote;
	const char *idp_client_secret;
};

/* Validates the options (keys' lengths, cookie settings: SameSite=None
 * needs Secure cookies, local users' hash shapes) and prepares the
 * provider. With dev_default_user, reads or creates the development user's
 * record in the store (kind "install", key "localuser:flyte", inserted once
 * so instances agree; this costs one bcrypt at cost 10 on first start).
 * Every start also hashes one random secret at the users' bcrypt cost (the
 * timing dummy for unknown usernames).
 * Returns NULL and fills err on failure: FA_EINVAL (options), FA_ECONFIG
 * (config: bad hash, SameSite=None without Secure), FA_ESTORE, FA_ECRYPTO,
 * FA_ENOMEM. Free with fa_identity_free. */
struct fa_identity *fa_identity_new(const struct fa_identity_opts *opts,
				    struct fa_err *err) FA_WUR;
/* Wipes the keys and frees. NULL is a no-op. No request may be running. */
void fa_identity_free(struct fa_identity *id);
/* Forgets the development user's record (`flyteauth dev reset`): the next
 * start with dev_default_user creates it again with a new password. A
 * missing record is not an error. */
enum fa_rc fa_identity_dev_forget(struct fa_store *store, struct fa_err *err) FA_WUR;

/* The module's routes, served with app = struct fa_identity *:
 *   GET  /login    the login form (public, no-store)
 *   POST /login    form submission (public, form body, no-store)
 *   GET  /logout   ends the session when the request is same-origin
 *                  (Sec-Fetch-Site) or there is none; else a confirmation
 *                  form (public, no-store)
 *   POST /logout   the confirmation: CSRF token checked, session ended
 *                  (public, form body, no-store)
 *   GET  /callback the upstream IdP's redirect back (public, no-store;
 *                  400 when no IdP is configured)
 * The table is static. */
void fa_identity_routes(const struct fa_route **routes, size_t *n);
/* Served only when an upstream IdP is configured (userAuth.openId.baseUrl;
 * with local users the authorization server is the OpenID Provider):
 *   GET  /.well-known/openid-configuration   303 to the IdP's, as flyteadmin */
void fa_identity_idp_routes(const struct fa_route **routes, size_t *n);

/* ---- for authz and gate ------------------------------------------------------ */

/* The logged-in user of the browser session cookie in req: FA_OK with *user
 * a NEW reference (json_decref) to a JSON object with OIDC claim names
 * (`sub` always; `name`, `preferred_username`, `given_name`, `family_name`,
 * `email`, `email_verified`, `picture`, `groups` when known), plus the
 * session's `auth_time` (unix seconds of the login) and `sid` (a public
 * name of the session, 32 hex digits). A local user's `sub` and
 * `preferred_username` are its username.
 * FA_ENOTFOUND when there is no valid session: no cookie, a cookie that
 * does not unseal (tampered, other keys, other cookie's value), expired
 * (absolute or idle timeout), whose record is gone (logged out, purged),
 * whose user fa_identity_user_check no longer accepts (the record is then
 * deleted), or whose upstream IdP refused to refresh its tokens. FA_ESTORE
 * / FA_ENOMEM / FA_ECRYPTO on internal failure. *user is NULL on any
 * failure.
 *
 * A session of the upstream IdP whose IdP access token has expired and
 * that holds an IdP refresh token is refreshed here, as flyteadmin's
 * /login refreshes its cookies: one request refreshes (the others go on
 * with the session meanwhile), a refusal by the IdP ends the session, an
 * IdP that cannot be reached leaves it as it is. */
enum fa_rc fa_identity_session_user(struct fa_identity *id, struct fa_req *req, json_t **user,
				    struct fa_err *err) FA_WUR;

/* Whether the user of a past login (`user`: claims with `sub`, as a
 * session or an authz refresh family keeps them) is still a user, asked of
 * the provider that logged it in: `provider` is the name recorded at the
 * login (the session user's "login_provider"); "local" is checked against
 * auth.userAuth.localUsers (or the development user) even beside an
 * upstream IdP (a break-glass user), anything else, or NULL, by the
 * configured provider (the upstream IdP: not refused by it). FA_OK;
 * FA_EDENIED (access_denied) when not, or when no provider is configured;
 * other codes on internal failure. fa_identity_session_user asks it for
 * every session; authz asks it at every refresh (fa_authz_login.user_check
 * has this type). */
enum fa_rc fa_identity_user_check(struct fa_identity *id, const char *provider,
				  const json_t *user, struct fa_err *err) FA_WUR;

/* Whether /login would accept url as its redirect_url: a path on this
 * server or an absolute http(s) URL on an authorizedUris origin (or the
 * public URL's); the open-redirect rule of redirect.c. For the gate's
 * /auth/verify, which sends browsers to /login and back (it has exactly
 * the gate's fa_gate_redirect_fn type). FA_OK or FA_EINVAL with why. */
enum fa_rc fa_identity_redirect_allowed(struct fa_identity *id, const char *url,
					struct fa_err *err) FA_WUR;

/* Ends the browser session of req, as /logout does (record deleted, cookie
 * cleared on resp); a request without a session only gets the cookie
 * cleared. For the authorization server's RP-initiated logout. */
enum fa_rc fa_identity_session_logout(struct fa_identity *id, struct fa_req *req,
				      struct fa_resp *resp, struct fa_err *err) FA_WUR;

/* "/login?redirect_url=<percent-encoded return_to>" in the request arena,
 * for sending an unauthenticated browser to log in. return_to is a path on
 * this server (e.g. "/oauth2/authorize_callback?request=..."), at most
 * FA_MAX_REDIRECT_URI bytes. NULL when return_to is NULL or too long, or
 * the arena is exhausted. */
const char *fa_identity_login_url(struct fa_req *req, const char *return_to);

#endif
