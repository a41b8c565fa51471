/* test_store_concurrency.c -- the store under threads, as the HTTP thread
 * pool uses it, against both backends (store_backends.h): racing
 * version-checked updates (exactly one winner), racing refresh rotations
 * and deletes, exact counters, two and three store objects on one database
 * (server instances: the in-process locks no longer order them, the
 * database does), and two threads doing get/apply on their own keys
 * without a failure.
 *
 * Threads only record results; all asserts run on the main thread (cmocka
 * is not thread-safe). Each test starts from an empty database.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_backends.h"

#define T0 1700000000LL
#define NTHREADS 8
#define ROUNDS 40

static void insert(struct fa_store *st, const char *kind, const char *key, const char *value)
{
	struct fa_store_op op = { .type = FA_STORE_INSERT, .kind = kind, .key = key,
				  .value = value, .expires_at = T0 + 600 };
	struct fa_err err;

	assert_int_equal(fa_store_apply(st, &op, 1, T0, &err), FA_OK);
}

static int64_t version_of(struct fa_store *st, const char *kind, const char *key)
{
	struct fa_store_rec rec;
	struct fa_err err;
	int64_t v;

	assert_int_equal(fa_store_get(st, kind, key, T0, &rec, &err), FA_OK);
	v = rec.version;
	fa_store_rec_cleanup(&rec);
	return v;
}

/* ---- racers ------------------------------------------------------------------------ */

enum race { RACE_UPDATE, RACE_READ_CHECK_UPDATE, RACE_ROTATE, RACE_DELETE };

struct racer {
	struct fa_store *st;
	pthread_barrier_t *go;
	enum race kind;
	int id;
	char key[32];
	enum fa_rc rc;
};

/* The way authz redeems a code: read it, refuse it if used, else mark it
 * used with the version that was read. */
static enum fa_rc read_check_update(struct racer *r)
{
	struct fa_store_op op = { .type = FA_STORE_UPDATE, .kind = "code", .key = r->key,
				  .value = "used", .expires_at = T0 + 600 };
	struct fa_store_rec rec;
	enum fa_rc rc;

	rc = fa_store_get(r->st, "code", r->key, T0, &rec, NULL);
	if (rc != FA_OK)
		return rc;
	if (strcmp(rec.value, "used") == 0) {
		fa_store_rec_cleanup(&rec);
		return FA_EDENIED;
	}
	op.expect_version = rec.version;
	fa_store_rec_cleanup(&rec);
	return fa_store_apply(r->st, &op, 1, T0 + 1, NULL);
}

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct fa_store_op ops[2];
	char newkey[48];

	memset(ops, 0, sizeof(ops));
	pthread_barrier_wait(r->go);
	switch (r->kind) {
	case RACE_UPDATE:
		ops[0] = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = "code",
			.key = r->key, .value = "used", .expires_at = T0 + 600,
			.expect_version = 1 };
		r->rc = fa_store_apply(r->st, ops, 1, T0 + 1, NULL);
		break;
	case RACE_READ_CHECK_UPDATE:
		r->rc = read_check_update(r);
		break;
	case RACE_ROTATE:
		snprintf(newkey, sizeof(newkey), "%s-new%d", r->key, r->id);
		ops[0] = (struct fa_store_op){ .type = FA_STORE_UPDATE, .kind = "rt",
			.key = r->key, .value = "spent", .expires_at = T0 + 600,
			.expect_version = 1 };
		ops[1] = (struct fa_store_op){ .type = FA_STORE_INSERT, .kind = "rt",
			.key = newkey, .value = "fresh", .expires_at = T0 + 600 };
		r->rc = fa_store_apply(r->st, ops, 2, T0 + 1, NULL);
		break;
	case RACE_DELETE:
		ops[0] = (struct fa_store_op){ .type = FA_STORE_DELETE, .kind = "session",
			.key = r->key, .expect_version = 1 };
		r->rc = fa_store_apply(r->st, ops, 1, T0 + 1, NULL);
		break;
	}
	return NULL;
}

/* Runs NTHREADS racers released together by a barrier; racer i uses
 * stores[i % nstores]. Returns how many got FA_OK; counts the rest. */
static int race(struct fa_store **stores, int nstores, enum race kind, const char *key,
		int *conflicts, int *others)
{
	struct racer r[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t go;
	int i, ok = 0;

	*conflicts = *others = 0;
	assert_int_equal(pthread_barrier_init(&go, NULL, NTHREADS), 0);
	for (i = 0; i < NTHREADS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].st = stores[i % nstores];
		r[i].go = &go;
		r[i].kind = kind;
		r[i].id = i;
		snprintf(r[i].key, sizeof(r[i].key), "%s", key);
		assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		if (r[i].rc == FA_OK)
			ok++;
		else if (r[i].rc == FA_ECONFLICT)
			(*conflicts)++;
		else
			(*others)++;
	}
	pthread_barrier_destroy(&go);
	return ok;
}

