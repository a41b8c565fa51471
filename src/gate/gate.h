/* gate.h -- flyteauth's resource gate: decides who is calling a protected
 * resource, for flyteauth's own routes (/me), for any service behind a
 * reverse proxy (GET /auth/verify: nginx auth_request, Traefik ForwardAuth,
 * Envoy ext_authz over HTTP), and for any C program (fa_gate_verify).
 *
 * Credentials (SPEC §6), from `authorization` or the configured
 * auth.httpAuthorizationHeader (default `flyte-authorization`):
 *  - `Bearer <access token>` (scheme case-insensitive, RFC 6750 §2.1);
 *  - `IDToken <ID token>` of the upstream IdP (userAuth.openId), as
 *    flyteadmin accepts it: verified against the IdP's keys, `aud` must be
 *    openId.clientId; it carries the blanket scope;
 *  - else the browser session cookie of the identity layer (blanket scope).
 * A token in both headers must be the same token (a proxy copying one
 * header into the other); two different tokens are refused.
 *
 * Access tokens are checked according to auth.appAuth.authServerType:
 *  - Self: minted by flyteauth's own authorization server (SPEC §5):
 *    signature with the current or old key, the algorithm pinned to each
 *    key, `typ` at+jwt, `iss` exact, `aud` one of authorizedUris or the
 *    public URL, exp/nbf with 30 s leeway. With
 *    selfAuthServer.checkRevocation the store is asked whether the token's
 *    jti (or its refresh family) was revoked, through a small cache.
 *  - External: minted by an external authorization server (Okta custom AS,
 *    Keycloak, Entra ID, another flyteauth): keys from the jwks_uri of its
 *    metadata (externalAuthServer.baseUrl + metadataUrl), `iss` equal to
 *    the metadata's issuer (flyteadmin never checks it), `aud` one of
 *    allowedAudience or the public URL, scopes from `scp` (array or
 *    space-separated string) or `scope`.
 * Then auth.requiredScope (default `all`, Flyte's blanket authorization)
 * is required: a missing scope is 403 insufficient_scope, a bad token 401
 * invalid_token.
 *
 * "The public URL as flyteadmin computes it" (GetPublicURL) is always one
 * of authorizedUris when any is configured, else the request's own host.
 * The gate accepts every authorizedUris entry and the configured public
 * URL (selfAuthServer.issuer, else authorizedUris[0], else the listen
 * address), never a host the request names: a Host header is the caller's
 * word, and trusting it would let a token minted for another resource
 * server of the same authorization server pass here.
 *
 * auth.disableForHttp (flyteadmin's switch) lets HTTP requests without a
 * valid credential through anonymously -- the authenticate callback then
 * sets no principal and /auth/verify answers 200 without identity headers
 * -- while a valid token that lacks the scope is still refused, as
 * flyteadmin's blanket authorization refuses it.
 *
 * Threads: a struct fa_gate is immutable after fa_gate_new except for its
 * caches, which lock themselves; every entry point runs on any number of
 * threads at once. Nothing here logs a token or a cookie: a refused token
 * is named by fa_log_id at most.
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
#include "remote/remote.h"

/* Clock skew allowed on exp/nbf/iat: 30 s. */
#define FA_GATE_LEEWAY_S FA_JWT_DEFAULT_LEEWAY
/* Flyte's blanket scope: the default of auth.requiredScope. */
#define FA_GATE_REQUIRED_SCOPE "all"
/* Scopes kept from one token: our clients have three; a token with dozens
 * is not one a resource server should trust blindly. */
#define FA_GATE_MAX_SCOPES 64
/* Verified-token cache (cache.c): slots of a direct-mapped table, and the
 * largest remembered entry (principal plus the rendered /auth/verify
 * headers and GET /me body, each repeating the claims; our tokens' claims
 * are ~0.5-1 KiB, so an entry is ~2-4 KiB; a larger one is verified every
 * time). Worst case 2048 x 8 KiB = 16 MiB, and only tokens that verified
 * fill it. */
