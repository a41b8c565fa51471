/* test_store.c -- the store's conformance suite, run against both backends
 * (SQLite, and PostgreSQL in a throwaway cluster; store_backends.h):
 * insert/get/update/delete, expiry at the boundary, versions, atomic
 * rollback of a batch (also when the database itself fails mid-batch),
 * counters, bounded purge, and argument validation with exact messages.
 * Then the generic layer alone, on a fake backend: bad input never reaches
 * a backend, and a failing database is logged once, not per call.
 *
 * Concurrency (races, exact counters) is the same way in
 * test_store_concurrency.c; what only one backend has (files and modes,
 * connection settings, migrations, outages) is in test_store_sqlite.c and
 * test_store_postgres.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_backends.h"

#define T0 1700000000LL   /* a fixed "now" */

/* ---- records ------------------------------------------------------------------ */

static void test_insert_get(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("code", "k1", "{\"sub\":\"alice\"}", T0 + 60),
				T0, &err), FA_OK);
	assert_int_equal(fa_store_get(f->st, "code", "k1", T0, &rec, &err), FA_OK);
	assert_string_equal(rec.value, "{\"sub\":\"alice\"}");
	assert_int_equal(rec.len, 15);
	assert_int_equal(rec.expires_at, T0 + 60);
	assert_int_equal(rec.version, 1);
	fa_store_rec_cleanup(&rec);
	assert_null(rec.value);
	assert_int_equal(rec.len, 0);
	/* Same key, other kind: a different record. */
	assert_absent(f->st, "rt", "k1", T0);
	assert_string_equal(fa_store_backend_name(f->st), sfx_name(f));
}

static void test_get_missing(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec = { .value = (char *)1, .len = 9, .version = 9 };
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(fa_store_get(f->st, "code", "nope", T0, &rec, &err), FA_ENOTFOUND);
	assert_int_equal(err.rc, FA_ENOTFOUND);
	assert_string_equal(err.msg, "store get: no live code record");
	assert_null(rec.value);
	assert_int_equal(rec.len, 0);
	assert_int_equal(rec.version, 0);
}

static void test_empty_value(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("revoked", "jti1", "", T0 + 5), T0, &err),
			 FA_OK);
	assert_rec(f->st, "revoked", "jti1", T0, "", 1);
}

static void test_insert_live_exists(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("code", "k1", "first", T0 + 60), T0, &err),
			 FA_OK);
	assert_int_equal(apply1(f->st, op_insert("code", "k1", "second", T0 + 90), T0 + 1, &err),
			 FA_EEXIST);
	assert_string_equal(err.msg, "store op 0 (insert code): a live record exists");
	assert_rec(f->st, "code", "k1", T0 + 1, "first", 1);
}

/* A record at its expiry is absent for every operation (invariant 1). */
static void test_expiry_boundary(void **state)
{
	struct sfx *f = *state;
	const int64_t exp = T0 + 60;
	struct fa_err err;
	int64_t n = -1;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("code", "k1", "v1", exp), T0, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_update("code", "k1", "v2", exp + 10, 0), T0, &err),
			 FA_OK);
	assert_rec(f->st, "code", "k1", exp - 1, "v2", 2);
	/* The update moved expiry to exp + 10. */
	assert_rec(f->st, "code", "k1", exp, "v2", 2);
	assert_absent(f->st, "code", "k1", exp + 10);
	assert_int_equal(fa_store_count(f->st, "code", exp + 9, &n, &err), FA_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fa_store_count(f->st, "code", exp + 10, &n, &err), FA_OK);
	assert_int_equal(n, 0);

	assert_int_equal(apply1(f->st, op_update("code", "k1", "v3", exp + 99, 2), exp + 10,
				&err), FA_ENOTFOUND);
	assert_string_equal(err.msg, "store op 0 (update code): no live record");
	assert_int_equal(apply1(f->st, op_delete("code", "k1", 0, false), exp + 10, &err),
			 FA_ENOTFOUND);
	assert_string_equal(err.msg, "store op 0 (delete code): no live record");
	assert_int_equal(apply1(f->st, op_delete("code", "k1", 0, true), exp + 10, &err),
			 FA_OK);
	/* An expired record is replaced by an insert, starting over at 1. */
	assert_int_equal(apply1(f->st, op_insert("code", "k1", "fresh", exp + 20), exp + 10,
				&err), FA_OK);
	assert_rec(f->st, "code", "k1", exp + 10, "fresh", 1);
}

