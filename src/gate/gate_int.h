/* gate_int.h -- internals shared by the files of src/gate and its unit
 * tests: the gate struct, the token verifiers, the caches.
 *
 * Not part of the module's interface: other modules include gate.h only.
 */
#ifndef FA_GATE_INT_H
#define FA_GATE_INT_H

#include <pthread.h>

#include "gate/gate.h"

struct fa_gate;

/* Turns a token into a principal (arena memory), or refuses it with
 * err->oauth_error set as fa_gate_verify documents. One verifier per
 * kind of token: Self access tokens, External access tokens, the upstream
 * IdP's ID tokens. */
struct fa_gate_verifier {
	const char *name;
	enum fa_gate_method how;
	/* Longest a verification may be remembered besides exp (0: until exp). */
	int64_t cache_ttl_s;
	enum fa_rc (*verify)(const struct fa_gate *g, struct fa_arena *a, const char *token,
			     size_t len, struct fa_gate_principal *out, struct fa_err *err);
};

extern const struct fa_gate_verifier fa_gate_self_verifier;
extern const struct fa_gate_verifier fa_gate_external_verifier;
extern const struct fa_gate_verifier fa_gate_idtoken_verifier;

/* What fa_gate_verify produced for one request (arena memory): the
 * principal first, so that a pointer to it is a pointer to both; then the
 * identity headers of /auth/verify and the body of GET /me, rendered once
 * when the token was verified and remembered by the cache (NULL:
 * authverify.c / me.c render them). `headers` is "Name\0value\0Name\0value\0"
 * ... of headers_len bytes; `me_body` compact JSON of me_len bytes. */
struct fa_gate_caller {
	struct fa_gate_principal p;
	const char *headers;
	size_t headers_len;
	const char *me_body;
	size_t me_len;
};

/* gate.c: the header getter over a struct fa_req (ctx). */
const char *fa_gate_req_header(void *ctx, const char *name);
/* gate.c: fa_gate_verify, filling a caller. */
enum fa_rc fa_gate_verify_caller(const struct fa_gate *g, const struct fa_gate_request *in,
				 struct fa_arena *a, struct fa_gate_caller *out,
				 struct fa_err *err) FA_WUR;
/* gate.c: whether auth.disableForHttp lets a refusal pass: a malformed,
 * missing or bad credential (400/401), never a scope, outage or failure. */
bool fa_gate_refusal_skippable(enum fa_rc rc, const struct fa_err *err);

/* ---- cache.c: verified tokens by SHA-256 (see the file's comment) --------- */

struct fa_gate_cache;

/* slots 1..FA_GATE_CACHE_MAX_SLOTS; NULL on bad size or no memory. */
struct fa_gate_cache *fa_gate_cache_new(size_t slots);
void fa_gate_cache_free(struct fa_gate_cache *c);
/* true with *out (arena copies) when key is remembered, was verified as
 * `how`, and now is before its end. */
bool fa_gate_cache_get(struct fa_gate_cache *c, const unsigned char key[FA_SHA256_LEN],
		       enum fa_gate_method how, int64_t now, struct fa_arena *a,
		       struct fa_gate_caller *out);
/* Remembers a verified caller until `until` (ignored when past, or when the
 * entry would be larger than FA_GATE_CACHE_MAX_ENTRY). */
void fa_gate_cache_put(struct fa_gate_cache *c, const unsigned char key[FA_SHA256_LEN],
		       int64_t now, int64_t until, const struct fa_gate_caller *in);
void fa_gate_cache_stats(struct fa_gate_cache *c, unsigned long *hits, unsigned long *misses);

/* ---- revoke.c: revocation answers by jti ------------------------------- */

struct fa_gate_revocations;

struct fa_gate_revocations *fa_gate_revocations_new(size_t slots, fa_gate_revoked_fn fn,
						    struct fa_authz *ctx);
void fa_gate_revocations_free(struct fa_gate_revocations *r);
/* FA_OK: not revoked; FA_EDENIED "invalid_token": revoked; FA_ESTORE
 * "temporarily_unavailable" when the store cannot tell. exp is the token's (how long "revoked" is
 * remembered). */
