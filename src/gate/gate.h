/* gate.h -- flyteauth's resource gate: decides who is calling a protected
 * route, and serves GET /me.
 *
 * A caller proves itself with a bearer access token (in `authorization` or
 * the configured auth.httpAuthorizationHeader, default
 * `flyte-authorization`; RFC 6750 §2.1) or, without one, with the browser
 * session cookie of the identity layer. Tokens are the ones flyteauth's own
 * authorization server mints (SPEC §5, "Self"): verified with the server's
 * public keys, the algorithm pinned to each key, `typ` at+jwt, `iss`, `aud`
 * and exp/nbf with 30 s leeway, then scope `all` (Flyte's blanket
 * authorization) is required.
 *
 * Access tokens are verified without the store: a token revoked at
 * /oauth2/revoke shows as inactive at /oauth2/introspect, but the gate
 * accepts it until it expires (accessTokenLifespan, 30 min by default) --
 * the price of verifying without a database round trip, as in flyteadmin.
 * Tokens of an external authorization server (authServerType External) are
 * a later verifier behind the same seam; until then fa_gate_new refuses that
 * configuration rather than accept nothing or anything.
 *
 * Threads: a struct fa_gate is immutable after fa_gate_new except for its
 * verified-token cache, which locks itself; the authenticate callback and
 * /me run on any number of threads at once.
 */
#ifndef FA_GATE_H
#define FA_GATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "config/config.h"
#include "http/http.h"
#include "jose/jose.h"

/* Clock skew allowed on exp/nbf/iat: 30 s. */
#define FA_GATE_LEEWAY_S FA_JWT_DEFAULT_LEEWAY
/* Scope a protected resource requires: Flyte's blanket authorization. */
#define FA_GATE_REQUIRED_SCOPE "all"
/* Scopes kept from one token: our clients have three; a token with dozens
 * is not one of ours. */
#define FA_GATE_MAX_SCOPES 64
/* Verified-token cache (cache.c): slots of a direct-mapped table, and the
 * largest remembered principal (our tokens' claims are ~0.5-1 KiB; a
 * larger one is verified every time). Worst case 2048 x 4 KiB = 8 MiB. */
#define FA_GATE_CACHE_SLOTS 2048
#define FA_GATE_CACHE_MAX_SLOTS 65536
#define FA_GATE_CACHE_MAX_ENTRY 4096

struct fa_identity;

/* How a browser session is looked up. serve passes identity's
 * fa_identity_session_user, which has exactly this
 * type; a pointer rather than a call keeps gate free of a link-time
 * dependency on identity (and lets a later upstream-IdP layer plug in).
 * Contract: FA_OK with *user a new reference to a JSON object with `sub`;
 * FA_ENOTFOUND when the request has no valid session; anything else is an
 * internal failure. */
typedef enum fa_rc (*fa_gate_session_fn)(struct fa_identity *id, struct fa_req *req,
					 json_t **user, struct fa_err *err);

struct fa_gate_opts {
	const struct fa_config *cfg;       /* required; borrowed, outlives the gate */
	const struct fa_log *log;          /* NULL: stderr; borrowed */
	/* Public keys of the server, current then old (the ones authz serves
	 * at /oauth2/jwks). The gate takes its own reference. Required, at
	 * least one key. */
	const struct fa_jwks *verify_keys;
	/* The exact `iss` of our tokens (copied). Required. */
	const char *issuer;
	/* Browser sessions: both set, or both NULL (then only bearer tokens
	 * are accepted). identity is borrowed and must outlive the gate. */
	struct fa_identity *identity;
	fa_gate_session_fn session_user;
	/* Lookups in the verified-token cache are counted here as hits and
	 * misses (borrowed, outlives the gate; NULL: not counted). */
	struct fa_metrics *metrics;
	/* Verified tokens are remembered (by SHA-256, until their exp) unless
	 * this is set; see FA_GATE_CACHE_SLOTS. */
	bool no_cache;
};

