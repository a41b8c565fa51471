/* cache.c -- remembered secret checks. bcrypt costs tens of milliseconds by
 * design; a machine client (flytepropeller) asking for tokens all day would
 * pay it on every request. A successful check is remembered for a short
 * time so the next identical one is answered without bcrypt.
 *
 * Invariants:
 *  1. An entry holds only HMAC-SHA256(k, len|client_id|len|raw hash|len|secret)
 *     under a per-cache random key k, plus timestamps: no secret, nothing an
 *     attacker who reads memory could test guesses against without k.
 *  2. Every field is length-prefixed, so (client "ab", secret "c") and
 *     (client "a", secret "bc") can never share an entry.
 *  3. Only a bcrypt check that succeeded creates an entry; a failure never
 *     does, so guessing is always paid at full bcrypt price.
 *  4. The stored hash is part of the key: changing a client's secret makes
 *     its old entries unreachable at once.
 *  5. An entry dies ttl after the check that made it; hits do not extend it.
 *  6. At most `capacity` entries exist: the table is set-associative (8 ways),
 *     and a full set replaces its least recently used entry.
 *
 * It does not decide policy (which clients may be cached) or persist
 * anything; the table is per process and wiped on free.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "secrets/secrets.h"

#define WAYS 8
#define HKEY_LEN 32
#define MAX_ENTRIES (1024u * 1024u)
#define MAX_TTL_S 86400u

struct entry {
	unsigned char key[FA_SHA256_LEN];
	int64_t expires_ms;     /* monotonic; 0 = empty slot */
	uint64_t last_used;     /* logical clock, for LRU within a set */
};

struct fa_secret_cache {
	pthread_mutex_t mu;
	EVP_MAC *mac;           /* shared, read-only after _new */
	/* HMAC already keyed with hkey: each check copies it instead of
	 * fetching SHA-256 and keying anew (2.1-2.3 -> 1.0-1.6 us a check).
	 * Only ever read (EVP_MAC_CTX_dup), so threads share it. */
	EVP_MAC_CTX *keyed;
	unsigned char hkey[HKEY_LEN];
	struct entry *e;        /* nsets * ways */
	size_t nsets;
	size_t ways;
	int64_t ttl_ms;
	uint64_t tick;
	uint64_t hits, misses, inserts, evictions;
};

/* HMAC-SHA256 keyed with c->hkey. */
static EVP_MAC_CTX *keyed_mac(struct fa_secret_cache *c)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(c->mac);

	if (ctx && EVP_MAC_init(ctx, c->hkey, sizeof(c->hkey), params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

struct fa_secret_cache *fa_secret_cache_new(size_t max_entries, unsigned ttl_s)
{
	struct fa_secret_cache *c = NULL;

	if (max_entries == 0 || max_entries > MAX_ENTRIES || ttl_s == 0 || ttl_s > MAX_TTL_S)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->ways = max_entries < WAYS ? max_entries : WAYS;
	c->nsets = max_entries / c->ways;
	c->ttl_ms = (int64_t)ttl_s * 1000;
	c->e = calloc(c->nsets * c->ways, sizeof(*c->e));
	c->mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (c->e == NULL || c->mac == NULL || fa_rand_bytes(c->hkey, sizeof(c->hkey)) != FA_OK ||
	    !(c->keyed = keyed_mac(c)) || pthread_mutex_init(&c->mu, NULL) != 0) {
		EVP_MAC_CTX_free(c->keyed);
		EVP_MAC_free(c->mac);
		free(c->e);
		fa_memzero(c, sizeof(*c));
		free(c);
		return NULL;
	}
	return c;
}

void fa_secret_cache_free(struct fa_secret_cache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->mu);
	EVP_MAC_CTX_free(c->keyed);
	EVP_MAC_free(c->mac);
	fa_memzero(c->e, c->nsets * c->ways * sizeof(*c->e));
	free(c->e);
	fa_memzero(c, sizeof(*c));
	free(c);
}

void fa_secret_cache_stats(struct fa_secret_cache *c, struct fa_secret_cache_stats *out)
{
	int64_t now = fa_mono_ms();

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	out->hits = c->hits;
	out->misses = c->misses;
	out->inserts = c->inserts;
	out->evictions = c->evictions;
	out->capacity = c->nsets * c->ways;
	for (size_t i = 0; i < out->capacity; i++)
		if (c->e[i].expires_ms > now)
			out->entries++;
	pthread_mutex_unlock(&c->mu);
}

static bool mac_field(EVP_MAC_CTX *ctx, const void *p, size_t n)
{
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	return EVP_MAC_update(ctx, len, sizeof(len)) == 1 &&
	       (n == 0 || EVP_MAC_update(ctx, p, n) == 1);
}

static enum fa_rc entry_key(struct fa_secret_cache *c, const char *client_id, size_t idlen,
			    const char *raw, const char *presented, size_t len,
			    unsigned char out[FA_SHA256_LEN])
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(c->keyed);
	enum fa_rc rc = FA_ECRYPTO;
	size_t outl = 0;

	if (ctx == NULL)
		return FA_ENOMEM;
	if (mac_field(ctx, client_id, idlen) && mac_field(ctx, raw, FA_BCRYPT_LEN) &&
	    mac_field(ctx, presented, len) &&
	    EVP_MAC_final(ctx, out, &outl, FA_SHA256_LEN) == 1 && outl == FA_SHA256_LEN)
		rc = FA_OK;
	EVP_MAC_CTX_free(ctx);
	return rc;
}