static void test_update_versions(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("rt", "h1", "a", T0 + 60), T0, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_update("rt", "h1", "b", T0 + 70, 0), T0, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_update("rt", "h1", "c", T0 + 80, 2), T0, &err), FA_OK);
	assert_int_equal(fa_store_get(f->st, "rt", "h1", T0, &rec, &err), FA_OK);
	assert_string_equal(rec.value, "c");
	assert_int_equal(rec.expires_at, T0 + 80);
	assert_int_equal(rec.version, 3);
	fa_store_rec_cleanup(&rec);
	/* A stale version loses and changes nothing. */
	assert_int_equal(apply1(f->st, op_update("rt", "h1", "d", T0 + 90, 2), T0, &err),
			 FA_ECONFLICT);
	assert_int_equal(err.rc, FA_ECONFLICT);
	assert_string_equal(err.msg, "store op 0 (update rt): version conflict");
	assert_rec(f->st, "rt", "h1", T0, "c", 3);
	assert_int_equal(apply1(f->st, op_update("rt", "missing", "d", T0 + 90, 0), T0, &err),
			 FA_ENOTFOUND);
	assert_string_equal(err.msg, "store op 0 (update rt): no live record");
}

static void test_delete(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("session", "s1", "{}", T0 + 60), T0, &err),
			 FA_OK);
	assert_int_equal(apply1(f->st, op_delete("session", "s1", 2, false), T0, &err),
			 FA_ECONFLICT);
	assert_string_equal(err.msg, "store op 0 (delete session): version conflict");
	/* if_exists does not bypass the version check. */
	assert_int_equal(apply1(f->st, op_delete("session", "s1", 2, true), T0, &err),
			 FA_ECONFLICT);
	assert_rec(f->st, "session", "s1", T0, "{}", 1);
	assert_int_equal(apply1(f->st, op_delete("session", "s1", 1, false), T0, &err), FA_OK);
	assert_absent(f->st, "session", "s1", T0);
	assert_int_equal(apply1(f->st, op_delete("session", "s1", 0, false), T0, &err),
			 FA_ENOTFOUND);
	assert_string_equal(err.msg, "store op 0 (delete session): no live record");
	assert_int_equal(apply1(f->st, op_delete("session", "s1", 0, true), T0, &err), FA_OK);
}

/* Invariant 2: the second op fails, so the first is undone. */
static void test_apply_atomic_rollback(void **state)
{
	struct sfx *f = *state;
	struct fa_store_op ops[3];
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("rt", "a", "a1", T0 + 60), T0, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_insert("rt", "b", "b1", T0 + 60), T0, &err), FA_OK);

	ops[0] = op_update("rt", "a", "a2", T0 + 60, 1);
	ops[1] = op_insert("rt", "b", "b2", T0 + 60);
	assert_int_equal(fa_store_apply(f->st, ops, 2, T0, &err), FA_EEXIST);
	assert_string_equal(err.msg, "store op 1 (insert rt): a live record exists");
	assert_rec(f->st, "rt", "a", T0, "a1", 1);
	assert_rec(f->st, "rt", "b", T0, "b1", 1);

	ops[0] = op_insert("rt", "c", "c1", T0 + 60);
	ops[1] = op_delete("rt", "a", 1, false);
	ops[2] = op_update("rt", "b", "b2", T0 + 60, 7);
	assert_int_equal(fa_store_apply(f->st, ops, 3, T0, &err), FA_ECONFLICT);
	assert_string_equal(err.msg, "store op 2 (update rt): version conflict");
	assert_absent(f->st, "rt", "c", T0);
	assert_rec(f->st, "rt", "a", T0, "a1", 1);
	assert_rec(f->st, "rt", "b", T0, "b1", 1);

	/* And the same batch with the right version goes through whole. */
	ops[2] = op_update("rt", "b", "b2", T0 + 60, 1);
	assert_int_equal(fa_store_apply(f->st, ops, 3, T0, &err), FA_OK);
	assert_rec(f->st, "rt", "c", T0, "c1", 1);
	assert_absent(f->st, "rt", "a", T0);
	assert_rec(f->st, "rt", "b", T0, "b2", 2);
}

/* Later ops of a batch see earlier ones. */
static void test_apply_sequential_same_key(void **state)
{
	struct sfx *f = *state;
	struct fa_store_op ops[4];
	struct fa_err err;

	sfx_open(f);
	ops[0] = op_insert("device", "d", "pending", T0 + 600);
	ops[1] = op_update("device", "d", "approved", T0 + 600, 1);
	assert_int_equal(fa_store_apply(f->st, ops, 2, T0, &err), FA_OK);
	assert_rec(f->st, "device", "d", T0, "approved", 2);

	ops[0] = op_delete("device", "d", 2, false);
	ops[1] = op_insert("device", "d", "again", T0 + 600);
	ops[2] = op_delete("device", "d", 1, false);
	ops[3] = op_delete("device", "d", 0, true);
	assert_int_equal(fa_store_apply(f->st, ops, 4, T0, &err), FA_OK);
	assert_absent(f->st, "device", "d", T0);

	assert_int_equal(fa_store_apply(f->st, NULL, 0, T0, &err), FA_OK);
}