#define FA_GATE_CACHE_SLOTS 2048
#define FA_GATE_CACHE_MAX_SLOTS 65536
#define FA_GATE_CACHE_MAX_ENTRY 8192
/* An external authorization server may withdraw a key; its key set is
 * refreshed at most every FA_REMOTE_JWKS_MAX_AGE_MS. A verification of an
 * external token is remembered at most this long (besides exp), so a
 * withdrawn key stops counting soon after the set notices. */
#define FA_GATE_CACHE_EXTERNAL_TTL_S 300
/* Revocation answers (revoke.c): slots, and how long "not revoked" is
 * believed. A revocation made on this instance or another one takes effect
 * within this many seconds; "revoked" is remembered until the token's exp
 * (it never becomes un-revoked). */
#define FA_GATE_REVOCATION_SLOTS 4096
#define FA_GATE_REVOCATION_TTL_S 5
/* The external authorization server's metadata, as /.well-known/oauth-
 * authorization-server serves it, is re-read from the AS this often (and
 * kept when the AS is down). */
#define FA_GATE_EXTERNAL_METADATA_TTL_MS (5 * 60 * 1000)
/* /auth/verify identity headers (authverify.c): one value at most this
 * long after escaping (nginx's default proxy_buffer_size is 4 KiB for all
 * headers of an answer), and at most this many X-User-Claim-* headers; a
 * claim beyond either is left out (and named in a DEBUG log line). */
#define FA_GATE_MAX_HEADER_VALUE 1024
#define FA_GATE_MAX_CLAIM_HEADERS 16

/* ---- the identity of a caller -------------------------------------------- */

enum fa_gate_method {
	FA_GATE_BEARER = 1,    /* an access token */
	FA_GATE_SESSION = 2,   /* the browser session cookie */
	FA_GATE_IDTOKEN = 3,   /* an upstream IdP's ID token (`IDToken` scheme) */
};

/* Who is calling. All memory is in the arena of the call (the request
 * arena for the http layer): valid as long as that arena. */
struct fa_gate_principal {
	const char *subject;          /* `sub` (the client id for client_credentials)
				       * or the session user's `sub`; never NULL */
	const char *client_id;        /* `client_id` (External: also `cid`,
				       * `azp`, `appid`); NULL when none */
	const char *const *scopes;    /* granted scopes; a session or an ID token
				       * has {auth.requiredScope} */
	size_t n_scopes;
	const char *audience;         /* the `aud` value that was accepted;
				       * NULL for a session */
	const char *token_id;         /* `jti`, for log lines; NULL when none */
	/* Compact JSON text of the user's OIDC claims: the token's `user_info`
	 * object (Self), the profile claims of an ID token, the session user;
	 * NULL when there is none (a client_credentials token). */
	const char *user_info;
	/* Compact JSON text of every claim of the token (flyteadmin's
	 * additional_claims); for a session, the session user. */
	const char *claims;
	int64_t expires_at;           /* token exp; 0 for a session */
	enum fa_gate_method how;
};

/* ---- the gate --------------------------------------------------------------- */

struct fa_identity;

/* How a browser session is looked up. serve passes identity's
 * fa_identity_session_user, which has exactly this type; a pointer rather
 * than a call keeps gate free of a link-time dependency on identity.
 * Contract: FA_OK with *user a new reference to a JSON object with `sub`;
 * FA_ENOTFOUND when the request has no valid session; anything else is an
 * internal failure. */
typedef enum fa_rc (*fa_gate_session_fn)(struct fa_identity *id, struct fa_req *req,
					 json_t **user, struct fa_err *err);
/* Where a browser may be sent back to after /login: serve passes
 * identity's fa_identity_redirect_allowed (the rule /login applies to its
 * redirect_url). FA_OK when allowed; anything else refuses. */
typedef enum fa_rc (*fa_gate_redirect_fn)(struct fa_identity *id, const char *url,
					  struct fa_err *err);
