/* cache.c -- a bounded, thread-safe memory of verified tokens, so a client
 * that presents the same token on every request pays the signature check
 * once per token instead of once per request.
 *
 * Measured (Release build, RS256, in process through the dispatcher, this
 * 2-core machine): an authenticated GET /me costs ~45 us without the cache,
 * ~15 us with a hit (jose verification alone is ~28 us; a hit costs a
 * SHA-256 and a copy). Reverse-proxy auth (/auth/verify) asks once per
 * proxied request, so this is the hot path of the gate; an entry therefore
 * also keeps the identity headers /auth/verify answers with and the GET /me
 * answer, both rendered once when the token is verified, so a hit is a
 * copy and no JSON work (callgrind, 2026-12-05: /me 257k -> 144k
 * instructions).
 *
 * The table is direct-mapped: slot = first bytes of SHA-256(token), one
 * entry per slot, a newer token simply replaces an older one, so memory is
 * bounded by slots x FA_GATE_CACHE_MAX_ENTRY. Slots are guarded by striped
 * mutexes. An entry holds only what verification produced (the principal
 * and the headers and /me body made from it), how the token was presented (Bearer or
 * IDToken: the same bytes verified one way say nothing about the other)
 * and the token's hash, never the token; it is used only while now <
 * until, where until <= exp (no leeway: stricter than verification
 * itself), and an entry whose full 32-byte hash differs is a miss. Refused
 * tokens are never remembered. Self keys never change during a gate's
 * life; an external server's may, so its entries live at most
 * FA_GATE_CACHE_EXTERNAL_TTL_S (the verifier's cache_ttl_s). Revocation is
 * checked after the cache (gate.c), never remembered here.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "gate/gate_int.h"

#define STRIPES 64
#define NO_STRING 0xffffffffu

struct entry {
	unsigned char key[FA_SHA256_LEN];
	int64_t until;
	int64_t exp;
	unsigned char *blob;      /* serialised principal, malloc'd */
	size_t len;
};

struct fa_gate_cache {
	struct entry *slots;
	size_t n;
	pthread_mutex_t locks[STRIPES];
	atomic_ulong hits, misses;
};

struct fa_gate_cache *fa_gate_cache_new(size_t slots)
{
	struct fa_gate_cache *c;

	if (slots == 0 || slots > FA_GATE_CACHE_MAX_SLOTS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->slots = calloc(slots, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	c->n = slots;
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	return c;
}

void fa_gate_cache_free(struct fa_gate_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		if (c->slots[i].blob)
			fa_memzero(c->slots[i].blob, c->slots[i].len);
		free(c->slots[i].blob);
	}
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->slots);
	free(c);
}

void fa_gate_cache_stats(struct fa_gate_cache *c, unsigned long *hits, unsigned long *misses)
{
	*hits = atomic_load(&c->hits);
	*misses = atomic_load(&c->misses);
}

static size_t slot_of(const struct fa_gate_cache *c, const unsigned char key[FA_SHA256_LEN])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | key[i];
	return (size_t)(v % c->n);
}

/* ---- serialisation: u32 length + bytes + NUL per field ------------------ */

static size_t bytes_size(const char *s, size_t n)
{
	return 4 + (s ? n + 1 : 0);
}

static size_t str_size(const char *s)
{
	return bytes_size(s, s ? strlen(s) : 0);
}

static unsigned char *put_bytes(unsigned char *p, const char *s, size_t len)
{
	uint32_t n = s ? (uint32_t)len : NO_STRING;

	memcpy(p, &n, 4);
	p += 4;
	if (s) {
		memcpy(p, s, len);
		p[len] = '\0';
		p += len + 1;
	}
	return p;
}

static unsigned char *put_str(unsigned char *p, const char *s)
{
	return put_bytes(p, s, s ? strlen(s) : 0);
}

static bool get_bytes(unsigned char **p, const unsigned char *end, const char **out,
		      size_t *len)
{
	uint32_t n;

	if ((size_t)(end - *p) < 4)
		return false;
	memcpy(&n, *p, 4);
	*p += 4;
	if (n == NO_STRING) {
		*out = NULL;
		*len = 0;
		return true;
	}
	if ((size_t)(end - *p) < (size_t)n + 1 || (*p)[n] != '\0')
		return false;
	*out = (const char *)*p;
	*len = n;
	*p += (size_t)n + 1;
	return true;
}

/* A string put_str wrote (a C string: no NUL inside). */
static bool get_str(unsigned char **p, const unsigned char *end, const char **out)
{
	size_t n;

	return get_bytes(p, end, out, &n);
}

