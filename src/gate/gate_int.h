/* gate_int.h -- internals shared by the files of src/gate and its unit
 * tests: the gate struct and the token-verifier seam.
 *
 * Not part of the module's interface: other modules include gate.h only.
 */
#ifndef FA_GATE_INT_H
#define FA_GATE_INT_H

#include "gate/gate.h"

struct fa_gate;

/* Turns a bearer token into a principal (arena memory), or refuses it with
 * err->oauth_error set as fa_gate_authenticate documents. One verifier
 * per kind of authorization server: "self" now, "external" later. */
struct fa_gate_verifier {
	const char *name;
	enum fa_rc (*verify)(const struct fa_gate *g, struct fa_arena *a, const char *token,
			     size_t len, struct fa_gate_principal *out, struct fa_err *err);
};

extern const struct fa_gate_verifier fa_gate_self_verifier;

/* cache.c: verified tokens by SHA-256 (see the file's comment). */
struct fa_gate_cache;

/* slots 1..FA_GATE_CACHE_MAX_SLOTS; NULL on bad size or no memory. */
struct fa_gate_cache *fa_gate_cache_new(size_t slots);
void fa_gate_cache_free(struct fa_gate_cache *c);
/* true with *out (arena copies) when key is remembered and now < its exp. */
bool fa_gate_cache_get(struct fa_gate_cache *c, const unsigned char key[FA_SHA256_LEN],
		       int64_t now, struct fa_arena *a, struct fa_gate_principal *out);
/* Remembers a verified principal until p->expires_at (ignored when past or
 * larger than FA_GATE_CACHE_MAX_ENTRY). */
void fa_gate_cache_put(struct fa_gate_cache *c, const unsigned char key[FA_SHA256_LEN],
		       int64_t now, const struct fa_gate_principal *p);
void fa_gate_cache_stats(struct fa_gate_cache *c, unsigned long *hits, unsigned long *misses);

struct fa_gate {
	const struct fa_config *cfg;
	const struct fa_log *log;
	struct fa_metrics *metrics;         /* borrowed; NULL: not counted */
	struct fa_jwks *keys;               /* own reference */
	char *issuer;
	char **audiences;                   /* authorizedUris then issuer, unique */
	size_t n_audiences;
	const char *header;                 /* configured header; NULL when it is
					     * "authorization" itself or empty */
	const struct fa_gate_verifier *verifier;
	struct fa_identity *identity;
	fa_gate_session_fn session_user;
	struct fa_gate_cache *cache;        /* NULL: no_cache */
};

/* verify.c: the principal of a claims object already verified (shared
 * by verifiers). */
enum fa_rc fa_gate_principal_from_claims(struct fa_arena *a, const json_t *claims,
					 struct fa_gate_principal *out,
					 struct fa_err *err) FA_WUR;

/* me.c */
void fa_gate_me(struct fa_req *req, struct fa_resp *resp, void *app);

#endif
