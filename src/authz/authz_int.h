/* authz_int.h -- the protocol logic of the authorization server, shared by
 * the files of src/authz and by its unit tests: the caps of this module,
 * the pure protocol pieces (scopes, PKCE, redirect URIs, client
 * authentication), the server context, and the grant logic the endpoints
 * translate HTTP into.
 *
 * Not part of the module's interface: other modules include authz.h only.
 * This header deliberately sees no HTTP type (it includes neither authz.h
 * nor http.h): the logic files (scope.c, pkce.c, client.c, authorize.c,
 * grant.c, family.c, token.c, device.c, introspect.c, util.c, metadata.c)
 * include only it, and answer with an OAuth error code; the endpoint files
 * (ep_*.c, and authz.c which wires the module) include authz_ep_int.h,
 * translate requests into this logic and its results into responses, and
 * alone choose HTTP statuses. Within the logic, scope.c, pkce.c and
 * client.c know neither HTTP nor the store; the grant files sit on top of
 * the store and jose.
 */
#ifndef FA_AUTHZ_INT_H
#define FA_AUTHZ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include <jansson.h>

#include "base/base.h"
#include "config/config.h"
#include "jose/jose.h"
#include "secrets/secrets.h"
#include "store/store.h"

struct fa_authz;      /* the server context, below */

/* ---- caps of this module (the shared ones live in base/limits.h) -------- */

/* `state`: RFC 6749 only says "opaque"; below 8 characters it cannot carry
 * enough entropy to stop login CSRF, so it is refused. 1 KiB leaves room for
 * clients that encode data in it, and bounds the stored request. */
#define FA_AUTHZ_MIN_STATE 8
#define FA_AUTHZ_MAX_STATE 1024
/* Groups a token's user claims carry, and the length of one: enough for a
 * person's memberships, small enough that a token stays under FA_MAX_TOKEN
 * (16 x 128 bytes). */
#define FA_AUTHZ_MAX_GROUPS 16
#define FA_AUTHZ_MAX_GROUP 128
/* `nonce` is passed through to the stored request; same reasoning. */
#define FA_AUTHZ_MAX_NONCE 512
/* Audiences in one `audience` value or one client's list entry set. */
#define FA_AUTHZ_MAX_AUDIENCES 8
/* One audience value (a URL). */
#define FA_AUTHZ_MAX_AUDIENCE 512
/* A user claim string copied into tokens (name, email, picture URL...):
 * bounds the access token well below FA_MAX_TOKEN. */
#define FA_AUTHZ_MAX_CLAIM 1024
/* RFC 7636 §4.1: a code_verifier is 43..128 unreserved characters; an S256
 * code_challenge is the 43-character base64url SHA-256 of it. */
#define FA_PKCE_VERIFIER_MIN 43
#define FA_PKCE_VERIFIER_MAX 128
#define FA_PKCE_CHALLENGE_LEN 43
/* A pending authorize request waits this long for the user to log in: long
 * enough to type a password, short enough that a leaked callback link dies. */
#define FA_AUTHZ_AUTHREQ_TTL_S 600
/* Keys of each rate limit of admit.c (selfAuthServer.rateLimits). */
#define FA_AUTHZ_RATE_KEYS 65536
/* The pending caps' store count is read at most this often per process. */
#define FA_AUTHZ_PENDING_READ_MS 1000
/* Retry-After when a pending cap is reached. */
#define FA_AUTHZ_PENDING_RETRY_S 30
/* Remembered client-secret checks (see DESIGN.md "Performance design"):
 * one entry per (client, secret) pair in use; confidential machine clients
 * are few, so 4096 is far above need. A busy client pays bcrypt once per
 * ten minutes; a hash changed in the config misses at once, because the
 * stored hash is part of the entry key. */
#define FA_AUTHZ_SECRET_CACHE_ENTRIES 4096
#define FA_AUTHZ_SECRET_CACHE_TTL_S 600
/* Failed client authentications: a bucket of FA_AUTHZ_FAIL_BURST per
 * client address and per configured client id, refilled at the given
 * rate; each failure (a bcrypt that did not match, or the dummy check of
 * an unknown client) takes one, and an empty bucket is answered 429
 * slow_down without bcrypt. A machine client with the right secret is
 * answered from the check cache and never meets the throttle. Per
 * process: N instances allow N times the rate. */
#define FA_AUTHZ_FAIL_BURST 10
#define FA_AUTHZ_FAIL_ADDR_PER_S 0.2
#define FA_AUTHZ_FAIL_CLIENT_PER_S 1.0
#define FA_AUTHZ_FAIL_KEYS 65536
/* Decoded `Authorization: Basic` credentials: a form-urlencoded id and
 * secret can triple in size. */
#define FA_AUTHZ_MAX_BASIC (3 * (FA_MAX_ID + FA_MAX_PASSWORD) + 1)
/* Family ids: 128 random bits as hex. They are not secrets (never given to
 * a client), only names that cannot collide. */
#define FA_AUTHZ_FAMILY_ID_LEN 32
/* jti: 128 random bits as unpadded base64url. */
#define FA_AUTHZ_JTI_LEN 22

/* Store kinds owned by authz. */
#define FA_KIND_CODE "code"
#define FA_KIND_RT "rt"
#define FA_KIND_FAMILY "family"
#define FA_KIND_AUTHREQ "authreq"
#define FA_KIND_REVOKED "revoked"
#define FA_KIND_AT "at"
#define FA_KIND_INSTALL "install"