static unsigned char *serialise(const struct fa_gate_caller *c, size_t *len)
{
	const struct fa_gate_principal *p = &c->p;
	size_t n = 8 + str_size(p->subject) + str_size(p->client_id) + str_size(p->audience) +
		   str_size(p->token_id) + str_size(p->user_info) + str_size(p->claims) +
		   bytes_size(c->headers, c->headers_len) + bytes_size(c->me_body, c->me_len);
	unsigned char *blob, *w;
	uint32_t ns = (uint32_t)p->n_scopes, how = (uint32_t)p->how;

	for (size_t i = 0; i < p->n_scopes; i++)
		n += str_size(p->scopes[i]);
	if (n > FA_GATE_CACHE_MAX_ENTRY)
		return NULL;
	blob = malloc(n);
	if (!blob)
		return NULL;
	memcpy(blob, &ns, 4);
	memcpy(blob + 4, &how, 4);
	w = blob + 8;
	w = put_str(w, p->subject);
	w = put_str(w, p->client_id);
	w = put_str(w, p->audience);
	w = put_str(w, p->token_id);
	w = put_str(w, p->user_info);
	w = put_str(w, p->claims);
	w = put_bytes(w, c->headers, c->headers_len);
	w = put_bytes(w, c->me_body, c->me_len);
	for (size_t i = 0; i < p->n_scopes; i++)
		w = put_str(w, p->scopes[i]);
	*len = n;
	return blob;
}

static bool deserialise(unsigned char *blob, size_t len, struct fa_arena *a,
			struct fa_gate_caller *c)
{
	struct fa_gate_principal *out = &c->p;
	const unsigned char *end = blob + len;
	unsigned char *p = blob + 8;
	uint32_t ns, how;
	const char **scopes;

	memcpy(&ns, blob, 4);
	memcpy(&how, blob + 4, 4);
	if (ns > FA_GATE_MAX_SCOPES)
		return false;
	scopes = fa_arena_alloc(a, (ns ? ns : 1) * sizeof(*scopes));
	if (!scopes || !get_str(&p, end, &out->subject) || !get_str(&p, end, &out->client_id) ||
	    !get_str(&p, end, &out->audience) || !get_str(&p, end, &out->token_id) ||
	    !get_str(&p, end, &out->user_info) ||
	    !get_str(&p, end, &out->claims) || !get_bytes(&p, end, &c->headers, &c->headers_len) ||
	    !get_bytes(&p, end, &c->me_body, &c->me_len))
		return false;
	for (uint32_t i = 0; i < ns; i++)
		if (!get_str(&p, end, &scopes[i]))
			return false;
	out->scopes = scopes;
	out->n_scopes = ns;
	out->how = (enum fa_gate_method)how;
	return out->subject != NULL;
}

bool fa_gate_cache_get(struct fa_gate_cache *c, const unsigned char key[FA_SHA256_LEN],
		       enum fa_gate_method how, int64_t now, struct fa_arena *a,
		       struct fa_gate_caller *out)
{
	size_t i = slot_of(c, key);
	pthread_mutex_t *lock = &c->locks[i % STRIPES];
	struct entry *e = &c->slots[i];
	unsigned char *copy = NULL;
	int64_t exp = 0;
	size_t len = 0;

	pthread_mutex_lock(lock);
	if (e->blob && fa_ct_eq(e->key, FA_SHA256_LEN, key, FA_SHA256_LEN) && now < e->until) {
		copy = fa_arena_alloc(a, e->len);
		if (copy) {
			memcpy(copy, e->blob, e->len);
			len = e->len;
			exp = e->exp;
		}
	}
	pthread_mutex_unlock(lock);
	memset(out, 0, sizeof(*out));
	if (!copy || !deserialise(copy, len, a, out) || out->p.how != how) {
		atomic_fetch_add(&c->misses, 1);
		memset(out, 0, sizeof(*out));
		return false;
	}
	out->p.expires_at = exp;
	atomic_fetch_add(&c->hits, 1);
	return true;
}

void fa_gate_cache_put(struct fa_gate_cache *c, const unsigned char key[FA_SHA256_LEN],
		       int64_t now, int64_t until, const struct fa_gate_caller *in)
{
	size_t i, len = 0;
	unsigned char *blob, *old;
	struct entry *e;

	if (until > in->p.expires_at)
		until = in->p.expires_at;
	if (until <= now)
		return;
	blob = serialise(in, &len);
	if (!blob)
		return;
	i = slot_of(c, key);
	e = &c->slots[i];
	pthread_mutex_lock(&c->locks[i % STRIPES]);
	old = e->blob;
	if (old)
		fa_memzero(old, e->len);
	memcpy(e->key, key, FA_SHA256_LEN);
	e->exp = in->p.expires_at;
	e->until = until;
	e->blob = blob;
	e->len = len;
	pthread_mutex_unlock(&c->locks[i % STRIPES]);
	free(old);
}
