/* fa_test_outage.h -- a store double for the unit tests of the layers
 * above the store (authz, identity): it forwards to a real store, and while
 * `down` fails every get, apply, incr and ping with FA_ESTORE, as a
 * database that went away does, so that a test can assert the 503 answer,
 * that nothing was half-written, and that the outage is logged once.
 *
 * Header only; include it only in tests that link the store.
 */
#ifndef FA_TEST_OUTAGE_H
#define FA_TEST_OUTAGE_H

#include "fa_test.h"

/* A store in front of a real one that fails every get, apply, incr and
 * ping while `down`, as a database that went away does (FA_ESTORE, the
 * message naming a host as the PostgreSQL backend's would). */
struct fa_test_outage {
	struct fa_store *real;
	bool down;
};

/* true (and err filled) while the database is "down". */
static inline bool fa_test_out_down(void *impl, struct fa_err *err)
{
	if (!((struct fa_test_outage *)impl)->down)
		return false;
	fa_err_set(err, FA_ESTORE, "postgres db:5432/flyte: connection refused");
	return true;
}

static inline struct fa_store *fa_test_out_real(void *impl)
{
	return ((struct fa_test_outage *)impl)->real;
}

static inline enum fa_rc fa_test_out_get(void *impl, const char *kind, const char *key,
					 int64_t now, struct fa_store_rec *out,
					 struct fa_err *err)
{
	return fa_test_out_down(impl, err) ? FA_ESTORE :
	       fa_store_get(fa_test_out_real(impl), kind, key, now, out, err);
}

static inline enum fa_rc fa_test_out_apply(void *impl, const struct fa_store_op *ops, size_t n,
					   int64_t now, struct fa_err *err)
{
	return fa_test_out_down(impl, err) ? FA_ESTORE :
	       fa_store_apply(fa_test_out_real(impl), ops, n, now, err);
}

static inline enum fa_rc fa_test_out_incr(void *impl, const char *kind, const char *key,
					  int64_t ttl_s, int64_t now, int64_t *count,
					  struct fa_err *err)
{
	return fa_test_out_down(impl, err) ? FA_ESTORE :
	       fa_store_incr(fa_test_out_real(impl), kind, key, ttl_s, now, count, err);
}

static inline enum fa_rc fa_test_out_purge(void *impl, int64_t now, size_t limit,
					   size_t *deleted, struct fa_err *err)
{
	return fa_store_purge(fa_test_out_real(impl), now, limit, deleted, err);
}

static inline enum fa_rc fa_test_out_count(void *impl, const char *kind, int64_t now,
					   int64_t *n, struct fa_err *err)
{
	return fa_store_count(fa_test_out_real(impl), kind, now, n, err);
}

static inline enum fa_rc fa_test_out_ping(void *impl, struct fa_err *err)
{
	return fa_test_out_down(impl, err) ? FA_ESTORE :
	       fa_store_ping(fa_test_out_real(impl), err);
}

static inline void fa_test_out_free(void *impl)
{
	(void)impl;   /* the caller's */
}

static const struct fa_store_ops fa_test_outage_ops = {
	.name = "outage", .get = fa_test_out_get, .apply = fa_test_out_apply,
	.incr = fa_test_out_incr, .purge = fa_test_out_purge, .count = fa_test_out_count,
	.ping = fa_test_out_ping, .free = fa_test_out_free,
};

/* Wraps o->real (which stays the caller's); log gets the store's failure
 * lines. Free the result with fa_store_free. */
static inline struct fa_store *fa_test_outage_wrap(struct fa_test_outage *o,
						   const struct fa_log *log)
{
	struct fa_store *st = NULL;
	struct fa_err err;

	fa_err_clear(&err);
	if (fa_store_new(&fa_test_outage_ops, o, log, &st, &err) != FA_OK)
		fail_msg("outage store: %s", err.msg);
	return st;
}

#endif