/* ---- scopes (scope.c) ------------------------------------------------- */

/* A set of scope tokens (RFC 6749 §3.3), in first-seen order, without
 * duplicates. Plain data: copy it with `=`. */
struct fa_scope {
	size_t n;
	uint16_t off[FA_MAX_SCOPES];   /* token i starts at buf + off[i] */
	char buf[FA_MAX_SCOPE + 1];          /* tokens, each NUL-terminated */
	size_t used;
};

/* Parses a scope value: tokens of %x21 / %x23-5B / %x5D-7E separated by
 * single spaces (RFC 6749 §3.3 grammar; no leading, trailing or doubled
 * space). Repeated tokens collapse into one. s may be NULL or "": empty set.
 * Errors: FA_EINVAL (grammar), FA_ETOOBIG (over FA_MAX_SCOPE bytes or
 * FA_MAX_SCOPES tokens); err carries invalid_scope. */
enum fa_rc fa_scope_parse(const char *s, struct fa_scope *out, struct fa_err *err) FA_WUR;
/* The set of a config list (each item must be one valid token). */
enum fa_rc fa_scope_from_list(char *const *items, size_t n, struct fa_scope *out,
			      struct fa_err *err) FA_WUR;
/* Adds one token (validated; a duplicate is a no-op). */
enum fa_rc fa_scope_add(struct fa_scope *sc, const char *tok, struct fa_err *err) FA_WUR;
void fa_scope_init(struct fa_scope *sc);
/* Token i (< n), borrowed from sc. */
const char *fa_scope_get(const struct fa_scope *sc, size_t i);
bool fa_scope_has(const struct fa_scope *sc, const char *tok);
/* Every token of a is in b. */
bool fa_scope_subset(const struct fa_scope *a, const struct fa_scope *b);
/* Tokens joined by single spaces into out (cap >= FA_MAX_SCOPE + 1 always
 * fits a parsed set). */
void fa_scope_format(const struct fa_scope *sc, char *out, size_t cap);
/* A new JSON array of the tokens, or NULL on allocation failure. */
json_t *fa_scope_json(const struct fa_scope *sc);
/* `offline` or `offline_access`: the scope that asks for a refresh token. */
bool fa_scope_has_offline(const struct fa_scope *sc);
/* What a client may be granted (SPEC §5): its configured scopes, the other
 * spelling of offline access when it has one (`offline_access` is an alias
 * of Flyte's `offline`), and, for a client that logs users in (`logs_in`),
 * OpenID Connect's openid, profile and email. */
enum fa_rc fa_scope_allowed_build(const struct fa_scope *configured, bool logs_in,
				  struct fa_scope *out, struct fa_err *err) FA_WUR;
/* RFC 6749 §3.3 narrowing: *out gets the tokens of want that are in
 * allowed (want's order). A non-empty want of which nothing is allowed is
 * FA_EDENIED invalid_scope; an empty want gives an empty *out. */
enum fa_rc fa_scope_narrow(const struct fa_scope *want, const struct fa_scope *allowed,
			   struct fa_scope *out, struct fa_err *err) FA_WUR;
/* A request's scope parameter (may be NULL): parsed, dflt when empty,
 * then narrowed to allowed. */
enum fa_rc fa_scope_request(const char *requested, const struct fa_scope *dflt,
			    const struct fa_scope *allowed, struct fa_scope *out,
			    struct fa_err *err) FA_WUR;

/* ---- PKCE (pkce.c) ---------------------------------------------------- */

/* RFC 7636 §4.2 method: only S256. `method` NULL means the RFC's default,
 * "plain", which is refused: a plain challenge is the verifier itself and
 * protects nothing once the authorize URL leaks. On success the challenge
 * is 43 base64url characters. Errors: FA_EINVAL / FA_EUNSUPPORTED with
 * invalid_request. */
enum fa_rc fa_pkce_challenge_check(const char *challenge, const char *method,
				   struct fa_err *err) FA_WUR;
/* Checks a code_verifier's syntax (43..128 unreserved characters) and that
 * base64url(SHA-256(verifier)) equals challenge (constant time).
 * Errors: FA_EINVAL (syntax, invalid_request), FA_EDENIED (mismatch,
 * invalid_grant), FA_ECRYPTO. */
enum fa_rc fa_pkce_verify(const char *challenge, const char *verifier,
			  struct fa_err *err) FA_WUR;

/* ---- redirect URIs (client.c) -------------------------------------------- */

/* Does `requested` match one of the client's registered redirect URIs, by
 * base's one rule (fa_url_redirect_match: exact, or any port on a loopback
 * http URI, RFC 8252 §7.3)? */
bool fa_redirect_match(const char *requested, char *const *registered, size_t n);

/* ---- clients (client.c) ------------------------------------------------ */

enum fa_authz_grant_bits {
	FA_GRANT_CODE = 1u << 0,            /* authorization_code */
	FA_GRANT_REFRESH = 1u << 1,         /* refresh_token */
	FA_GRANT_CLIENT_CREDENTIALS = 1u << 2,
	FA_GRANT_DEVICE = 1u << 3,          /* urn:ietf:params:oauth:grant-type:device_code */
};

#define FA_GRANT_TYPE_DEVICE "urn:ietf:params:oauth:grant-type:device_code"