/* Attack: an authorization code presented twice. The caller marks it used
 * with a version-checked update; the replay holds the old version. */
static void test_code_replay(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;
	int64_t seen;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("code", "c", "{\"used\":false}", T0 + 600), T0,
				&err), FA_OK);
	assert_int_equal(fa_store_get(f->st, "code", "c", T0, &rec, &err), FA_OK);
	seen = rec.version;
	fa_store_rec_cleanup(&rec);
	assert_int_equal(apply1(f->st, op_update("code", "c", "{\"used\":true}", T0 + 600, seen),
				T0 + 1, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_update("code", "c", "{\"used\":true}", T0 + 600, seen),
				T0 + 2, &err), FA_ECONFLICT);
	assert_rec(f->st, "code", "c", T0 + 2, "{\"used\":true}", 2);
}

/* Attack: a spent refresh token presented again. Rotation is UPDATE old
 * (expect_version) + INSERT new in one batch; the replay loses on the
 * version and its new token never appears. */
static void test_refresh_reuse(void **state)
{
	struct sfx *f = *state;
	struct fa_store_op ops[2];
	struct fa_err err;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("rt", "old", "{\"fam\":\"F\"}", T0 + 3600), T0,
				&err), FA_OK);
	ops[0] = op_update("rt", "old", "{\"fam\":\"F\",\"spent\":true}", T0 + 3600, 1);
	ops[1] = op_insert("rt", "new1", "{\"fam\":\"F\"}", T0 + 3600);
	assert_int_equal(fa_store_apply(f->st, ops, 2, T0 + 10, &err), FA_OK);
	ops[1] = op_insert("rt", "new2", "{\"fam\":\"F\"}", T0 + 3600);
	assert_int_equal(fa_store_apply(f->st, ops, 2, T0 + 20, &err), FA_ECONFLICT);
	assert_string_equal(err.msg, "store op 0 (update rt): version conflict");
	assert_rec(f->st, "rt", "new1", T0 + 20, "{\"fam\":\"F\"}", 1);
	assert_absent(f->st, "rt", "new2", T0 + 20);
}

static void test_incr_across_expiry(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;
	int64_t c = 0, reset = -1;

	sfx_open(f);
	assert_int_equal(fa_store_incr(f->st, "throttle", "ip:10.0.0.1", 10, 100, &c, &err),
			 FA_OK);
	assert_int_equal(c, 1);
	assert_int_equal(fa_store_incr(f->st, "throttle", "ip:10.0.0.1", 10, 105, &c, &err),
			 FA_OK);
	assert_int_equal(c, 2);
	assert_int_equal(fa_store_incr(f->st, "throttle", "ip:10.0.0.1", 10, 109, &c, &err),
			 FA_OK);
	assert_int_equal(c, 3);
	/* The window is fixed from the first hit. */
	assert_int_equal(fa_store_get(f->st, "throttle", "ip:10.0.0.1", 109, &rec, &err), FA_OK);
	assert_string_equal(rec.value, "3");
	assert_int_equal(rec.expires_at, 110);
	assert_int_equal(rec.version, 3);
	fa_store_rec_cleanup(&rec);
	/* The counter reader: count and seconds to the window's end. */
	assert_int_equal(fa_store_counter_get(f->st, "throttle", "ip:10.0.0.1", 109, &c, &reset,
					      &err), FA_OK);
	assert_int_equal(c, 3);
	assert_int_equal(reset, 1);
	assert_int_equal(fa_store_counter_get(f->st, "throttle", "ip:10.0.0.9", 109, &c, &reset,
					      &err), FA_OK);
	assert_int_equal(c, 0);
	assert_int_equal(reset, 0);
	assert_int_equal(fa_store_counter_get(f->st, "throttle", "ip:10.0.0.1", 110, &c, &reset,
					      &err), FA_OK);
	assert_int_equal(c, 0);
	/* At expiry a new window starts. */
	assert_int_equal(fa_store_incr(f->st, "throttle", "ip:10.0.0.1", 10, 110, &c, &err),
			 FA_OK);
	assert_int_equal(c, 1);
	assert_int_equal(fa_store_get(f->st, "throttle", "ip:10.0.0.1", 110, &rec, &err), FA_OK);
	assert_string_equal(rec.value, "1");
	assert_int_equal(rec.expires_at, 120);
	fa_store_rec_cleanup(&rec);
	/* Counters are per key. */
	assert_int_equal(fa_store_incr(f->st, "throttle", "user:bob", 10, 110, &c, &err), FA_OK);
	assert_int_equal(c, 1);
}

