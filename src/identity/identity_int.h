/* identity_int.h -- internals shared by the files of src/identity and by
 * its unit tests: the identity struct, the provider seam, cookie sealing,
 * redirect validation, sessions and the login throttle.
 *
 * Not part of the module's interface: other modules include identity.h
 * only.
 */
#ifndef FA_IDENTITY_INT_H
#define FA_IDENTITY_INT_H

#include "identity/identity.h"
#include "secrets/secrets.h"

/* Derived keys are AES-256 / HMAC-SHA256 keys. */
#define FA_SEAL_KEY_LEN 32
/* AES-GCM nonce (96 bits, random per seal) and tag. */
#define FA_SEAL_NONCE_LEN 12
#define FA_SEAL_TAG_LEN 16
/* Format byte in front of every sealed value (also bound in the AAD). */
#define FA_SEAL_VERSION 1
/* Largest plaintext we seal: base64url of version + nonce + it + tag must
 * stay within FA_MAX_COOKIE. */
#define FA_SEAL_MAX_PLAIN 2900
/* A session id: 256 random bits. */
#define FA_SESSION_ID_LEN 32
/* A login form's nonce. */
#define FA_CSRF_NONCE_LEN 32

struct fa_identity;

/* Where users come from (the seam for the upstream OIDC provider). A
 * provider owns the /login exchange; sessions, cookies, redirects and the
 * throttle are shared. redirect_url is already validated. */
struct fa_identity_provider {
	const char *name;        /* "local", later "oidc" */
	void (*login_get)(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp,
			  const char *redirect_url);
	void (*login_post)(struct fa_identity *id, struct fa_req *req, struct fa_resp *resp);
	/* Whether `user` (claims with `sub`, from a session or a refresh
	 * family) is still a user of this provider: FA_OK, FA_EDENIED (gone
	 * or refused), or an internal failure. */
	enum fa_rc (*user_check)(const struct fa_identity *id, const json_t *user,
				 struct fa_err *err);
};

extern const struct fa_identity_provider fa_identity_local_provider;

/* A local user as the provider sees it: config users, or the dev user. */
struct fa_local_user {
	const char *username;
	char hash[FA_BCRYPT_LEN + 1];    /* raw bcrypt */
	const char *name;                /* "" when unset */
	const char *email;
	bool email_verified;             /* emailVerified */
	const struct fa_config_list *groups;   /* NULL: none */
};

struct fa_identity {
	const struct fa_config *cfg;
	struct fa_store *store;
	const struct fa_log *log;
	struct fa_metrics *metrics;                    /* borrowed; NULL: not counted */
	const struct fa_identity_provider *provider;   /* NULL: none yet (IdP configured) */

	unsigned char session_key[FA_SEAL_KEY_LEN];    /* seals flyte_session */
	unsigned char form_key[FA_SEAL_KEY_LEN];       /* seals flyte_csrf_state */
	unsigned char csrf_mac_key[FA_SEAL_KEY_LEN];   /* csrf_token = MAC(nonce) */

	/* Accepted redirect origins, as URLs: authorizedUris (borrowed from
	 * the config), then the issuer (issuer_copy). */
	const char **origins;
	size_t n_origins;
	char *issuer_copy;

	struct fa_local_user *users;     /* config users, then the dev user */
	size_t n_users;
	/* A hash of a random secret at the users' cost: unknown usernames are
	 * checked against it so they take as long as a wrong password. */
	char dummy_hash[FA_BCRYPT_LEN + 1];

	int64_t session_ttl_s;
	bool secure;                     /* cookies carry Secure */
	enum fa_same_site same_site;
	const char *domain;              /* NULL: host-only cookies */
};

/* ---- seal.c: keys, AES-256-GCM cookies, MACs ------------------------------- */

/* HKDF-SHA256(IKM = block key, salt = hash key, info = purpose) -> out. */
enum fa_rc fa_identity_key_derive(const unsigned char *block_key, size_t block_len,
				  const unsigned char *hash_key, size_t hash_len,
				  const char *purpose, unsigned char out[FA_SEAL_KEY_LEN],
				  struct fa_err *err) FA_WUR;
/* Seals plain (n <= FA_SEAL_MAX_PLAIN bytes) for the cookie `name`:
 * base64url(version || nonce || ciphertext || tag), AAD = version || name,
 * into arena memory (*out). */
enum fa_rc fa_identity_seal(const unsigned char key[FA_SEAL_KEY_LEN], const char *name,
			    const void *plain, size_t n, struct fa_arena *a, char **out,
			    struct fa_err *err) FA_WUR;
/* Opens a sealed value for the cookie `name` into plain (cap bytes); *n gets
 * its length. FA_EDENIED for anything that does not authenticate (bad
 * encoding, wrong length, version, key, name, or any changed byte); plain
 * is then zeroed. */
enum fa_rc fa_identity_unseal(const unsigned char key[FA_SEAL_KEY_LEN], const char *name,
			      const char *sealed, unsigned char *plain, size_t cap, size_t *n,
			      struct fa_err *err) FA_WUR;
/* HMAC-SHA256 under key, base64url without padding (43 chars + NUL). */
enum fa_rc fa_identity_mac(const unsigned char key[FA_SEAL_KEY_LEN], const void *data,
			   size_t n, char out[FA_TOKEN_CHARS + 1], struct fa_err *err) FA_WUR;

/* ---- redirect.c: where a browser may be sent ----------------------------- */

/* FA_OK when url is a safe redirect target by base's rule
 * (fa_url_target_problem: a path, or an absolute URL on one of origins);
 * else FA_EINVAL (invalid_request) saying why, without quoting the URL. */