struct fa_authz;
/* Has this access token been revoked (Self, checkRevocation)? serve passes
 * authz's fa_authz_token_revoked, which has exactly this type. FA_OK: not
 * revoked; FA_EDENIED: revoked; anything else: the store cannot tell
 * (answered 503). */
typedef enum fa_rc (*fa_gate_revoked_fn)(struct fa_authz *az, const char *jti,
					 struct fa_err *err);

struct fa_gate_opts {
	const struct fa_config *cfg;       /* required; borrowed, outlives the gate */
	const struct fa_log *log;          /* NULL: stderr; borrowed */
	/* The server's public base URL (serve derives it once: selfAuthServer
	 * .issuer, else authorizedUris[0], else the listen address): the
	 * `iss` of Self tokens, an accepted audience, the base of /login for
	 * /auth/verify's redirects. Copied. Required. */
	const char *issuer;
	/* Self: the server's public keys, current then old (the ones authz
	 * serves at /oauth2/jwks); the gate takes its own reference. Required
	 * in Self mode, unused in External mode. */
	const struct fa_jwks *verify_keys;
	/* External: the external authorization server (kind OAUTH, loaded in
	 * the background by serve). Required in External mode. Borrowed. */
	struct fa_remote_issuer *external;
	/* The upstream IdP (userAuth.openId), for the IDToken scheme; NULL:
	 * that scheme is refused (invalid_token). Borrowed. */
	struct fa_remote_issuer *idp;
	/* Browser sessions: identity and session_user both set, or both NULL
	 * (only tokens are accepted). redirect_check may be NULL: then
	 * /auth/verify never redirects. identity is borrowed. */
	struct fa_identity *identity;
	fa_gate_session_fn session_user;
	fa_gate_redirect_fn redirect_check;
	/* Self with checkRevocation: required then (FA_EINVAL without it);
	 * authz is borrowed. */
	fa_gate_revoked_fn revoked;
	struct fa_authz *authz;
	/* Lookups in the verified-token cache are counted here as hits and
	 * misses (borrowed, outlives the gate; NULL: not counted). */
	struct fa_metrics *metrics;
	/* Verified tokens are remembered (by SHA-256, until their exp) unless
	 * this is set; see FA_GATE_CACHE_SLOTS. */
	bool no_cache;
};

struct fa_gate;

/* Validates the options and builds the accepted audiences. NULL with err
 * filled on failure: FA_EINVAL (options), FA_ENOMEM. Free with
 * fa_gate_free (before the remote issuers it borrows). */
struct fa_gate *fa_gate_new(const struct fa_gate_opts *opts, struct fa_err *err) FA_WUR;
void fa_gate_free(struct fa_gate *g);   /* NULL is a no-op */

/* The gate's routes, served with app = struct fa_gate *; the tables are
 * static:
 *   GET /me                         authenticated, no-store, CORS
 *   GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS /auth/verify (and below it)
 *                                   public (it authenticates itself)
 *   GET /config/v1/flyte_client     public, CORS (both modes)
 *   GET /.well-known/oauth-authorization-server
 *                                   public, CORS; External mode only (in
 *                                   Self mode authz serves its own) */
void fa_gate_routes(const struct fa_gate *g, const struct fa_route **routes, size_t *n);

/* The scope the gate demands (auth.requiredScope), for the http layer's
 * challenges. Borrowed from the config. */
const char *fa_gate_required_scope(const struct fa_gate *g);

/* ---- verification: the C API ---------------------------------------------- */

/* Where a request's credentials come from, for callers with or without the
 * http layer. */
struct fa_gate_request {
	/* The value of a request header (name matched case-insensitively), or
	 * NULL when absent. A header sent more than once must come back as
	 * its values joined by ", " (RFC 9110 §5.3), or as
	 * FA_GATE_HEADER_REPEATED: never as just one of them, so that two
	 * Authorization headers cannot be read as one credential. Required. */
	const char *(*header)(void *ctx, const char *name);
	void *ctx;
	/* The http layer's request, for the browser session cookie; NULL:
	 * sessions are not considered (callers outside the http layer). */
	struct fa_req *req;
};