static void test_purge_bounded(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	size_t deleted = 99;
	int64_t n = 0;
	char key[16];
	int i;

	sfx_open(f);
	for (i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		/* 25 expire at T0 + 10 (+i), 5 live on. */
		assert_int_equal(apply1(f->st, op_insert("code", key, "v",
							 i < 25 ? T0 + 10 + i : T0 + 1000),
					T0, &err), FA_OK);
	}
	assert_int_equal(fa_store_purge(f->st, T0 + 100, 10, &deleted, &err), FA_OK);
	assert_int_equal(deleted, 10);
	/* Oldest expiry first: k0..k9 went (absent even at T0, when they were
	 * live), k10 is still stored. */
	assert_absent(f->st, "code", "k0", T0);
	assert_absent(f->st, "code", "k9", T0);
	assert_rec(f->st, "code", "k10", T0, "v", 1);
	assert_int_equal(fa_store_purge(f->st, T0 + 100, 10, &deleted, &err), FA_OK);
	assert_int_equal(deleted, 10);
	assert_int_equal(fa_store_purge(f->st, T0 + 100, 10, &deleted, &err), FA_OK);
	assert_int_equal(deleted, 5);
	assert_int_equal(fa_store_purge(f->st, T0 + 100, 10, &deleted, &err), FA_OK);
	assert_int_equal(deleted, 0);
	/* What is left is the 5 live ones: at T0 only they are stored. */
	assert_int_equal(fa_store_count(f->st, "code", T0, &n, &err), FA_OK);
	assert_int_equal(n, 5);
	assert_int_equal(fa_store_count(f->st, "code", T0 + 100, &n, &err), FA_OK);
	assert_int_equal(n, 5);
	/* The boundary: a record expiring exactly at now is purged. */
	assert_int_equal(fa_store_purge(f->st, T0 + 1000, 10, &deleted, &err), FA_OK);
	assert_int_equal(deleted, 5);
}

/* A backlog larger than one batch is purged to the end in one call. */
static void test_purge_all(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	size_t deleted = 99;
	int64_t n = 0;
	char key[16];

	sfx_open(f);
	for (int i = 0; i < 47; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(apply1(f->st, op_insert("authreq", key, "v",
							 i < 43 ? T0 + 10 : T0 + 1000),
					T0, &err), FA_OK);
	}
	assert_int_equal(fa_store_purge_all(f->st, T0 + 100, 5, &deleted, &err), FA_OK);
	assert_int_equal(deleted, 43);
	assert_int_equal(fa_store_count(f->st, "authreq", T0, &n, &err), FA_OK);
	assert_int_equal(n, 4);
	assert_int_equal(fa_store_purge_all(f->st, T0 + 100, 5, &deleted, &err), FA_OK);
	assert_int_equal(deleted, 0);
	assert_int_equal(fa_store_purge_all(f->st, T0 + 100, 0, &deleted, &err), FA_EINVAL);
}

static void test_count(void **state)
{
	struct sfx *f = *state;
	struct fa_err err;
	int64_t n = -1;

	sfx_open(f);
	assert_int_equal(fa_store_count(f->st, "session", T0, &n, &err), FA_OK);
	assert_int_equal(n, 0);
	assert_int_equal(apply1(f->st, op_insert("session", "a", "{}", T0 + 10), T0, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_insert("session", "b", "{}", T0 + 20), T0, &err), FA_OK);
	assert_int_equal(apply1(f->st, op_insert("code", "a", "{}", T0 + 20), T0, &err), FA_OK);
	assert_int_equal(fa_store_count(f->st, "session", T0, &n, &err), FA_OK);
	assert_int_equal(n, 2);
	assert_int_equal(fa_store_count(f->st, "session", T0 + 10, &n, &err), FA_OK);
	assert_int_equal(n, 1);
}

/* A database failure in the middle of a batch (injected with a trigger)
 * rolls back the ops before it and names the op. */