enum fa_rc fa_identity_redirect_check(const char *const *origins, size_t n_origins,
				      const char *url, struct fa_err *err) FA_WUR;
/* Percent-encodes s for a query value (all but ALPHA DIGIT -._~/) into the
 * arena; NULL on exhaustion. */
char *fa_identity_query_escape(struct fa_arena *a, const char *s);

/* ---- session.c: login sessions ------------------------------------------- */

/* Creates a session for user (borrowed JSON object with `sub`) and sets its
 * cookie on resp. A session cookie already in req is ended first (no
 * session fixation: a login always gets a fresh id). */
enum fa_rc fa_identity_session_start(struct fa_identity *id, struct fa_req *req,
				     struct fa_resp *resp, const json_t *user,
				     struct fa_err *err) FA_WUR;
/* Ends the session of req (record deleted if it exists) and clears the
 * cookie on resp. A request without a valid session only gets the cookie
 * cleared. */
enum fa_rc fa_identity_session_end(struct fa_identity *id, struct fa_req *req,
				   struct fa_resp *resp, struct fa_err *err) FA_WUR;
/* Sets (max_age > 0) or deletes (max_age 0) a cookie with the identity's
 * flags (HttpOnly, SameSite, Secure, Domain) on resp. */
enum fa_rc fa_identity_cookie_set(const struct fa_identity *id, struct fa_resp *resp,
				  const char *name, const char *value, const char *path,
				  int64_t max_age, struct fa_err *err) FA_WUR;

/* ---- csrf.c: the forms' signed double-submit pair ------------------------- */

/* Sets the form's CSRF cookie (FA_IDENTITY_CSRF_COOKIE, Path=path, valid
 * FA_IDENTITY_LOGIN_FORM_TTL_S) holding a fresh nonce and `saved` (the
 * form's redirect target, at most FA_MAX_REDIRECT_URI bytes: FA_EINVAL
 * otherwise), and writes the token the form must post back as csrf_token.
 * path ("/login", "/logout") is bound into the token. */
enum fa_rc fa_identity_csrf_issue(const struct fa_identity *id, struct fa_req *req,
				  struct fa_resp *resp, const char *path, const char *saved,
				  char token[FA_TOKEN_CHARS + 1], struct fa_err *err) FA_WUR;
/* The posted csrf_token and the cookie agree for path and are fresh: FA_OK
 * with *saved (arena) the target recorded at issue; FA_EDENIED otherwise;
 * FA_ENOMEM. */
enum fa_rc fa_identity_csrf_verify(const struct fa_identity *id, struct fa_req *req,
				   const char *path, const char **saved) FA_WUR;

/* ---- throttle.c: failed-login counters ------------------------------------ */

/* The store key for a client address ("ip:" hex SHA-256 of the address, or
 * of its /64 for IPv6) and for a username ("user:" hex SHA-256). */
void fa_identity_throttle_keys(const char *addr, const char *username,
			       char addr_key[FA_STORE_MAX_KEY + 1],
			       char user_key[FA_STORE_MAX_KEY + 1]);
/* FA_OK when the username's delay has passed and the (address, username)
 * pair and the address are under their caps at `now` (identity.h);
 * FA_EDENIED (slow_down; /login answers 429) otherwise, *retry_after then
 * the seconds to wait (>= 1). FA_ESTORE when the store fails (callers fail
 * closed). */
enum fa_rc fa_identity_throttle_check(struct fa_store *st, const char *addr,
				      const char *username, int64_t now, int64_t *retry_after,
				      struct fa_err *err) FA_WUR;
/* The wait after a username's n-th failure within the window: 0 below
 * FA_IDENTITY_USER_FREE_FAILURES, then 1, 2, 4 ... FA_IDENTITY_USER_MAX_DELAY_S. */
int64_t fa_identity_throttle_delay(int64_t failures);
/* Counts one failed login for the address, the pair and the username, and
 * starts the username's delay. */
enum fa_rc fa_identity_throttle_fail(struct fa_store *st, const char *addr,
				     const char *username, int64_t now, struct fa_err *err) FA_WUR;

/* ---- local.c: the local-users provider ------------------------------------ */

/* Loads config users (and the dev user, see identity.h; *dev_password as
 * fa_identity_opts documents) into id->users and makes id->dummy_hash. */
enum fa_rc fa_identity_local_init(struct fa_identity *id, bool dev_default_user,
				  char **dev_password, struct fa_err *err) FA_WUR;
/* Checks a username/password pair; FA_OK with *user a new reference to the
 * user JSON, FA_EDENIED for an unknown user or wrong password alike (both
 * cost one bcrypt). */
enum fa_rc fa_identity_local_check(const struct fa_identity *id, const char *username,
				   const char *password, json_t **user,
				   struct fa_err *err) FA_WUR;

/* ---- login.c: handlers ---------------------------------------------------- */

void fa_identity_login_get(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_identity_login_post(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_identity_logout(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_identity_logout_post(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_identity_oidc_config(struct fa_req *req, struct fa_resp *resp, void *app);
/* GET /: the landing page (home.c). */
void fa_identity_home(struct fa_req *req, struct fa_resp *resp, void *app);

/* The Content-Security-Policy of identity's pages: no script, no framing. */
extern const char fa_identity_page_csp[];
/* 503 while the store is down (it logged that), else 500 with a log line. */
void fa_identity_fail500(struct fa_identity *id, struct fa_resp *resp, const struct fa_err *e);

#endif