/* The marker a header getter may return for a header sent more than once. */
extern const char fa_gate_header_repeated[];
#define FA_GATE_HEADER_REPEATED fa_gate_header_repeated

/* A ready-made getter over name/value pairs: ctx is a struct
 * fa_gate_headers. A name present twice gives FA_GATE_HEADER_REPEATED. */
struct fa_gate_header {
	const char *name;
	const char *value;
};
struct fa_gate_headers {
	const struct fa_gate_header *v;
	size_t n;
};
const char *fa_gate_headers_get(void *ctx, const char *name);

/* Verifies the request's credential and checks auth.requiredScope. Memory
 * for *out comes from a (at most a few KiB per call). A refusal names its
 * RFC 6750 error in err->oauth_error; the HTTP status that goes with it
 * (in brackets) is fa_http_bearer_status's.
 *   FA_OK            *out is the caller.
 *   no credential    FA_ENOTFOUND, oauth_error NULL [401] (answer a plain
 *                    `WWW-Authenticate: Bearer`).
 *   malformed        FA_EINVAL / FA_ETOOBIG, "invalid_request" [400]: not
 *                    one token68 after the scheme, over FA_MAX_TOKEN,
 *                    different tokens in the two headers, a header sent
 *                    twice.
 *   bad token        FA_EDENIED or FA_EEXPIRED, "invalid_token" [401]: alg,
 *                    signature, unknown kid, typ, iss, aud, exp, nbf, sub,
 *                    revoked, an IDToken without an upstream IdP.
 *   missing scope    FA_EDENIED, "insufficient_scope" [403]; *out still
 *                    holds the verified caller (for the log line).
 *   cannot decide    FA_ENET (the external AS's metadata or keys not loaded
 *                    yet) or FA_ESTORE (revocation check),
 *                    "temporarily_unavailable" [503].
 *   internal         FA_ENOMEM / FA_ECRYPTO, "server_error" [500].
 * err->msg says why, for a log line and an error_description: it names the
 * rule, never the token. */
enum fa_rc fa_gate_verify(const struct fa_gate *g, const struct fa_gate_request *in,
			  struct fa_arena *a, struct fa_gate_principal *out,
			  struct fa_err *err) FA_WUR;

/* ---- the http layer ----------------------------------------------------------- */

/* fa_authenticate_fn for the http layer (app = struct fa_gate *):
 * fa_gate_verify on the request, then the principal is set on it
 * (fa_gate_principal_get). With auth.disableForHttp, a request refused for
 * want of a valid credential (401, 400) passes with no principal. */
enum fa_rc fa_gate_authenticate(struct fa_req *req, void *app, struct fa_err *err) FA_WUR;

/* The principal fa_gate_authenticate set on req, or NULL. Borrowed. */
const struct fa_gate_principal *fa_gate_principal_get(const struct fa_req *req);

/* ---- credential headers ------------------------------------------------------ */

enum fa_gate_scheme {
	FA_GATE_SCHEME_BEARER = 1,
	FA_GATE_SCHEME_IDTOKEN = 2,
};

/* Reads an Authorization-style value: scheme `Bearer` or `IDToken`
 * (case-insensitive), one or more spaces, exactly one token68 (RFC 7235:
 * [A-Za-z0-9-._~+/]+ =*), nothing after it, at most FA_MAX_TOKEN bytes.
 * *token and *len point into value.
 * FA_ENOTFOUND: NULL, or another scheme (not a credential of ours).
 * FA_EINVAL / FA_ETOOBIG ("invalid_request"): malformed. */
enum fa_rc fa_gate_credential_parse(const char *value, enum fa_gate_scheme *scheme,
				    const char **token, size_t *len, struct fa_err *err) FA_WUR;

/* fa_gate_credential_parse for the Bearer scheme alone: `IDToken ...` is
 * FA_ENOTFOUND like any other scheme. */
enum fa_rc fa_gate_bearer_parse(const char *value, const char **token, size_t *len,
				struct fa_err *err) FA_WUR;

#endif
