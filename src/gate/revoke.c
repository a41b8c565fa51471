/* revoke.c -- whether a Self access token was revoked, asked of the store
 * only when selfAuthServer.checkRevocation is set, and then through a
 * small in-process memory so that a client presenting the same token on
 * every request costs one store read per FA_GATE_REVOCATION_TTL_S, not one
 * per request.
 *
 * The question itself belongs to authz, which records revocations (a
 * revoked jti; a revoked refresh family, for user tokens): the gate gets it
 * as a function pointer (fa_gate_revoked_fn) and never reads authz's
 * records itself.
 *
 * Invariants:
 *  1. "Revoked" is remembered until the token's exp: a revocation is never
 *     undone, and past exp the token fails verification anyway.
 *  2. "Not revoked" is believed for at most FA_GATE_REVOCATION_TTL_S, so a
 *     revocation on any instance sharing the store takes effect within
 *     that time.
 *  3. A store failure is never remembered and never answered "not
 *     revoked": the caller gets FA_ESTORE (503).
 *  4. Memory is bounded: a direct-mapped table of `slots` entries; a new
 *     jti replaces whatever shared its slot. A jti longer than
 *     FA_GATE_MAX_JTI is asked every time.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gate/gate_int.h"

/* Our jtis are 22 characters; store keys are at most 128. */
#define FA_GATE_MAX_JTI 128
#define STRIPES 16

struct slot {
	char jti[FA_GATE_MAX_JTI + 1];
	int64_t until;
	bool revoked;
};

struct fa_gate_revocations {
	struct slot *slots;
	size_t n;
	pthread_mutex_t locks[STRIPES];
	fa_gate_revoked_fn fn;
	struct fa_authz *ctx;
	atomic_ulong lookups;
};

struct fa_gate_revocations *fa_gate_revocations_new(size_t slots, fa_gate_revoked_fn fn,
						    struct fa_authz *ctx)
{
	struct fa_gate_revocations *r;

	if (slots == 0 || slots > FA_GATE_CACHE_MAX_SLOTS || !fn)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->slots = calloc(slots, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return NULL;
	}
	r->n = slots;
	r->fn = fn;
	r->ctx = ctx;
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&r->locks[i], NULL);
	return r;
}

void fa_gate_revocations_free(struct fa_gate_revocations *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&r->locks[i]);
	free(r->slots);
	free(r);
}

unsigned long fa_gate_revocation_lookups(struct fa_gate_revocations *r)
{
	return atomic_load(&r->lookups);
}

/* FNV-1a: jtis are random, so any spread will do; this is not a defence
 * (a caller cannot choose the jti of a token that verified). */
static size_t slot_of(const struct fa_gate_revocations *r, const char *jti, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)jti[i]) * 1099511628211ULL;
	return (size_t)(h % r->n);
}

enum fa_rc fa_gate_revocation_check(struct fa_gate_revocations *r, const char *jti,
				    int64_t exp, int64_t now, struct fa_err *err)
{
	size_t n = strnlen(jti, FA_GATE_MAX_JTI + 1), i = 0;
	bool cacheable = n <= FA_GATE_MAX_JTI, known = false, revoked = false;
	struct fa_err why;
	enum fa_rc rc;

	if (cacheable) {
		i = slot_of(r, jti, n);
		pthread_mutex_lock(&r->locks[i % STRIPES]);
		if (now < r->slots[i].until && strcmp(r->slots[i].jti, jti) == 0) {
			known = true;
			revoked = r->slots[i].revoked;
		}
		pthread_mutex_unlock(&r->locks[i % STRIPES]);
	}
	if (!known) {
		atomic_fetch_add(&r->lookups, 1);
		fa_err_clear(&why);
		rc = r->fn(r->ctx, jti, &why);
		if (rc != FA_OK && rc != FA_EDENIED)
			return fa_err_oauth(err, FA_ESTORE, "temporarily_unavailable",
					    "cannot tell whether the token was revoked: %s", why.msg);
		revoked = rc == FA_EDENIED;
		if (cacheable) {
			struct slot *s = &r->slots[i];

			pthread_mutex_lock(&r->locks[i % STRIPES]);
			memcpy(s->jti, jti, n + 1);
			s->revoked = revoked;
			s->until = revoked ? exp : now + FA_GATE_REVOCATION_TTL_S;
			if (!revoked && s->until > exp)
				s->until = exp;
			pthread_mutex_unlock(&r->locks[i % STRIPES]);
		}
	}
	if (revoked)
		return fa_err_oauth(err, FA_EDENIED, "invalid_token", "token was revoked");
	return FA_OK;
}