/* Invariant 3 (attack: code replay from several connections at once). */
static void test_code_race_exactly_one_wins(void **state)
{
	struct sfx *f = *state;
	int round, conflicts, others;
	char key[32];

	sfx_open(f);

	for (round = 0; round < ROUNDS; round++) {
		snprintf(key, sizeof(key), "code%d", round);
		insert(f->st, "code", key, "unused");
		assert_int_equal(race(&f->st, 1, RACE_UPDATE, key, &conflicts, &others), 1);
		assert_int_equal(conflicts, NTHREADS - 1);
		assert_int_equal(others, 0);
		assert_int_equal(version_of(f->st, "code", key), 2);
	}
}

/* The read-then-update pattern: losers either see "used" or lose on the
 * version; never two winners. */
static void test_code_race_read_check_update(void **state)
{
	struct sfx *f = *state;
	int round, conflicts, others;
	char key[32];

	sfx_open(f);

	for (round = 0; round < ROUNDS; round++) {
		snprintf(key, sizeof(key), "code%d", round);
		insert(f->st, "code", key, "unused");
		assert_int_equal(race(&f->st, 1, RACE_READ_CHECK_UPDATE, key, &conflicts,
				      &others), 1);
		assert_int_equal(conflicts + others, NTHREADS - 1);
		assert_int_equal(version_of(f->st, "code", key), 2);
	}
}

/* Attack: one refresh token raced from 8 connections. One rotation wins;
 * the losers' new tokens are rolled back with their failed update. */
static void test_refresh_rotation_race(void **state)
{
	struct sfx *f = *state;
	int round, conflicts, others;
	int64_t n;
	char key[32];
	struct fa_err err;

	sfx_open(f);

	for (round = 0; round < ROUNDS; round++) {
		snprintf(key, sizeof(key), "rt%d", round);
		insert(f->st, "rt", key, "live");
		assert_int_equal(race(&f->st, 1, RACE_ROTATE, key, &conflicts, &others), 1);
		assert_int_equal(conflicts, NTHREADS - 1);
		assert_int_equal(others, 0);
	}
	/* ROUNDS old tokens + exactly one new token per round. */
	assert_int_equal(fa_store_count(f->st, "rt", T0 + 1, &n, &err), FA_OK);
	assert_int_equal(n, 2 * ROUNDS);
}

static void test_delete_race(void **state)
{
	struct sfx *f = *state;
	int round, conflicts, others;
	char key[32];

	sfx_open(f);

	for (round = 0; round < ROUNDS; round++) {
		snprintf(key, sizeof(key), "s%d", round);
		insert(f->st, "session", key, "{}");
		assert_int_equal(race(&f->st, 1, RACE_DELETE, key, &conflicts, &others), 1);
		/* Losers find it gone: FA_ENOTFOUND, never a second FA_OK. */
		assert_int_equal(conflicts + others, NTHREADS - 1);
	}
}

/* Three store objects on one database behave like three server
 * instances: the in-process locks no longer order them, the database does
 * (SQLite's file lock; PostgreSQL's row locks and SERIALIZABLE). Codes and
 * refresh rotations raced across them: one winner each. */
static void test_three_instances_race(void **state)
{
	struct sfx *f = *state;
	struct fa_store *stores[3];
	int round, conflicts, others;
	char key[32];

	sfx_open(f);
	stores[0] = f->st;
	stores[1] = sfx_open_another(f, NULL);
	stores[2] = sfx_open_another(f, NULL);
	for (round = 0; round < ROUNDS; round++) {
		snprintf(key, sizeof(key), "code%d", round);
		insert(f->st, "code", key, "unused");
		assert_int_equal(race(stores, 3, RACE_UPDATE, key, &conflicts, &others), 1);
		assert_int_equal(conflicts, NTHREADS - 1);
		assert_int_equal(others, 0);
		assert_int_equal(version_of(stores[1], "code", key), 2);
		snprintf(key, sizeof(key), "rt%d", round);
		insert(stores[2], "rt", key, "live");
		assert_int_equal(race(stores, 3, RACE_ROTATE, key, &conflicts, &others), 1);
		assert_int_equal(conflicts, NTHREADS - 1);
		assert_int_equal(others, 0);
	}
	fa_store_free(stores[1]);
	fa_store_free(stores[2]);
}

/* ---- counters ---------------------------------------------------------------------- */

#define INCRS 250

struct counter {
	struct fa_store *st;
	pthread_barrier_t *go;
	int64_t got[INCRS];
	int failures;
};