struct fa_gate;

/* Validates the options and builds the accepted audiences (authorizedUris
 * ∪ {issuer}). NULL with err filled on failure: FA_EINVAL (options),
 * FA_EUNSUPPORTED (authServerType External: not implemented yet),
 * FA_ENOMEM. Free with fa_gate_free. */
struct fa_gate *fa_gate_new(const struct fa_gate_opts *opts, struct fa_err *err) FA_WUR;
void fa_gate_free(struct fa_gate *g);   /* NULL is a no-op */

/* GET /me (authenticated, no-store, CORS), served with app = struct
 * fa_gate *. The table is static. */
void fa_gate_routes(const struct fa_route **routes, size_t *n);

/* ---- authentication (the http layer's authenticate callback) ---------- */

enum fa_gate_method {
	FA_GATE_BEARER = 1,    /* an access token */
	FA_GATE_SESSION = 2,   /* the browser session cookie */
};

/* Who is calling, as set on the request by fa_gate_authenticate. All
 * memory is in the request arena (valid until the handler returns). */
struct fa_gate_principal {
	const char *subject;          /* token `sub` (the client id for
				       * client_credentials) or the session
				       * user's `sub`; never NULL */
	const char *client_id;        /* token `client_id`; NULL for a session */
	const char *const *scopes;    /* granted scopes; a session has {"all"} */
	size_t n_scopes;
	/* Compact JSON text of the user's OIDC claims (the token's `user_info`
	 * object, or the session user); NULL when there is none (e.g. a
	 * client_credentials token). */
	const char *user_info;
	/* Compact JSON text of every claim of the token (flyteadmin's
	 * additional_claims); for a session, the session user. */
	const char *claims;
	int64_t expires_at;           /* token exp; 0 for a session */
	enum fa_gate_method how;
};

/* fa_authenticate_fn for the http layer (app = struct fa_gate *).
 * Order: a bearer token in the configured header or in `authorization`
 * (a Bearer token in both: 400 invalid_request); else the browser session;
 * else refused. A header with another scheme (e.g. Basic, from a proxy in
 * front) counts as no token.
 * On FA_OK the principal is set (fa_gate_principal_get). Refusals, with
 * the status the HTTP layer gives each (RFC 6750 §3.1):
 *   no credentials            FA_EDENIED, oauth_error NULL (401, plain
 *                             `WWW-Authenticate: Bearer`)
 *   malformed header          FA_EINVAL, "invalid_request" (400; not exactly
 *                             one token68 after "Bearer ", or > FA_MAX_TOKEN)
 *   bad token                 FA_EDENIED/FA_EEXPIRED, "invalid_token" (401;
 *                             signature, alg, typ, iss, aud, exp, nbf, sub)
 *   no `all` scope            FA_EDENIED, "insufficient_scope" (403)
 *   internal failure          FA_ENOMEM/FA_ESTORE/..., "server_error" (500) */
enum fa_rc fa_gate_authenticate(struct fa_req *req, void *app, struct fa_err *err) FA_WUR;

/* The principal fa_gate_authenticate set on req, or NULL. Borrowed. */
const struct fa_gate_principal *fa_gate_principal_get(const struct fa_req *req);

/* Extracts the token of an `Authorization: Bearer <token68>` value: the
 * scheme case-insensitive, one or more spaces, exactly one token68
 * (RFC 6750 §2.1: [A-Za-z0-9-._~+/]+ =*), nothing after it, at most
 * FA_MAX_TOKEN bytes. *token and *len point into value.
 * FA_ENOTFOUND: another scheme (not a bearer credential at all).
 * FA_EINVAL / FA_ETOOBIG ("invalid_request"): malformed. */
enum fa_rc fa_gate_bearer_parse(const char *value, const char **token, size_t *len,
				struct fa_err *err) FA_WUR;

#endif