/* Maps a grant_type name to its bit; 0 for a name we do not implement. */
unsigned fa_authz_grant_bit(const char *name);

/* A client as the server uses it, built once from the config and never
 * changed. Strings and lists are borrowed from the config. */
struct fa_authz_client {
	const char *id;
	bool is_public;
	unsigned grants;                 /* enum fa_authz_grant_bits */
	bool response_code;              /* response_types has "code" */
	struct fa_scope scopes;          /* as configured: the default request */
	bool logs_in;                    /* may log users in: code or device grant */
	struct fa_scope allowed;         /* fa_scope_allowed_build of scopes */
	char *const *redirect_uris;
	size_t n_redirect_uris;
	char *const *audience;
	size_t n_audience;
	char *const *post_logout_uris;   /* RP-initiated logout targets */
	size_t n_post_logout_uris;
	/* Raw bcrypt hashes accepted as this client's secret: the current one
	 * first, then rotated ones. Confidential clients only. */
	char (*hashes)[FA_BCRYPT_LEN + 1];
	size_t n_hashes;
};

/* Credentials as the token, introspection and revocation endpoints received
 * them; every pointer is borrowed and may be NULL. */
struct fa_authz_creds {
	const char *authorization;   /* the Authorization header value */
	const char *client_id;       /* form client_id */
	const char *client_secret;   /* form client_secret */
	/* The caller's address for the failed-authentication throttle;
	 * NULL: throttled per client id only. */
	const char *addr;
	/* true: never run bcrypt in this call (an HTTP worker): when the
	 * answer needs it, return FA_EEXIST with needs_block set, having
	 * decided nothing. */
	bool no_block;
	bool needs_block;            /* out: see no_block */
	int64_t retry_ms;            /* out: throttled (slow_down): wait this long */
};

/* The client with this id (binary search of the sorted table), or NULL. */
const struct fa_authz_client *fa_authz_client_get(const struct fa_authz *az, const char *id);

/* Authenticates the caller (RFC 6749 §2.3): client_secret_basic (id and
 * secret form-urlencoded inside Basic, decoded here) or client_secret_post,
 * never both; a public client sends client_id alone (an empty Basic
 * password counts as none). *used_basic tells whether Basic was presented
 * (the answer to a failure then carries WWW-Authenticate: Basic).
 * Errors (err->oauth_error set):
 *   invalid_request  two methods at once, malformed Basic, ids differ
 *   invalid_client   no client id, unknown client, wrong or missing
 *                        secret (one message for all of these), a public
 *                        client presenting a secret
 *   slow_down        too many failures from this address or for this
 *                        client (FA_AUTHZ_FAIL_*): cr->retry_ms says how
 *                        long to wait; no bcrypt was run
 *   server_error     a stored hash is malformed, or an internal failure
 * FA_EEXIST (no OAuth error) with cr->needs_block: see cr->no_block. */
enum fa_rc fa_authz_client_auth(struct fa_authz *az, struct fa_authz_creds *cr,
				const struct fa_authz_client **out, bool *used_basic,
				struct fa_err *err) FA_WUR;

/* Parses `Basic <base64(urlenc(id) ":" urlenc(secret))>` into id and
 * secret (NUL-terminated, decoded). FA_ENOTFOUND when the header is not
 * Basic at all; FA_EINVAL / FA_ETOOBIG when it is Basic but malformed. */
enum fa_rc fa_authz_basic_parse(const char *header, char id[FA_MAX_ID + 1],
				char secret[FA_MAX_PASSWORD + 1], struct fa_err *err) FA_WUR;

/* ---- the server context ------------------------------------------------ */

struct fa_authz_ep;   /* what only the endpoints use (authz_ep_int.h) */
struct fa_identity;   /* identity/identity.h */

/* What an unauthenticated request wants to write (admit.c). */
enum fa_authz_admit {
	FA_ADMIT_DEVICE = 0,      /* POST /oauth2/device/authorize */
	FA_ADMIT_AUTHORIZE = 1,   /* an anonymous GET /oauth2/authorize */
	FA_ADMIT_N = 2,
};

/* The live rows of one kind, as last read from the store, and what this
 * process admitted since. */
struct fa_authz_pending {
	const char *kind;
	int64_t cap_rows;
	atomic_llong at_ms;       /* when read (the authz clock); 0: never */
	atomic_llong rows;
	atomic_llong added;
};

