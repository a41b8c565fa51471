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
#include "remote/remote.h"
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
extern const struct fa_identity_provider fa_identity_oidc_provider;

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
	int64_t session_idle_s;
	bool secure;                     /* cookies carry Secure */
	enum fa_same_site same_site;
	const char *domain;              /* NULL: host-only cookies */

	/* The upstream IdP (oidc.c); idp NULL: none. */
	struct fa_remote_issuer *idp;            /* borrowed */
	const struct fa_remote *idp_remote;      /* borrowed */
	char *idp_secret;                        /* the client secret; wiped on free */
	char *idp_redirect_uri;                  /* <public URL>/callback */
	char *idp_label;                         /* the IdP's host, for the login page */
	char idp_discovery_url[FA_REMOTE_MAX_URL + 1];
	unsigned char idp_state_key[FA_SEAL_KEY_LEN];   /* seals the callback's state cookie */
	unsigned char idp_token_key[FA_SEAL_KEY_LEN];   /* seals IdP tokens in session records */
	struct fa_limiter *callback_rate;        /* per client address, see FA_OIDC_CALLBACK_* */
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
 * session fixation: a login always gets a fresh id). extra (borrowed, may
 * be NULL): members kept in the record beside the user (the upstream
 * IdP's sealed tokens), never shown by fa_identity_session_user. */
enum fa_rc fa_identity_session_start(struct fa_identity *id, struct fa_req *req,
				     struct fa_resp *resp, const json_t *user,
				     const json_t *extra, struct fa_err *err) FA_WUR;
/* Ends the session of req (record deleted if it exists) and clears the
 * cookie on resp. A request without a valid session only gets the cookie
 * cleared. */
enum fa_rc fa_identity_session_end(struct fa_identity *id, struct fa_req *req,
				   struct fa_resp *resp, struct fa_err *err) FA_WUR;
/* The whole record of req's session (user, IdP tokens...), a new
 * reference in *doc; FA_ENOTFOUND without a valid session. No timeout is
 * checked or extended here beyond the cookie's and the record's expiry. */
enum fa_rc fa_identity_session_record(struct fa_identity *id, struct fa_req *req,
				      json_t **doc) FA_WUR;
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

/* The store keys of one login attempt, each a prefix and a hex SHA-256:
 * the client address ("ip:", of its /64 for IPv6), the username ("user:"),
 * the (address, username) pair ("pair:") and the username's progressive
 * delay ("delay:"). */
struct fa_throttle_keys {
	char addr[FA_STORE_MAX_KEY + 1];
	char user[FA_STORE_MAX_KEY + 1];
	char pair[FA_STORE_MAX_KEY + 1];
	char delay[FA_STORE_MAX_KEY + 1];
};
void fa_identity_throttle_keys(const char *addr, const char *username,
			       struct fa_throttle_keys *k);
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

/* ---- oidc.c: the upstream IdP ---------------------------------------------- */

/* Skew allowed on an ID token's exp, iat and nbf. */
#define FA_OIDC_LEEWAY_S 60
/* Largest answer read from the IdP's token and userinfo endpoints. */
#define FA_OIDC_MAX_RESPONSE (64 * 1024)
/* A claim kept for /me's additional_claims: at most this much JSON each,
 * and this much in all (the session record stays small). */
#define FA_OIDC_MAX_CLAIM 2048
#define FA_OIDC_MAX_CLAIMS (10 * 1024)
/* Callbacks that get past the state check (each writes a spent state and
 * calls the IdP's token endpoint) per client address: a burst of 30, then
 * one a second. A person signs in a few times a day; a script that
 * collects states from /login to fill the store or to make flyteauth
 * hammer the IdP is held to this (per instance). */
#define FA_OIDC_CALLBACK_BURST 30
#define FA_OIDC_CALLBACK_PER_S 1.0
#define FA_OIDC_CALLBACK_KEYS 65536

/* Prepares the IdP provider from opts (called by fa_identity_new when
 * openId.baseUrl is set). */
enum fa_rc fa_identity_oidc_init(struct fa_identity *id, const struct fa_identity_opts *o,
				 struct fa_err *err) FA_WUR;
/* The checks of a verified ID token's claims that fa_jwt_verify does not
 * make (OIDC Core §3.1.3.7): a usable `sub`, `iat` present, `nonce` equal
 * to the one sent (constant time), and `azp` equal to client_id when
 * present or when `aud` names several audiences. FA_EDENIED saying why. */
enum fa_rc fa_identity_oidc_idtoken_check(const json_t *claims, const char *client_id,
					  const char *nonce, struct fa_err *err) FA_WUR;
/* The session user of a login: `sub` of the ID token, the profile claims
 * (name, preferred_username, given_name, family_name, email,
 * email_verified, picture, groups) from userinfo, else the ID token, and
 * the other claims of both (protocol claims left out, each and all within
 * FA_OIDC_MAX_CLAIM / FA_OIDC_MAX_CLAIMS). userinfo may be NULL; when
 * given, its `sub` must equal the ID token's (else FA_EDENIED). */
enum fa_rc fa_identity_oidc_user(const json_t *idt, const json_t *userinfo, json_t **user,
				 struct fa_err *err) FA_WUR;
/* Refreshes the IdP tokens of a session record (doc, a JSON object with
 * the sealed `idp_rt`): the refresh grant at the IdP's token endpoint;
 * on success doc's idp_rt, idp_idt and idp_at_exp are replaced. FA_EDENIED
 * when the IdP refused (the session must end), FA_ENET and others when it
 * could not be asked (the session stays). */
enum fa_rc fa_identity_oidc_refresh(struct fa_identity *id, json_t *doc,
				    struct fa_err *err) FA_WUR;
/* Where /logout sends the browser after the session is gone: with an
 * upstream IdP whose metadata has end_session_endpoint, that endpoint
 * with id_token_hint (the session's ID token), client_id and
 * post_logout_redirect_uri = target made absolute on the public URL;
 * otherwise target. Reads the session's record, so it is called before
 * the record is deleted. Never fails: NULL means target. */
const char *fa_identity_oidc_logout_url(struct fa_identity *id, struct fa_req *req,
					const char *target);
/* GET /callback. */
void fa_identity_callback(struct fa_req *req, struct fa_resp *resp, void *app);

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