static void test_apply_store_failure_rolls_back(void **state)
{
	struct sfx *f = *state;
	struct fa_store_op ops[2];
	struct fa_err err;
	char prefix[64];

	sfx_open(f);
	sfx_inject_failure(f);
	ops[0] = op_insert("code", "first", "v", T0 + 5);
	ops[1] = op_insert("code", "boom", "v", T0 + 5);
	assert_int_equal(fa_store_apply(f->st, ops, 2, T0, &err), FA_ESTORE);
	snprintf(prefix, sizeof(prefix), "store op 1 (insert code): %s", sfx_name(f));
	assert_true(strncmp(err.msg, prefix, strlen(prefix)) == 0);
	assert_non_null(strstr(err.msg, ": injected failure"));
	assert_absent(f->st, "code", "first", T0);
	/* The connection is usable afterwards. */
	assert_int_equal(fa_store_apply(f->st, ops, 1, T0, &err), FA_OK);
	assert_rec(f->st, "code", "first", T0, "v", 1);
	/* The database's failure was logged once by the store, and its
	 * recovery. */
	fflush(f->log.fp);
	assert_non_null(strstr(f->logbuf, "failed: store op 1 (insert code): "));
	assert_non_null(strstr(f->logbuf, "works again"));
}

/* ---- validation ----------------------------------------------------------------- */