static struct entry *set_of(struct fa_secret_cache *c, const unsigned char key[FA_SHA256_LEN])
{
	uint64_t h = 0;

	/* The key is an HMAC output: any 8 bytes of it are uniform. */
	for (int i = 0; i < 8; i++)
		h = (h << 8) | key[i];
	return &c->e[(h % c->nsets) * c->ways];
}

/* Caller holds mu. */
static bool lookup(struct fa_secret_cache *c, const unsigned char key[FA_SHA256_LEN],
		   int64_t now)
{
	struct entry *set = set_of(c, key);

	for (size_t i = 0; i < c->ways; i++) {
		if (set[i].expires_ms > now && fa_ct_eq(set[i].key, FA_SHA256_LEN, key, FA_SHA256_LEN)) {
			set[i].last_used = ++c->tick;
			return true;
		}
	}
	return false;
}

/* Caller holds mu. */
static void insert(struct fa_secret_cache *c, const unsigned char key[FA_SHA256_LEN],
		   int64_t now)
{
	struct entry *set = set_of(c, key);
	struct entry *slot = NULL;

	for (size_t i = 0; i < c->ways; i++) {
		/* Another thread remembered the same check meanwhile. */
		if (set[i].expires_ms > now && fa_ct_eq(set[i].key, FA_SHA256_LEN, key, FA_SHA256_LEN)) {
			slot = &set[i];
			break;
		}
	}
	for (size_t i = 0; slot == NULL && i < c->ways; i++)
		if (set[i].expires_ms <= now)
			slot = &set[i];
	if (slot == NULL) {
		slot = &set[0];
		for (size_t i = 1; i < c->ways; i++)
			if (set[i].last_used < slot->last_used)
				slot = &set[i];
		c->evictions++;
	}
	memcpy(slot->key, key, FA_SHA256_LEN);
	slot->expires_ms = now + c->ttl_ms;
	slot->last_used = ++c->tick;
	c->inserts++;
}

enum fa_rc fa_secret_check_cached(struct fa_secret_cache *c, const char *client_id,
				  const char *stored, const char *presented, size_t len,
				  struct fa_err *err)
{
	unsigned char key[FA_SHA256_LEN];
	char raw[FA_BCRYPT_LEN + 1];
	size_t idlen;
	enum fa_rc rc;

	if (c == NULL)
		return fa_secret_check(stored, presented, len, err);
	rc = fa_secret_hash_parse(stored, raw, err);
	if (rc != FA_OK)
		return rc;
	if (client_id == NULL)
		client_id = "";
	idlen = strnlen(client_id, FA_MAX_ID + 1);
	if (idlen > FA_MAX_ID)
		return fa_err_set(err, FA_EDENIED, "client id longer than %d bytes", FA_MAX_ID);
	/* What bcrypt would refuse anyway never reaches the HMAC. */
	if (presented == NULL || len == 0 || len > FA_MAX_PASSWORD)
		return fa_secret_check(stored, presented, len, err);

	rc = entry_key(c, client_id, idlen, raw, presented, len, key);
	if (rc != FA_OK)
		return fa_err_set(err, rc, "cannot compute the check cache key");

	pthread_mutex_lock(&c->mu);
	if (lookup(c, key, fa_mono_ms())) {
		c->hits++;
		pthread_mutex_unlock(&c->mu);
		rc = FA_OK;
		goto out;
	}
	c->misses++;
	pthread_mutex_unlock(&c->mu);

	rc = fa_secret_check(stored, presented, len, err);
	if (rc == FA_OK) {
		pthread_mutex_lock(&c->mu);
		insert(c, key, fa_mono_ms());
		pthread_mutex_unlock(&c->mu);
	}
out:
	fa_memzero(key, sizeof(key));
	return rc;
}

bool fa_secret_cache_hit(struct fa_secret_cache *c, const char *client_id, const char *stored,
			 const char *presented, size_t len)
{
	unsigned char key[FA_SHA256_LEN];
	char raw[FA_BCRYPT_LEN + 1];
	size_t idlen;
	bool hit = false;

	if (c == NULL || presented == NULL || len == 0 || len > FA_MAX_PASSWORD ||
	    fa_secret_hash_parse(stored, raw, NULL) != FA_OK)
		return false;
	if (client_id == NULL)
		client_id = "";
	idlen = strnlen(client_id, FA_MAX_ID + 1);
	if (idlen > FA_MAX_ID ||
	    entry_key(c, client_id, idlen, raw, presented, len, key) != FA_OK)
		return false;
	pthread_mutex_lock(&c->mu);
	hit = lookup(c, key, fa_mono_ms());
	if (hit)
		c->hits++;
	pthread_mutex_unlock(&c->mu);
	fa_memzero(key, sizeof(key));
	return hit;
}