static void *counter_main(void *arg)
{
	struct counter *c = arg;
	int i;

	pthread_barrier_wait(c->go);
	for (i = 0; i < INCRS; i++)
		if (fa_store_incr(c->st, "throttle", "user:alice", 300, T0, &c->got[i], NULL) !=
		    FA_OK)
			c->failures++;
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Invariant 5: NTHREADS x INCRS increments, from threads spread over two
 * store objects (instances), give exactly that count, and every caller saw
 * a distinct value. */
static void test_counter_exact(void **state)
{
	struct sfx *f = *state;
	struct counter *c = calloc(NTHREADS, sizeof(*c));
	int64_t *all = calloc(NTHREADS * INCRS, sizeof(*all));
	pthread_t th[NTHREADS];
	pthread_barrier_t go;
	struct fa_store *other;
	struct fa_err err;
	int64_t last;
	int i, j;

	assert_non_null(c);
	assert_non_null(all);
	sfx_open(f);
	other = sfx_open_another(f, NULL);
	assert_int_equal(pthread_barrier_init(&go, NULL, NTHREADS), 0);
	for (i = 0; i < NTHREADS; i++) {
		c[i].st = i % 2 ? other : f->st;
		c[i].go = &go;
		assert_int_equal(pthread_create(&th[i], NULL, counter_main, &c[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].failures, 0);
		for (j = 0; j < INCRS; j++)
			all[i * INCRS + j] = c[i].got[j];
	}
	pthread_barrier_destroy(&go);
	qsort(all, NTHREADS * INCRS, sizeof(*all), cmp_i64);
	for (i = 0; i < NTHREADS * INCRS; i++)
		assert_int_equal(all[i], i + 1);
	assert_int_equal(fa_store_incr(f->st, "throttle", "user:alice", 300, T0, &last, &err),
			 FA_OK);
	assert_int_equal(last, NTHREADS * INCRS + 1);
	fa_store_free(other);
	free(all);
	free(c);
}

/* ---- throughput ---------------------------------------------------------------------- */

#define BENCH_OPS 1500

struct bench {
	struct fa_store *st;
	pthread_barrier_t *go;
	int id;
	int failures;
};

/* What a token request does: read a record, then a version-checked update
 * of it (on this thread's own keys, so nothing conflicts). */
static void *bench_main(void *arg)
{
	struct bench *b = arg;
	struct fa_store_op op = { .type = FA_STORE_UPDATE, .kind = "rt",
				  .value = "{\"family\":\"0123456789abcdef\",\"client\":\"flytectl\"}",
				  .expires_at = T0 + 600 };
	struct fa_store_rec rec;
	char key[32];
	int i;

	pthread_barrier_wait(b->go);
	for (i = 0; i < BENCH_OPS; i++) {
		snprintf(key, sizeof(key), "t%d-k%d", b->id, i % 16);
		if (fa_store_get(b->st, "rt", key, T0, &rec, NULL) != FA_OK) {
			b->failures++;
			continue;
		}
		op.key = key;
		op.expect_version = rec.version;
		fa_store_rec_cleanup(&rec);
		if (fa_store_apply(b->st, &op, 1, T0, NULL) != FA_OK)
			b->failures++;
	}
	return NULL;
}

static int64_t bench_run(struct fa_store *st, int nthreads)
{
	struct bench b[2];
	pthread_t th[2];
	pthread_barrier_t go;
	int64_t start;
	int i;

	assert_int_equal(pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1), 0);
	for (i = 0; i < nthreads; i++) {
		b[i] = (struct bench){ .st = st, .go = &go, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, bench_main, &b[i]), 0);
	}
	start = fa_mono_ms();
	pthread_barrier_wait(&go);
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(b[i].failures, 0);
	}
	pthread_barrier_destroy(&go);
	return fa_mono_ms() - start + 1;
}

/* Two threads doing get+apply on their own keys, as token requests do:
 * every operation succeeds (a connection that never came back to the pool
 * would show up as a failed call after the busy timeout). How fast this is
 * is a benchmark's question, not a unit test's: the numbers are printed for
 * reading, never asserted (speed is measured in bench/). */
static void test_two_threads_get_apply(void **state)
{
	struct sfx *f = *state;
	int64_t t1, t2;
	char key[32];
	int i, k;

	sfx_open(f);

	for (i = 0; i < 2; i++)
		for (k = 0; k < 16; k++) {
			snprintf(key, sizeof(key), "t%d-k%d", i, k);
			insert(f->st, "rt", key, "{}");
		}
	t1 = bench_run(f->st, 1);
	t2 = bench_run(f->st, 2);
	printf("# store (%s): 1 thread %d get+apply in %lld ms; 2 threads %d in %lld ms\n",
	       sfx_name(f), BENCH_OPS, (long long)t1, 2 * BENCH_OPS, (long long)t2);
}

#define T(fn) SUITE_TEST(fn)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_code_race_exactly_one_wins),
		T(test_code_race_read_check_update),
		T(test_refresh_rotation_race),
		T(test_delete_race),
		T(test_three_instances_race),
		T(test_counter_exact),
		T(test_two_threads_get_apply),
	};

	return RUN_SUITE_BOTH(tests);
}