static void test_bad_kind(void **state)
{
	static const char *const bad[] = {
		"", "Code", "a-b", "a b", "é", "abcdefghijklmnopqrstuvwxyz0123456",
	};
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;
	int64_t n;
	size_t i;

	sfx_open(f);
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(fa_store_get(f->st, bad[i], "k", T0, &rec, &err), FA_EINVAL);
		assert_string_equal(err.msg,
				    "store get: kind must be 1-32 characters of [a-z0-9_]");
	}
	assert_int_equal(fa_store_get(f->st, NULL, "k", T0, &rec, &err), FA_EINVAL);
	assert_int_equal(apply1(f->st, op_insert("Code", "k", "v", T0 + 1), T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: kind must be 1-32 characters of [a-z0-9_]");
	assert_int_equal(fa_store_count(f->st, "x.y", T0, &n, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store count: kind must be 1-32 characters of [a-z0-9_]");
	/* 32 characters is the most. */
	assert_int_equal(apply1(f->st, op_insert("abcdefghijklmnopqrstuvwxyz012345", "k", "v",
						 T0 + 1), T0, &err), FA_OK);
}

static void test_bad_key(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;
	char key[FA_STORE_MAX_KEY + 2];
	int64_t c;

	sfx_open(f);
	assert_int_equal(fa_store_get(f->st, "code", NULL, T0, &rec, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store get: key is missing");
	assert_int_equal(fa_store_get(f->st, "code", "", T0, &rec, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store get: key is empty");
	assert_int_equal(fa_store_get(f->st, "code", "ab cd", T0, &rec, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store get: key byte 2 is not printable ASCII");
	assert_int_equal(fa_store_get(f->st, "code", "a\x7f", T0, &rec, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store get: key byte 1 is not printable ASCII");
	assert_int_equal(fa_store_incr(f->st, "throttle", "\xc3\xa9", 5, T0, &c, &err),
			 FA_EINVAL);
	assert_string_equal(err.msg, "store incr: key byte 0 is not printable ASCII");
	memset(key, 'a', sizeof(key));
	key[FA_STORE_MAX_KEY + 1] = '\0';
	assert_int_equal(fa_store_get(f->st, "code", key, T0, &rec, &err), FA_ETOOBIG);
	assert_int_equal(err.rc, FA_ETOOBIG);
	assert_string_equal(err.msg, "store get: key is over 128 bytes");
	key[FA_STORE_MAX_KEY] = '\0';
	assert_int_equal(apply1(f->st, op_insert("code", key, "v", T0 + 5), T0, &err), FA_OK);
	assert_rec(f->st, "code", key, T0, "v", 1);
}

static void test_bad_value(void **state)
{
	static const struct { const char *v; size_t at; } bad[] = {
		{ "\x80", 0 },                    /* stray continuation byte */
		{ "ok\xc0\xaf", 2 },              /* overlong '/' */
		{ "\xe0\x80\xaf", 0 },            /* overlong, 3 bytes */
		{ "x\xed\xa0\x80", 1 },           /* UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", 0 },        /* above U+10FFFF */
		{ "ab\xe2\x82", 2 },              /* truncated sequence */
		{ "\xe2\x28\xa1", 0 },            /* bad continuation */
		{ "\xff", 0 },
	};
	struct sfx *f = *state;
	struct fa_err err;
	char msg[96];
	char *big;
	size_t i;

	sfx_open(f);
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(apply1(f->st, op_insert("code", "k", bad[i].v, T0 + 5), T0, &err),
				 FA_EINVAL);
		snprintf(msg, sizeof(msg), "store op 0: value is not valid UTF-8 (byte %zu)",
			 bad[i].at);
		assert_string_equal(err.msg, msg);
	}
	assert_int_equal(apply1(f->st, op_insert("code", "k", NULL, T0 + 5), T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: value is missing");
	/* Multi-byte text of every length is fine. */
	assert_int_equal(apply1(f->st, op_insert("code", "u", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
						 T0 + 5), T0, &err), FA_OK);
	assert_rec(f->st, "code", "u", T0, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 1);

	big = malloc(FA_MAX_STORE_VALUE + 2);
	assert_non_null(big);
	memset(big, 'x', FA_MAX_STORE_VALUE + 1);
	big[FA_MAX_STORE_VALUE + 1] = '\0';
	assert_int_equal(apply1(f->st, op_insert("code", "big", big, T0 + 5), T0, &err),
			 FA_ETOOBIG);
	assert_string_equal(err.msg, "store op 0: value is over 16384 bytes");
	assert_int_equal(apply1(f->st, op_update("code", "u", big, T0 + 5, 0), T0, &err),
			 FA_ETOOBIG);
	assert_rec(f->st, "code", "u", T0, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 1);
	big[FA_MAX_STORE_VALUE] = '\0';
	assert_int_equal(apply1(f->st, op_insert("code", "big", big, T0 + 5), T0, &err), FA_OK);
	assert_rec(f->st, "code", "big", T0, big, 1);
	free(big);
}

static void test_bad_times(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;
	size_t d;
	int64_t c;

	sfx_open(f);
	assert_int_equal(apply1(f->st, op_insert("code", "k", "v", T0), T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: expires_at must be after now");
	assert_int_equal(apply1(f->st, op_insert("code", "k", "v", T0 - 1), T0, &err), FA_EINVAL);
	/* An expiry in milliseconds by mistake. */
	assert_int_equal(apply1(f->st, op_insert("code", "k", "v", T0 * 1000), T0, &err),
			 FA_ETOOBIG);
	assert_string_equal(err.msg, "store op 0: lifetime is over 316224000 seconds");
	assert_int_equal(apply1(f->st, op_insert("code", "k", "v", T0 + FA_STORE_MAX_TTL_S), T0,
				&err), FA_OK);
	assert_int_equal(apply1(f->st, op_update("code", "k", "v", T0, 0), T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: expires_at must be after now");
	assert_int_equal(apply1(f->st, op_insert("code", "j", "v", 10), -1, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store apply: now is out of range");
	assert_int_equal(fa_store_get(f->st, "code", "k", FA_STORE_MAX_TIME + 1, &rec, &err),
			 FA_EINVAL);
	assert_string_equal(err.msg, "store get: now is out of range");
	assert_int_equal(fa_store_incr(f->st, "throttle", "k", 0, T0, &c, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store incr: ttl must be positive");
	assert_int_equal(fa_store_incr(f->st, "throttle", "k", FA_STORE_MAX_TTL_S + 1, T0, &c,
				       &err), FA_ETOOBIG);
	assert_string_equal(err.msg, "store incr: ttl is over 316224000 seconds");
	assert_int_equal(fa_store_purge(f->st, T0, 0, &d, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store purge: limit must be positive");
	assert_int_equal(fa_store_purge(f->st, T0, FA_STORE_MAX_PURGE + 1, &d, &err), FA_ETOOBIG);
	assert_string_equal(err.msg, "store purge: limit is over 10000");
	assert_int_equal(fa_store_purge(f->st, -5, 1, &d, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store purge: now is out of range");
}

static void test_bad_op_shape(void **state)
{
	struct sfx *f = *state;
	struct fa_store_op ops[3], op;
	struct fa_err err;

	sfx_open(f);
	op = op_insert("code", "k", "v", T0 + 5);
	op.type = (enum fa_store_op_type)0;
	assert_int_equal(apply1(f->st, op, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: unknown op type 0");
	op = op_insert("code", "k", "v", T0 + 5);
	op.expect_version = 1;
	assert_int_equal(apply1(f->st, op, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: insert takes no expect_version");
	op = op_update("code", "k", "v", T0 + 5, 0);
	op.if_exists = true;
	assert_int_equal(apply1(f->st, op, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: if_exists is for delete only");
	op = op_update("code", "k", "v", T0 + 5, -1);
	assert_int_equal(apply1(f->st, op, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: expect_version is negative");
	op = op_delete("code", "k", 0, false);
	op.value = "v";
	assert_int_equal(apply1(f->st, op, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: delete takes no value or expires_at");
	op = op_delete("code", "k", 0, false);
	op.expires_at = T0 + 5;
	assert_int_equal(apply1(f->st, op, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 0: delete takes no value or expires_at");

	/* A bad op 2 stops the batch before anything is written. */
	ops[0] = op_insert("code", "a", "v", T0 + 5);
	ops[1] = op_insert("code", "b", "v", T0 + 5);
	ops[2] = op_insert("code", "c d", "v", T0 + 5);
	assert_int_equal(fa_store_apply(f->st, ops, 3, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store op 2: key byte 1 is not printable ASCII");
	assert_absent(f->st, "code", "a", T0);
	assert_absent(f->st, "code", "b", T0);

	assert_int_equal(fa_store_apply(f->st, NULL, 1, T0, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store apply: no store or ops");
	assert_int_equal(fa_store_apply(f->st, ops, FA_STORE_MAX_OPS + 1, T0, &err), FA_ETOOBIG);
	assert_string_equal(err.msg, "store apply: 257 ops, over 256");
	assert_int_equal(fa_store_apply(NULL, ops, 1, T0, &err), FA_EINVAL);
}

static void test_null_args(void **state)
{
	struct sfx *f = *state;
	struct fa_store_rec rec;
	struct fa_err err;
	int64_t n;
	size_t d;

	sfx_open(f);
	assert_int_equal(fa_store_get(NULL, "code", "k", T0, &rec, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store get: no store or output");
	assert_int_equal(fa_store_get(f->st, "code", "k", T0, NULL, &err), FA_EINVAL);
	assert_int_equal(fa_store_incr(f->st, "t", "k", 5, T0, NULL, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store incr: no store or output");
	assert_int_equal(fa_store_purge(NULL, T0, 5, &d, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store purge: no store or output");
	assert_int_equal(fa_store_count(f->st, "t", T0, NULL, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store count: no store or output");
	/* err may be NULL. */
	assert_int_equal(fa_store_count(f->st, "t", T0, &n, NULL), FA_OK);
	assert_int_equal(fa_store_get(f->st, "t", "k", T0, &rec, NULL), FA_ENOTFOUND);
	fa_store_free(NULL);
	fa_store_rec_cleanup(NULL);
	assert_string_equal(fa_store_backend_name(NULL), "none");
}

/* ---- the backend interface -------------------------------------------------------- */

struct fake {
	int calls;
	int *freed;
	bool up;             /* ping answers FA_OK */
};

static enum fa_rc fake_get(void *impl, const char *kind, const char *key, int64_t now,
			   struct fa_store_rec *out, struct fa_err *err)
{
	struct fake *k = impl;

	(void)kind; (void)key; (void)now; (void)out;
	k->calls++;
	return fa_err_set(err, FA_ESTORE, "fake: down");
}

static enum fa_rc fake_apply(void *impl, const struct fa_store_op *ops, size_t n, int64_t now,
			     struct fa_err *err)
{
	struct fake *k = impl;

	(void)ops; (void)n; (void)now;
	k->calls++;
	return fa_err_set(err, FA_ESTORE, "fake: down");
}

static enum fa_rc fake_incr(void *impl, const char *kind, const char *key, int64_t ttl_s,
			    int64_t now, int64_t *count, struct fa_err *err)
{
	struct fake *k = impl;

	(void)kind; (void)key; (void)ttl_s; (void)now; (void)count;
	k->calls++;
	return fa_err_set(err, FA_ESTORE, "fake: down");
}

static enum fa_rc fake_purge(void *impl, int64_t now, size_t limit, size_t *deleted,
			     struct fa_err *err)
{
	struct fake *k = impl;

	(void)now; (void)limit; (void)deleted;
	k->calls++;
	return fa_err_set(err, FA_ESTORE, "fake: down");
}

static enum fa_rc fake_count(void *impl, const char *kind, int64_t now, int64_t *n,
			     struct fa_err *err)
{
	struct fake *k = impl;

	(void)kind; (void)now; (void)n;
	k->calls++;
	return fa_err_set(err, FA_ESTORE, "fake: down");
}

static enum fa_rc fake_ping(void *impl, struct fa_err *err)
{
	struct fake *k = impl;

	k->calls++;
	return k->up ? FA_OK : fa_err_set(err, FA_ESTORE, "fake: down");
}

static void fake_free(void *impl)
{
	struct fake *k = impl;

	(*k->freed)++;
	free(k);
}

static const struct fa_store_ops fake_ops = {
	.name = "fake", .get = fake_get, .apply = fake_apply, .incr = fake_incr,
	.purge = fake_purge, .count = fake_count, .ping = fake_ping, .free = fake_free,
};

/* Invariant 6: bad input is stopped before the backend; good input reaches
 * it and its failure comes back unchanged. */
static void test_backend_sees_only_valid_input(void **state)
{
	struct fa_store_ops broken = fake_ops;
	struct fa_store *st = NULL;
	struct fa_store_rec rec;
	struct fa_err err;
	struct fake *k;
	int freed = 0;
	int64_t c;

	(void)state;
	k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->freed = &freed;
	assert_int_equal(fa_store_new(&fake_ops, k, NULL, &st, &err), FA_OK);
	assert_string_equal(fa_store_backend_name(st), "fake");
	assert_int_equal(fa_store_get(st, "BAD", "k", T0, &rec, &err), FA_EINVAL);
	assert_int_equal(apply1(st, op_insert("code", "k", "\xff", T0 + 1), T0, &err), FA_EINVAL);
	assert_int_equal(fa_store_incr(st, "t", "", 5, T0, &c, &err), FA_EINVAL);
	assert_int_equal(k->calls, 0);
	assert_int_equal(fa_store_get(st, "code", "k", T0, &rec, &err), FA_ESTORE);
	assert_string_equal(err.msg, "fake: down");
	assert_null(rec.value);
	assert_int_equal(k->calls, 1);
	fa_store_free(st);
	assert_int_equal(freed, 1);

	/* An incomplete backend is refused, and its impl is still released. */
	k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->freed = &freed;
	broken.ping = NULL;
	assert_int_equal(fa_store_new(&broken, k, NULL, &st, &err), FA_EINVAL);
	assert_string_equal(err.msg, "store: incomplete backend");
	assert_null(st);
	assert_int_equal(freed, 2);
}

/* A database that is down fails every request: the store logs the first
 * failure, stays quiet while it lasts (within a minute), and logs the
 * recovery once. Callers (authz, identity) then need not log per request. */
static void test_failures_logged_once(void **state)
{
	struct fa_store *st = NULL;
	struct fa_store_rec rec;
	struct fa_log log;
	struct fa_err err;
	struct fake *k;
	char *buf = NULL, *p;
	size_t len = 0;
	int freed = 0, lines = 0;

	(void)state;
	fa_test_log_open(&log, &buf, &len);
	k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->freed = &freed;
	assert_int_equal(fa_store_new(&fake_ops, k, &log, &st, &err), FA_OK);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(fa_store_get(st, "code", "k", T0, &rec, NULL), FA_ESTORE);
		assert_int_equal(fa_store_ping(st, &err), FA_ESTORE);
		assert_string_equal(err.msg, "fake: down");
	}
	k->up = true;
	assert_int_equal(fa_store_ping(st, &err), FA_OK);
	assert_int_equal(fa_store_ping(st, &err), FA_OK);
	k->up = false;
	assert_int_equal(fa_store_ping(st, NULL), FA_ESTORE);
	fflush(log.fp);
	for (p = buf; (p = strstr(p, "store (fake) failed: fake: down; requests that need it "
				  "answer 503")) != NULL; p++)
		lines++;
	assert_int_equal(lines, 2);   /* the first outage and the second */
	p = strstr(buf, "store (fake) works again after ");
	assert_non_null(p);
	assert_null(strstr(p + 1, "store (fake) works again after "));
	assert_null(strstr(buf, "still failing"));
	fa_store_free(st);
	assert_int_equal(freed, 1);
	assert_int_equal(fa_store_ping(NULL, &err), FA_EINVAL);
	fclose(log.fp);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest suite[] = {
		SUITE_TEST(test_insert_get),
		SUITE_TEST(test_get_missing),
		SUITE_TEST(test_empty_value),
		SUITE_TEST(test_insert_live_exists),
		SUITE_TEST(test_expiry_boundary),
		SUITE_TEST(test_update_versions),
		SUITE_TEST(test_delete),
		SUITE_TEST(test_apply_atomic_rollback),
		SUITE_TEST(test_apply_sequential_same_key),
		SUITE_TEST(test_code_replay),
		SUITE_TEST(test_refresh_reuse),
		SUITE_TEST(test_incr_across_expiry),
		SUITE_TEST(test_purge_bounded),
		SUITE_TEST(test_purge_all),
		SUITE_TEST(test_count),
		SUITE_TEST(test_apply_store_failure_rolls_back),
		SUITE_TEST(test_bad_kind),
		SUITE_TEST(test_bad_key),
		SUITE_TEST(test_bad_value),
		SUITE_TEST(test_bad_times),
		SUITE_TEST(test_bad_op_shape),
		SUITE_TEST(test_null_args),
	};
	const struct CMUnitTest generic[] = {
		cmocka_unit_test(test_backend_sees_only_valid_input),
		cmocka_unit_test(test_failures_logged_once),
	};

	return RUN_SUITE_BOTH(suite) + cmocka_run_group_tests_name("generic", generic, NULL, NULL);
}
