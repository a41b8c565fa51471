/* limiter.c -- keyed token buckets in memory (see base.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define WAYS 8
#define SALT_LEN 16
#define TAG_LEN 16

struct slot {
	unsigned char tag[TAG_LEN];  /* SHA-256(salt || key), truncated */
	bool used;
	double tokens;               /* at `at` */
	int64_t at;                  /* monotonic ms */
};

struct fa_limiter {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t n_sets;
	double burst;
	double per_ms;
	unsigned char salt[SALT_LEN];
};

struct fa_limiter *fa_limiter_new(size_t entries, double burst, double per_s)
{
	struct fa_limiter *l;

	if (entries < WAYS || entries > (1u << 20) || !(burst >= 1) || !(per_s > 0))
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->n_sets = (entries + WAYS - 1) / WAYS;
	l->slots = calloc(l->n_sets * WAYS, sizeof(*l->slots));
	l->burst = burst;
	l->per_ms = per_s / 1000.0;
	if (!l->slots || fa_rand_bytes(l->salt, sizeof(l->salt)) != FA_OK) {
		free(l->slots);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void fa_limiter_free(struct fa_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->slots);
	free(l);
}

static double level(const struct fa_limiter *l, const struct slot *s, int64_t now_ms)
{
	double t;

	if (!s->used)
		return l->burst;
	t = s->tokens + (double)(now_ms > s->at ? now_ms - s->at : 0) * l->per_ms;
	return t > l->burst ? l->burst : t;
}

/* The key's slot, made (replacing the fullest of its set) when absent.
 * Under l->lock. */
static struct slot *find(struct fa_limiter *l, const unsigned char tag[TAG_LEN], int64_t now_ms)
{
	size_t set = 0;
	struct slot *base, *victim = NULL;
	double best = -1;

	for (size_t i = 0; i < sizeof(set); i++)
		set = (set << 8) | tag[i];
	base = &l->slots[(set % l->n_sets) * WAYS];
	for (size_t i = 0; i < WAYS; i++)
		if (base[i].used && memcmp(base[i].tag, tag, TAG_LEN) == 0)
			return &base[i];
	for (size_t i = 0; i < WAYS; i++) {
		double t = level(l, &base[i], now_ms);

		if (!base[i].used) {
			victim = &base[i];
			break;
		}
		if (t > best) {
			best = t;
			victim = &base[i];
		}
	}
	memcpy(victim->tag, tag, TAG_LEN);
	victim->used = true;
	victim->tokens = l->burst;
	victim->at = now_ms;
	return victim;
}

static bool bucket(struct fa_limiter *l, const void *key, size_t n, int64_t now_ms,
		   int64_t *retry_ms, bool take)
{
	unsigned char buf[SALT_LEN + 256], h[FA_SHA256_LEN];
	struct slot *s;
	double t;
	bool ok;

	if (retry_ms)
		*retry_ms = 0;
	if (!l)
		return true;
	if (n > sizeof(buf) - SALT_LEN)
		n = sizeof(buf) - SALT_LEN;   /* keys are addresses and ids: short */
	memcpy(buf, l->salt, SALT_LEN);
	memcpy(buf + SALT_LEN, key, n);
	if (fa_sha256(buf, SALT_LEN + n, h) != FA_OK)
		return false;   /* fail closed */
	pthread_mutex_lock(&l->lock);
	s = find(l, h, now_ms);
	t = level(l, s, now_ms);
	ok = t >= 1.0;
	if (ok && take)
		t -= 1.0;
	s->tokens = t;
	s->at = now_ms;
	if (!ok && retry_ms)
		*retry_ms = (int64_t)((1.0 - t) / l->per_ms) + 1;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

bool fa_limiter_take(struct fa_limiter *l, const void *key, size_t n, int64_t now_ms,
		     int64_t *retry_ms)
{
	return bucket(l, key, n, now_ms, retry_ms, true);
}

bool fa_limiter_peek(struct fa_limiter *l, const void *key, size_t n, int64_t now_ms,
		     int64_t *retry_ms)
{
	return bucket(l, key, n, now_ms, retry_ms, false);
}