struct fa_authz {
	const struct fa_config *cfg;
	struct fa_store *store;
	const struct fa_log *log;
	struct fa_log own_log;           /* used when opts->log is NULL */
	struct fa_metrics *metrics;      /* borrowed; NULL: not counted */
	struct fa_jwk *signing_key;      /* our reference */
	struct fa_jwks *verify_keys;     /* our reference */
	json_t *jws_extra;               /* {"key_id": kid}, immutable */
	char *issuer;
	struct fa_authz_ep *ep;          /* owned */
	struct fa_secret_cache *secret_cache;
	/* Failed client authentications (bcrypt runs) allowed per address and
	 * per client id (FA_AUTHZ_FAIL_*); past them: 429 slow_down, no bcrypt. */
	struct fa_limiter *fail_addr;
	struct fa_limiter *fail_client;
	/* admit.c: rates and pending caps of the unauthenticated writers. */
	struct fa_limiter *rate_addr[FA_ADMIT_N];
	struct fa_limiter *rate_client[FA_ADMIT_N];
	struct fa_authz_pending pending[FA_ADMIT_N];
	struct fa_authz_client *clients; /* sorted by id */
	size_t n_clients;
	char install_hash[FA_BCRYPT_LEN + 1];  /* generated flytepropeller hash */
	const char *default_audience;    /* authorizedUris[0], else issuer */
	int64_t at_ttl_s;
	int64_t rt_ttl_s;
	int64_t rt_max_s;                /* refreshTokenMaxLifespan, from auth_time */
	int64_t code_ttl_s;
	/* opts->login.user_check and its identity (NULL: users not re-checked). */
	enum fa_rc (*user_check)(struct fa_identity *id, const char *provider, const json_t *user,
				 struct fa_err *err);
	struct fa_identity *user_check_id;
	bool device_enabled;             /* some client may use the device grant */
	int64_t device_ttl_s;            /* deviceCodeLifespan */
	int64_t device_interval_s;       /* devicePollInterval, rounded up */
	/* Immutable response bodies built once. */
	char *metadata_json;
	size_t metadata_len;
	char *op_json;                   /* the OpenID Provider document */
	size_t op_len;
	char *jwks_json;
	size_t jwks_len;
	/* Clock (tests replace it): unix milliseconds. */
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

/* Replaces the clock (tests). NULL restores the wall clock. */
void fa_authz_set_clock(struct fa_authz *az, int64_t (*clock_ms)(void *), void *arg);
int64_t fa_authz_now_ms(const struct fa_authz *az);
int64_t fa_authz_now(const struct fa_authz *az);     /* seconds */

/* ---- admission of unauthenticated writes (admit.c) --------------------- */

enum fa_rc fa_authz_admit_init(struct fa_authz *az, struct fa_err *err) FA_WUR;
void fa_authz_admit_free(struct fa_authz *az);
/* May `addr` make `client_id` write one more `what`? FA_OK (counted);
 * FA_EDENIED slow_down over a rate (*retry_s: when a token is back);
 * FA_EDENIED temporarily_unavailable when the pending cap is reached
 * (*retry_s: FA_AUTHZ_PENDING_RETRY_S); FA_ESTORE when the store cannot
 * be counted (fail closed). Nothing is written either way. */
enum fa_rc fa_authz_admit(struct fa_authz *az, enum fa_authz_admit what, const char *addr,
			  const char *client_id, int64_t *retry_s, struct fa_err *err) FA_WUR;

/* ---- users ------------------------------------------------------------- */

/* Copies the OIDC claims a token may carry (sub, name, preferred_username,
 * given_name, family_name, email, picture: strings only, each at most
 * FA_AUTHZ_MAX_CLAIM bytes, sub at most FA_MAX_ID; email_verified when a
 * boolean; groups: up to FA_AUTHZ_MAX_GROUPS strings of at most
 * FA_AUTHZ_MAX_GROUP bytes) from user into a new object *out. FA_EINVAL
 * without a usable sub. */
enum fa_rc fa_authz_user_filter(const json_t *user, json_t **out, struct fa_err *err) FA_WUR;

/* Puts the login that `user` (identity's answer: claims, auth_time,
 * login_provider) describes into rec, the code or device record a family
 * starts from: "user" (fa_authz_user_filter), "auth_time" (identity's when
 * it is in (0, now], else now) and "prov" (login_provider, when it is a
 * short name). */
enum fa_rc fa_authz_rec_login(json_t *rec, const json_t *user, int64_t now,
			      struct fa_err *err) FA_WUR;

/* ---- audiences (token.c) ---------------------------------------------- */

/* Resolves the `audience` parameter (space-separated, may be NULL) for a
 * client: NULL gives [default_audience]; otherwise every value must be in
 * the client's audience list or be the default audience (invalid_request
 * otherwise). *out is a new JSON array. */
enum fa_rc fa_authz_audience(const struct fa_authz *az, const struct fa_authz_client *c,
			     const char *requested, json_t **out, struct fa_err *err) FA_WUR;

/* ---- access tokens (token.c) ------------------------------------------ */

/* What goes into one access token. Pointers are borrowed. */
struct fa_authz_at {
	const char *sub;                 /* user subject, or the client id */
	const char *client_id;
	const json_t *aud;               /* JSON array of strings */
	const struct fa_scope *scope;
	const json_t *user_info;         /* filtered user, or NULL (machine token) */
	int64_t now;                     /* iat */
};

/* Mints a signed access token (SPEC §5): *token is malloc'd, jti gets its
 * id, *exp its expiry. */
enum fa_rc fa_authz_at_mint(const struct fa_authz *az, const struct fa_authz_at *at,
			    char **token, char jti[FA_AUTHZ_JTI_LEN + 1], int64_t *exp,
			    struct fa_err *err) FA_WUR;

/* Verifies one of our access tokens (signature by verify_keys with the alg
 * pinned to the key, typ at+jwt, iss, exp without leeway): *claims is a new
 * reference. Revocation is not looked at here. */
enum fa_rc fa_authz_at_verify(const struct fa_authz *az, const char *token, json_t **claims,
			      struct fa_err *err) FA_WUR;

/* ---- ID tokens (idtoken.c) --------------------------------------------- */

/* An id_token_hint is honoured this long after it expired (the longest a
 * login session can live): it still names who logged in. */
#define FA_AUTHZ_HINT_MAX_AGE_S (30LL * 24 * 3600)
/* A session id (`sid`) as identity names sessions: 32 hex digits. */
#define FA_AUTHZ_MAX_SID 64

/* What goes into one ID token. Pointers are borrowed. */
struct fa_authz_idt {
	const char *client_id;           /* aud and azp */
	const json_t *user;              /* filtered claims, with sub */
	const struct fa_scope *scope;    /* granted: profile / email pick claims */
	int64_t auth_time;               /* 0: left out */
	const char *nonce;               /* NULL or "": left out */
	const char *sid;                 /* NULL or "": left out */
	const char *access_token;        /* issued with it: at_hash */
	int64_t now;                     /* iat */
};

/* Mints a signed ID token (OpenID Connect Core §2; SPEC §5): *token is
 * malloc'd. */
enum fa_rc fa_authz_idt_mint(const struct fa_authz *az, const struct fa_authz_idt *in,
			     char **token, struct fa_err *err) FA_WUR;
/* Sets into's `sub` and the claims of user that scope releases (Core §5.4:
 * profile -> name, preferred_username, given_name, family_name, picture,
 * groups; email -> email, email_verified). FA_ENOMEM only. */
enum fa_rc fa_authz_user_claims(const json_t *user, const struct fa_scope *scope,
				json_t *into) FA_WUR;
/* Checks an ID token of ours given back as id_token_hint: signature by
 * verify_keys, typ JWT, iss, string aud and sub; expired up to
 * FA_AUTHZ_HINT_MAX_AGE_S is accepted. *claims is a new reference.
 * Errors: FA_EDENIED / FA_ETOOBIG invalid_request. */
enum fa_rc fa_authz_idt_hint(const struct fa_authz *az, const char *token, json_t **claims,
			     struct fa_err *err) FA_WUR;

/* ---- RP-initiated logout (logout.c) ------------------------------------ */

/* Raw parameters of /oauth2/end_session; borrowed, NULL if absent. */
struct fa_authz_logout_params {
	const char *id_token_hint;
	const char *client_id;
	const char *post_logout_redirect_uri;
	const char *state;
};

/* A checked end-session request (plain data). */
struct fa_authz_logout {
	const struct fa_authz_client *client;        /* NULL: none named */
	char sub[FA_MAX_ID + 1];                     /* the hint's subject; "" without */
	char redirect[FA_MAX_REDIRECT_URI + 1];      /* "" : no redirect */
	char state[FA_AUTHZ_MAX_STATE + 1];
};

/* OpenID Connect RP-Initiated Logout 1.0 §2-3: checks the hint, client_id
 * and post_logout_redirect_uri (exact match against the client's
 * post_logout_redirect_uris). Errors: invalid_request (FA_EINVAL,
 * FA_EDENIED, FA_ETOOBIG). */
enum fa_rc fa_authz_logout_check(struct fa_authz *az, const struct fa_authz_logout_params *p,
				 struct fa_authz_logout *out, struct fa_err *err) FA_WUR;

/* ---- grants (grant.c, family.c) --------------------------------------- */

/* The answer of a successful grant. */
struct fa_authz_grant {
	char *access_token;                          /* malloc'd */
	char *id_token;                              /* malloc'd; NULL without openid */
	int64_t expires_in;
	char scope[FA_MAX_SCOPE + 1];
	char refresh_token[FA_TOKEN_CHARS + 1];      /* "" when none was issued */
	char jti[FA_AUTHZ_JTI_LEN + 1];
	char sub[FA_MAX_ID + 1];                     /* the token's subject, for the audit
	                                              * line (cut to fit) */
};

/* Frees the access token and wipes the refresh token. */
void fa_authz_grant_cleanup(struct fa_authz_grant *g);

/* authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6). */
enum fa_rc fa_authz_grant_code(struct fa_authz *az, const struct fa_authz_client *c,
			       const char *code, const char *redirect_uri,
			       const char *code_verifier, struct fa_authz_grant *out,
			       struct fa_err *err) FA_WUR;
/* refresh_token (RFC 6749 §6) with rotation and reuse detection: a token
 * read as already spent revokes its whole family (invalid_grant, "now
 * revoked"); a request that read it active but lost the version-checked
 * rotation to a concurrent one gets invalid_grant and changes nothing. */
enum fa_rc fa_authz_grant_refresh(struct fa_authz *az, const struct fa_authz_client *c,
				  const char *refresh_token, const char *scope,
				  struct fa_authz_grant *out, struct fa_err *err) FA_WUR;
/* client_credentials (RFC 6749 §4.4): no store access at all. */
enum fa_rc fa_authz_grant_client_credentials(struct fa_authz *az,
					     const struct fa_authz_client *c,
					     const char *scope, const char *audience,
					     struct fa_authz_grant *out,
					     struct fa_err *err) FA_WUR;

/* Refresh families (family.c). A family is everything one authorization
 * code led to: its refresh tokens (one live at a time) and access tokens. */

/* Revokes family `id` (idempotent; a missing family is not an error).
 * `why` goes into the record and the log line. */
enum fa_rc fa_authz_family_revoke(struct fa_authz *az, const char *id, const char *why,
				  struct fa_err *err) FA_WUR;

/* A single-use record being redeemed into a new family: an authorization
 * code (grant.c) or an approved device code (device.c). Strings borrowed. */
struct fa_authz_redeem {
	const char *kind;        /* its store kind: FA_KIND_CODE, FA_KIND_DEVICE */
	const char *key;         /* its store key */
	int64_t version;         /* as read: the REDEEMED write is checked against it */
	int64_t expires_at;      /* its store expiry as read */
	const char *damaged;     /* server_error message: scope or user unusable */
	const char *used;        /* invalid_grant message: a concurrent redemption won */
};

/* Redeems rec, which the caller read as redeemable by client c and whose
 * bindings it checked: starts a family from rec's "scp", "user",
 * "auth_time" and "aud" (resolved by fa_authz_audience) and mints its first
 * tokens, and in the same transaction writes rec back with "st": "redeemed"
 * and "fam": the family's id (rec is changed in place), version-checked,
 * and kept at least as long as those tokens can live, so that a replay can
 * still revoke them.
 * Errors: FA_ESTORE server_error r->damaged; the audience's error;
 * FA_EDENIED invalid_grant r->used when another redemption wrote first (a
 * race, not a replay: nothing changes); server_error when minting or the
 * store fails. */
enum fa_rc fa_authz_family_redeem(struct fa_authz *az, const struct fa_authz_client *c,
				  json_t *rec, const struct fa_authz_redeem *r,
				  struct fa_authz_grant *out, struct fa_err *err) FA_WUR;

/* ---- authorize (authorize.c) ----------------------------------------- */

/* Raw query parameters of /oauth2/authorize; all borrowed, NULL if absent. */
struct fa_authz_params {
	const char *response_type;
	const char *client_id;
	const char *redirect_uri;
	const char *scope;
	const char *state;
	const char *code_challenge;
	const char *code_challenge_method;
	const char *nonce;
	const char *audience;
	/* OpenID Connect Core §3.1.2.1 */
	const char *response_mode;
	const char *prompt;
	const char *max_age;
	const char *login_hint;
	const char *id_token_hint;
	const char *display;
	const char *ui_locales;
	const char *claims_locales;
	const char *acr_values;
	const char *claims;
	const char *request;
	const char *request_uri;
};

/* A login_hint passed on to the login form: a username. */
#define FA_AUTHZ_MAX_LOGIN_HINT FA_MAX_ID
/* max_age above ten years is no limit at all. */
#define FA_AUTHZ_MAX_MAX_AGE (10LL * 366 * 24 * 3600)

/* A validated authorization request (plain data). */
struct fa_authz_areq {
	const struct fa_authz_client *client;
	bool redirect_ok;       /* redirect_uri is validated: errors may redirect */
	bool redirect_given;    /* the request carried redirect_uri */
	char redirect_uri[FA_MAX_REDIRECT_URI + 1];
	char state[FA_AUTHZ_MAX_STATE + 1];         /* "" when absent/invalid */
	struct fa_scope scope;
	char challenge[FA_PKCE_CHALLENGE_LEN + 1];  /* "" without PKCE */
	char nonce[FA_AUTHZ_MAX_NONCE + 1];
	char audience[FA_MAX_SCOPE + 1];            /* "" = default */
	bool form_post;         /* response_mode=form_post */
	bool prompt_none;       /* never show a page: login_required instead */
	bool prompt_login;      /* a fresh login even with a session */
	int64_t max_age;        /* -1: none; else the oldest login accepted, s */
	char login_hint[FA_AUTHZ_MAX_LOGIN_HINT + 1];
	char hint_sub[FA_MAX_ID + 1];               /* id_token_hint's sub, or "" */
};

/* Does the session's `user` (with auth_time) satisfy areq at `now`, or
 * must the user log in (again)? prompt=login, max_age exceeded, or an
 * id_token_hint for another user. */
bool fa_authz_login_needed(const struct fa_authz_areq *areq, const json_t *user, int64_t now);

/* Validates an authorization request. On failure err has an oauth_error; areq->redirect_ok says whether the failure may
 * be sent to the client's redirect_uri (false: unknown client or bad
 * redirect_uri, which must get an error page, never a redirect). */
enum fa_rc fa_authz_authorize_check(struct fa_authz *az, const struct fa_authz_params *p,
				    struct fa_authz_areq *areq, struct fa_err *err) FA_WUR;

/* Issues a code for areq and `user` (borrowed; filtered here): INSERTs the
 * code record, in one transaction with `also` (may be NULL: e.g. the DELETE
 * of the pending request). code gets the raw code. */
enum fa_rc fa_authz_code_issue(struct fa_authz *az, const struct fa_authz_areq *areq,
			       const json_t *user, const struct fa_store_op *also,
			       char code[FA_TOKEN_CHARS + 1], struct fa_err *err) FA_WUR;

/* Saves areq as a pending request bound to the browser by `bind` (the raw
 * value of the binding cookie). id gets the request id for the callback. */
enum fa_rc fa_authz_authreq_save(struct fa_authz *az, const struct fa_authz_areq *areq,
				 const char *bind, char id[FA_TOKEN_CHARS + 1],
				 struct fa_err *err) FA_WUR;
/* Loads pending request `id` if `bind` (may be NULL) is the cookie it was
 * bound to. *version gets the record version for the consuming DELETE.
 * Errors: FA_ENOTFOUND (absent, expired or already used), FA_EDENIED
 * (another browser), FA_ESTORE. */
enum fa_rc fa_authz_authreq_load(struct fa_authz *az, const char *id, const char *bind,
				 struct fa_authz_areq *areq, int64_t *version,
				 struct fa_err *err) FA_WUR;

/* Serialises / parses the request part shared by the code and authreq
 * records. */
json_t *fa_authz_areq_json(const struct fa_authz_areq *areq);
enum fa_rc fa_authz_areq_from_json(struct fa_authz *az, const json_t *j, struct fa_authz_areq *areq,
				   struct fa_err *err) FA_WUR;

/* ---- device authorization grant (device.c) ---------------------------- */

#define FA_KIND_DEVICE "device"
/* RFC 8628 §6.1: user codes of 8 characters from 20 consonants (no vowels,
 * so no words; no digits or look-alikes), 20^8 ~ 2^34.6 values. Shown as
 * XXXX-XXXX; case, dashes and spaces are ignored when typed. */
#define FA_DEVICE_USER_CODE_ALPHABET "BCDFGHJKLMNPQRSTVWXZ"
#define FA_DEVICE_USER_CODE_LEN 8
#define FA_DEVICE_USER_CODE_SHOWN (FA_DEVICE_USER_CODE_LEN + 1)   /* with the dash */
/* What the verification page accepts as a typed code (a code with
 * separators and stray spaces); anything longer is simply wrong. */
#define FA_DEVICE_MAX_USER_CODE_INPUT 32
/* RFC 8628 §3.5: each slow_down adds 5 seconds to the polling interval. */
#define FA_DEVICE_SLOW_DOWN_S 5
/* The interval never grows past an hour (devicePollInterval's own cap):
 * a client that keeps hammering is already told to slow down. */
#define FA_DEVICE_MAX_INTERVAL_S 3600
/* A poll that arrives this much early still counts as on time: timers and
 * clock adjustments on either side are that coarse, and a client that
 * waited the interval must never be told to slow down. */
#define FA_DEVICE_POLL_SLACK_MS 250
/* An expired device code stays in the store this long, so a client still
 * polling hears expired_token (RFC 8628 §3.5) instead of invalid_grant. */
#define FA_DEVICE_TOMBSTONE_S 600
/* Wrong user codes on the verification page (RFC 8628 §5.1: a guesser
 * needs ~2^34 tries per hit). Per login session, 5 are free within the
 * window from the first miss; after the n-th every try of that session
 * must wait 2^(n-5) s, at most FA_DEVICE_MAX_DELAY_S, after it (429 with
 * Retry-After): a person who mistypes waits a second, a guesser gets ~60
 * tries an hour. Per client address (IPv6: per /64; behind a trusted proxy
 * the real client's), 20 per window: one NAT is many people; it stops one
 * host rotating sessions. */
#define FA_DEVICE_SESSION_FREE_FAILURES 5
#define FA_DEVICE_MAX_DELAY_S 60
#define FA_DEVICE_ADDR_MAX_FAILURES 20
#define FA_DEVICE_THROTTLE_WINDOW_S (15 * 60)
/* A verification form's CSRF token lives as long as identity's login form:
 * long enough to read the page, short enough that a leaked one dies. */
#define FA_DEVICE_FORM_TTL_S (15 * 60)

/* The answer of a device authorization request (RFC 8628 §3.2). Wipe it
 * with fa_memzero after use. */
struct fa_device_auth {
	char device_code[FA_TOKEN_CHARS + 1];
	char user_code[FA_DEVICE_USER_CODE_SHOWN + 1];   /* XXXX-XXXX */
	int64_t expires_in;
	int64_t interval;
};

/* What the verification page shows about a pending device code. */
struct fa_device_view {
	const struct fa_authz_client *client;
	char scope[FA_MAX_SCOPE + 1];
	char user_code[FA_DEVICE_USER_CODE_SHOWN + 1];   /* XXXX-XXXX */
};

/* Copies in into out as the 8 upper-case letters of a user code, ignoring
 * case, dashes and spaces. false when in is NULL, longer than
 * FA_DEVICE_MAX_USER_CODE_INPUT or not 8 letters of the alphabet. */
bool fa_authz_user_code_normalize(const char *in, char out[FA_DEVICE_USER_CODE_LEN + 1]);
/* XXXXXXXX -> XXXX-XXXX. */
void fa_authz_user_code_format(const char norm[FA_DEVICE_USER_CODE_LEN + 1],
			       char out[FA_DEVICE_USER_CODE_SHOWN + 1]);

/* Sets device_enabled, device_ttl_s and device_interval_s from the config
 * (bounded by it) and the client table (fa_authz_new, after the clients
 * are built). */
void fa_authz_device_init(struct fa_authz *az);

/* RFC 8628 §3.1-3.2 for client c (authenticated by the caller): checks the
 * grant (unauthorized_client), scope as at authorize (empty: the
 * client's scopes; invalid_scope) and audience (invalid_request),
 * then stores a PENDING device code and its user code. */
enum fa_rc fa_authz_device_start(struct fa_authz *az, const struct fa_authz_client *c,
				 const char *scope, const char *audience,
				 struct fa_device_auth *out, struct fa_err *err) FA_WUR;

/* The pending device code a logged-in user typed. `session` is the login
 * session's cookie value and `addr` the client address (both borrowed,
 * only ever stored hashed): wrong codes count against both, and over either
 * cap the answer is FA_EDENIED slow_down with *retry_after the seconds
 * until the window ends (the page answers 429). Other errors: FA_EINVAL
 * (no code typed, not counted), FA_ENOTFOUND (wrong, expired or already
 * decided: one answer for all, counted), FA_ESTORE server_error. */
enum fa_rc fa_authz_device_lookup(struct fa_authz *az, const char *user_code,
				  const char *session, const char *addr,
				  struct fa_device_view *view, int64_t *retry_after,
				  struct fa_err *err) FA_WUR;
/* As fa_authz_device_lookup, then PENDING -> APPROVED (recording `user`,
 * borrowed, filtered to the token claims) or PENDING -> DENIED, once: a
 * concurrent or repeated decision gets FA_ECONFLICT. */
enum fa_rc fa_authz_device_decide(struct fa_authz *az, const char *user_code,
				  const char *session, const char *addr, const json_t *user,
				  bool approve, struct fa_device_view *view,
				  int64_t *retry_after, struct fa_err *err) FA_WUR;

/* A CSRF token for the verification form, bound to the login session
 * (stored under its hash for FA_DEVICE_FORM_TTL_S). */
enum fa_rc fa_authz_device_csrf_new(struct fa_authz *az, const char *session,
				    char token[FA_TOKEN_CHARS + 1], struct fa_err *err) FA_WUR;
/* FA_OK when token was made by fa_authz_device_csrf_new for this session
 * and has not expired; FA_EDENIED access_denied otherwise (missing,
 * unknown, expired, another session's); FA_ESTORE server_error. */
enum fa_rc fa_authz_device_csrf_check(struct fa_authz *az, const char *session,
				      const char *token, struct fa_err *err) FA_WUR;

/* The token endpoint's urn:ietf:params:oauth:grant-type:device_code (RFC
 * 8628 §3.4-3.5), all 400: invalid_request (no device_code),
 * authorization_pending, slow_down (the code's interval grows by
 * FA_DEVICE_SLOW_DOWN_S), access_denied, expired_token, invalid_grant
 * (unknown, another client's, already redeemed -- which also revokes the
 * token family the redemption started (SPEC §5) -- or lost the redemption
 * write to a concurrent poll, which changes nothing); on FA_OK the tokens,
 * exactly once per device code. */
enum fa_rc fa_authz_grant_device(struct fa_authz *az, const struct fa_authz_client *c,
				 const char *device_code, struct fa_authz_grant *out,
				 struct fa_err *err) FA_WUR;

/* ---- introspection and revocation (introspect.c) ----------------------- */

/* RFC 7662: *out is a new object, {"active": false} for anything that is not
 * a live token of ours. hint may be NULL. */
enum fa_rc fa_authz_introspect(struct fa_authz *az, const char *token, const char *hint,
			       json_t **out, struct fa_err *err) FA_WUR;
/* RFC 7009 on behalf of client c: a refresh token revokes its family, an
 * access token its jti; a token that is unknown or another client's is left
 * alone (FA_OK all the same). */
enum fa_rc fa_authz_revoke(struct fa_authz *az, const struct fa_authz_client *c,
			   const char *token, const char *hint, struct fa_err *err) FA_WUR;

/* ---- store helpers (util.c) -------------------------------------------- */

/* Reads (kind, key) and parses its value as a JSON object (*out new
 * reference, *version its version). FA_ENOTFOUND when absent. */
enum fa_rc fa_authz_rec_get(struct fa_authz *az, const char *kind, const char *key,
			    json_t **out, int64_t *version, int64_t *expires_at,
			    struct fa_err *err) FA_WUR;
/* Compact JSON text of v (malloc'd) or NULL. */
char *fa_authz_json_dump(const json_t *v);
/* Hex SHA-256 of a token: how it is named in the store. */
enum fa_rc fa_authz_token_key(const char *token, char key[2 * FA_SHA256_LEN + 1]) FA_WUR;
/* Turns a store failure into a server_error (logged), keeping rc. */
enum fa_rc fa_authz_store_fail(struct fa_authz *az, enum fa_rc rc, struct fa_err *err,
			       const char *what);
/* Member accessors on our own records (never NULL; "" / 0 when absent). */
const char *fa_authz_jstr(const json_t *o, const char *name);
int64_t fa_authz_jint(const json_t *o, const char *name);

/* The claims of a live access token of ours (fa_authz_at_verify, not
 * revoked by jti, its family still active): *claims a new reference.
 * FA_ENOTFOUND for anything else (foreign, expired, revoked); a store
 * error as the store gave it. For introspection and userinfo. */
enum fa_rc fa_authz_at_active(struct fa_authz *az, const char *token, json_t **claims,
			      struct fa_err *err) FA_WUR;

/* fa_authz_token_revoked's logic (introspect.c), which fa_authz_at_active
 * uses too: RFC 7009 revocation of the jti, or of its refresh family.
 * FA_OK, FA_EDENIED or the store's rc. */
enum fa_rc fa_authz_jti_revoked(struct fa_authz *az, const char *jti,
				struct fa_err *err) FA_WUR;

/* ---- public documents (metadata.c) ---------------------------------------- */

/* Builds the public documents (metadata.c). */
enum fa_rc fa_authz_documents_build(struct fa_authz *az, struct fa_err *err) FA_WUR;

#endif