enum fa_rc fa_gate_revocation_check(struct fa_gate_revocations *r, const char *jti,
				    int64_t exp, int64_t now, struct fa_err *err) FA_WUR;
/* Store calls made (tests). */
unsigned long fa_gate_revocation_lookups(struct fa_gate_revocations *r);

/* ---- the gate ------------------------------------------------------------------ */

/* The external AS's metadata as served, rendered once per document. */
struct fa_gate_metadata_cache {
	pthread_mutex_t mu;
	struct fa_discovery *doc;           /* the document `body` came from (a
					     * reference, so its address is not reused) */
	char *body;
	size_t len;
};

struct fa_gate {
	const struct fa_config *cfg;
	const struct fa_log *log;
	const char *required_scope;         /* cfg's */
	bool external_mode;
	struct fa_metrics *metrics;         /* borrowed; NULL: not counted */
	struct fa_jwks *keys;               /* Self: own reference */
	struct fa_remote_issuer *external;  /* External: borrowed */
	struct fa_remote_issuer *idp;       /* IDToken scheme: borrowed, may be NULL */
	char *issuer;                       /* the public base URL */
	char **audiences;                   /* Self: authorizedUris then issuer;
					     * External: allowedAudience, authorizedUris,
					     * issuer; unique */
	size_t n_audiences;
	const char *header;                 /* configured header; NULL when it is
					     * "authorization" itself or empty */
	const struct fa_gate_verifier *verifier;   /* for Bearer tokens */
	struct fa_identity *identity;
	fa_gate_session_fn session_user;
	fa_gate_redirect_fn redirect_check;
	struct fa_gate_cache *cache;        /* NULL: no_cache */
	struct fa_sha256_hasher *sha256;    /* the cache's keys; with the cache */
	struct fa_gate_revocations *revocations;   /* NULL: not checked */
	char *flyte_client_json;            /* /config/v1/flyte_client */
	size_t flyte_client_len;
	struct fa_gate_metadata_cache meta; /* External /.well-known/oauth-authorization-server */
};

/* verify.c: the principal of a verified claims object (shared by the
 * verifiers): sub, client_id, scopes (`scp` array or string, else `scope`),
 * user_info, email, the accepted audience, every claim. */
enum fa_rc fa_gate_principal_from_claims(const struct fa_gate *g, struct fa_arena *a,
					 const json_t *claims, struct fa_gate_principal *out,
					 struct fa_err *err) FA_WUR;
/* p's claims and user_info as JSON objects (new references; NULL when
 * absent). They are our own compact text of a verified token, so a parse
 * failure only leaves that member out of what is answered. */
void fa_gate_principal_json(const struct fa_gate_principal *p, json_t **claims, json_t **ui);
/* The rules every access-token verifier starts from: every alg we implement
 * (each key still verifies only under its own), audiences, leeway, exp
 * required. */
void fa_gate_rules(const struct fa_gate *g, struct fa_jwt_rules *rules);
/* Maps a verification failure of jose/remote to the gate's answer. */
enum fa_rc fa_gate_token_refused(enum fa_rc rc, const struct fa_err *why, struct fa_err *err);

/* me.c */
void fa_gate_me(struct fa_req *req, struct fa_resp *resp, void *app);
/* The GET /me body of p as compact JSON (malloc'd, *len bytes, NUL-
 * terminated); NULL when out of memory. */
char *fa_gate_me_json(const struct fa_gate_principal *p, size_t *len);

/* authverify.c */
void fa_gate_auth_verify(struct fa_req *req, struct fa_resp *resp, void *app);
/* The identity headers of /auth/verify for p, rendered as in struct
 * fa_gate_caller; NULL (and *len 0) when out of memory. malloc'd. */
char *fa_gate_identity_headers(const struct fa_gate *g, const struct fa_gate_principal *p,
			       size_t *len);

/* metadata.c */
enum fa_rc fa_gate_documents_build(struct fa_gate *g, struct fa_err *err) FA_WUR;
void fa_gate_metadata_cleanup(struct fa_gate *g);
void fa_gate_ep_flyte_client(struct fa_req *req, struct fa_resp *resp, void *app);
void fa_gate_ep_external_metadata(struct fa_req *req, struct fa_resp *resp, void *app);

#endif
