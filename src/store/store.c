/* store.c -- the generic layer of the record store: validates every
 * argument (kind, key, value, times, op shapes) against the rules in
 * store.h and then dispatches to the backend through struct fa_store_ops.
 *
 * It holds no SQL. Backends trust what reaches them, so every rule lives
 * here once and both backends behave the same on bad input. Values are
 * checked to be strict UTF-8 without NUL so that a value one backend takes
 * can always move to the other.
 *
 * Its one piece of state is the health of the database: a failing database
 * (FA_ESTORE) is logged here, once when failures start, at most once a
 * minute while they last (with how many calls failed meanwhile), and once
 * when a call works again. A database that is down fails every request;
 * logging each of those would bury the one line that says why.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

/* How often a lasting failure is logged again. */
#define STORE_FAIL_LOG_MS 60000

struct fa_store {
	const struct fa_store_ops *ops;
	void *impl;
	const struct fa_log *log;
	/* Read without the lock on every call, so that a healthy store never
	 * takes it. */
	atomic_bool failing;
	pthread_mutex_t mu;          /* guards the three below */
	int64_t failing_since_ms;
	int64_t logged_ms;
	uint64_t failed_calls;       /* since the last line about them */
	struct fa_metrics *metrics;  /* borrowed; NULL: calls are not timed */
};

enum fa_rc fa_store_new(const struct fa_store_ops *ops, void *impl,
			const struct fa_log *log, struct fa_store **out,
			struct fa_err *err)
{
	struct fa_store *st = NULL;
	enum fa_rc rc = FA_OK;

	if (out)
		*out = NULL;
	if (!ops || !ops->name || !ops->get || !ops->apply || !ops->incr ||
	    !ops->purge || !ops->count || !ops->ping || !ops->free || !out) {
		rc = fa_err_set(err, FA_EINVAL, "store: incomplete backend");
		goto out;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		rc = fa_err_set(err, FA_ENOMEM, "store: out of memory");
		goto out;
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		FA_FREE(st);
		rc = fa_err_set(err, FA_ENOMEM, "store: cannot create a lock");
		goto out;
	}
	atomic_init(&st->failing, false);
	st->ops = ops;
	st->impl = impl;
	st->log = log;
	impl = NULL;
	*out = st;
out:
	if (impl && ops && ops->free)
		ops->free(impl);
	return rc;
}

void fa_store_free(struct fa_store *st)
{
	if (!st)
		return;
	st->ops->free(st->impl);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

void fa_store_set_metrics(struct fa_store *st, struct fa_metrics *m)
{
	if (st)
		st->metrics = m;
}

/* Called after every backend call (begun at t0_us) with its result. */
static enum fa_rc health(struct fa_store *st, enum fa_metrics_store_op op, int64_t t0_us,
			 enum fa_rc rc, const struct fa_err *err)
{
	const char *why = err && err->msg[0] ? err->msg : fa_rc_str(rc);
	int64_t now;

	if (st->metrics)
		fa_metrics_store(st->metrics, op, fa_mono_us() - t0_us);
	if (rc != FA_ESTORE && !atomic_load_explicit(&st->failing, memory_order_relaxed))
		return rc;
	pthread_mutex_lock(&st->mu);
	now = fa_mono_ms();
	if (rc == FA_ESTORE && !atomic_load(&st->failing)) {
		fa_log(st->log, FA_LOG_ERROR, "store (%s) failed: %s; requests that need it "
		       "answer 503 until it works again", st->ops->name, why);
		atomic_store(&st->failing, true);
		st->failing_since_ms = st->logged_ms = now;
		st->failed_calls = 0;
	} else if (rc == FA_ESTORE) {
		st->failed_calls++;
		if (now - st->logged_ms >= STORE_FAIL_LOG_MS) {
			fa_log(st->log, FA_LOG_ERROR, "store (%s) still failing after %lld s "
			       "(%llu more failed calls): %s", st->ops->name,
			       (long long)((now - st->failing_since_ms) / 1000),
			       (unsigned long long)st->failed_calls, why);
			st->logged_ms = now;
			st->failed_calls = 0;
		}
	} else if (atomic_load(&st->failing)) {
		fa_log(st->log, FA_LOG_WARN, "store (%s) works again after %lld s of failures",
		       st->ops->name, (long long)((now - st->failing_since_ms) / 1000));
		atomic_store(&st->failing, false);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

const char *fa_store_backend_name(const struct fa_store *st)
{
	return st ? st->ops->name : "none";
}

void fa_store_rec_cleanup(struct fa_store_rec *rec)
{
	if (!rec)
		return;
	if (rec->value) {
		fa_memzero(rec->value, rec->len);
		free(rec->value);
	}
	memset(rec, 0, sizeof(*rec));
}

/* ---- what backends share ----------------------------------------------------- */

const char *fa_store_op_name(enum fa_store_op_type t)
{
	switch (t) {
	case FA_STORE_INSERT: return "insert";
	case FA_STORE_UPDATE: return "update";
	case FA_STORE_DELETE: return "delete";
	}
	return "?";
}

enum fa_rc fa_store_op_unchanged(const struct fa_store_op *op, size_t i, bool live,
				 struct fa_err *err)
{
	if (op->type == FA_STORE_INSERT)
		return fa_err_set(err, FA_EEXIST, "store op %zu (insert %s): a live record exists",
				  i, op->kind);
	if (live)
		return fa_err_set(err, FA_ECONFLICT, "store op %zu (%s %s): version conflict", i,
				  fa_store_op_name(op->type), op->kind);
	if (op->type == FA_STORE_DELETE && op->if_exists)
		return FA_OK;
	return fa_err_set(err, FA_ENOTFOUND, "store op %zu (%s %s): no live record", i,
			  fa_store_op_name(op->type), op->kind);
}

enum fa_rc fa_store_op_failed(const struct fa_store_op *op, size_t i, const char *why,
			      struct fa_err *err)
{
	return fa_err_set(err, FA_ESTORE, "store op %zu (%s %s): %s", i,
			  fa_store_op_name(op->type), op->kind, why);
}

/* ---- validation ------------------------------------------------------------ */

/* `what` names the call or op in messages ("store get", "store op 2"). */

static enum fa_rc check_kind(const char *what, const char *kind, struct fa_err *err)
{
	size_t n = kind ? strnlen(kind, FA_STORE_MAX_KIND + 1) : 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = kind[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			break;
	}
	if (n == 0 || n > FA_STORE_MAX_KIND || i != n)
		return fa_err_set(err, FA_EINVAL,
				  "%s: kind must be 1-%d characters of [a-z0-9_]",
				  what, FA_STORE_MAX_KIND);
	return FA_OK;
}

/* The key is usually a token hash: messages say where it is wrong, never
 * what it holds. */
static enum fa_rc check_key(const char *what, const char *key, struct fa_err *err)
{
	size_t n, i;

	if (!key)
		return fa_err_set(err, FA_EINVAL, "%s: key is missing", what);
	n = strnlen(key, FA_STORE_MAX_KEY + 1);
	if (n == 0)
		return fa_err_set(err, FA_EINVAL, "%s: key is empty", what);
	if (n > FA_STORE_MAX_KEY)
		return fa_err_set(err, FA_ETOOBIG, "%s: key is over %d bytes", what,
				  FA_STORE_MAX_KEY);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c < 0x21 || c > 0x7e)
			return fa_err_set(err, FA_EINVAL,
					  "%s: key byte %zu is not printable ASCII", what, i);
	}
	return FA_OK;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL never gets here (the value is a C string). Returns the
 * offset of the first bad byte, or n if all is well. */
static size_t utf8_bad_at(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t more, k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return i;
		}
		if (n - i <= more)
			return i;
		for (k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += more + 1;
	}
	return n;
}

static enum fa_rc check_value(const char *what, const char *value, struct fa_err *err)
{
	size_t n, bad;

	if (!value)
		return fa_err_set(err, FA_EINVAL, "%s: value is missing", what);
	n = strnlen(value, FA_MAX_STORE_VALUE + 1);
	if (n > FA_MAX_STORE_VALUE)
		return fa_err_set(err, FA_ETOOBIG, "%s: value is over %d bytes", what,
				  FA_MAX_STORE_VALUE);
	bad = utf8_bad_at((const unsigned char *)value, n);
	if (bad != n)
		return fa_err_set(err, FA_EINVAL, "%s: value is not valid UTF-8 (byte %zu)",
				  what, bad);
	return FA_OK;
}

static enum fa_rc check_now(const char *what, int64_t now, struct fa_err *err)
{
	if (now < 0 || now > FA_STORE_MAX_TIME)
		return fa_err_set(err, FA_EINVAL, "%s: now is out of range", what);
	return FA_OK;
}

/* A record that is born expired would be invisible: that is a caller bug
 * (often a lifetime of 0 from config), so it is refused, not stored. */
static enum fa_rc check_expiry(const char *what, int64_t expires_at, int64_t now,
			       struct fa_err *err)
{
	if (expires_at <= now)
		return fa_err_set(err, FA_EINVAL, "%s: expires_at must be after now", what);
	if (expires_at - now > FA_STORE_MAX_TTL_S)
		return fa_err_set(err, FA_ETOOBIG, "%s: lifetime is over %lld seconds",
				  what, (long long)FA_STORE_MAX_TTL_S);
	return FA_OK;
}

static enum fa_rc check_op(const struct fa_store_op *op, size_t i, int64_t now,
			   struct fa_err *err)
{
	char what[32];
	enum fa_rc rc;

	snprintf(what, sizeof(what), "store op %zu", i);
	if (op->type != FA_STORE_INSERT && op->type != FA_STORE_UPDATE &&
	    op->type != FA_STORE_DELETE)
		return fa_err_set(err, FA_EINVAL, "%s: unknown op type %d", what, (int)op->type);
	if ((rc = check_kind(what, op->kind, err)) != FA_OK ||
	    (rc = check_key(what, op->key, err)) != FA_OK)
		return rc;
	if (op->expect_version < 0)
		return fa_err_set(err, FA_EINVAL, "%s: expect_version is negative", what);
	if (op->type != FA_STORE_DELETE && op->if_exists)
		return fa_err_set(err, FA_EINVAL, "%s: if_exists is for delete only", what);
	if (op->type == FA_STORE_INSERT && op->expect_version != 0)
		return fa_err_set(err, FA_EINVAL, "%s: insert takes no expect_version", what);
	if (op->type == FA_STORE_DELETE) {
		if (op->value || op->expires_at != 0)
			return fa_err_set(err, FA_EINVAL,
					  "%s: delete takes no value or expires_at", what);
		return FA_OK;
	}
	if ((rc = check_value(what, op->value, err)) != FA_OK)
		return rc;
	return check_expiry(what, op->expires_at, now, err);
}

/* ---- dispatch --------------------------------------------------------------- */

/* Each call fills a local error record when the caller passed none: the
 * health log needs the backend's message either way. */

enum fa_rc fa_store_get(struct fa_store *st, const char *kind, const char *key,
			int64_t now, struct fa_store_rec *out, struct fa_err *err)
{
	struct fa_err own;
	int64_t t0;
	enum fa_rc rc;

	if (!err)
		err = &own;
	fa_err_clear(err);
	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !out)
		return fa_err_set(err, FA_EINVAL, "store get: no store or output");
	if ((rc = check_kind("store get", kind, err)) != FA_OK ||
	    (rc = check_key("store get", key, err)) != FA_OK ||
	    (rc = check_now("store get", now, err)) != FA_OK)
		return rc;
	t0 = fa_mono_us();
	rc = st->ops->get(st->impl, kind, key, now, out, err);
	rc = health(st, FA_MS_GET, t0, rc, err);
	if (rc != FA_OK)
		fa_store_rec_cleanup(out);
	return rc;
}

enum fa_rc fa_store_apply(struct fa_store *st, const struct fa_store_op *ops,
			  size_t n, int64_t now, struct fa_err *err)
{
	struct fa_err own;
	int64_t t0;
	enum fa_rc rc;
	size_t i;

	if (!err)
		err = &own;
	fa_err_clear(err);
	if (!st || (n > 0 && !ops))
		return fa_err_set(err, FA_EINVAL, "store apply: no store or ops");
	if (n > FA_STORE_MAX_OPS)
		return fa_err_set(err, FA_ETOOBIG, "store apply: %zu ops, over %d", n,
				  FA_STORE_MAX_OPS);
	if ((rc = check_now("store apply", now, err)) != FA_OK)
		return rc;
	if (n == 0)
		return FA_OK;
	/* Validate everything first: a bad op 3 must not leave ops 0-2 half
	 * applied, and the backend must never see an unchecked op. */
	for (i = 0; i < n; i++)
		if ((rc = check_op(&ops[i], i, now, err)) != FA_OK)
			return rc;
	t0 = fa_mono_us();
	rc = st->ops->apply(st->impl, ops, n, now, err);
	return health(st, FA_MS_APPLY, t0, rc, err);
}

enum fa_rc fa_store_incr(struct fa_store *st, const char *kind, const char *key,
			 int64_t ttl_s, int64_t now, int64_t *count, struct fa_err *err)
{
	struct fa_err own;
	int64_t t0;
	enum fa_rc rc;

	if (!err)
		err = &own;
	fa_err_clear(err);
	if (count)
		*count = 0;
	if (!st || !count)
		return fa_err_set(err, FA_EINVAL, "store incr: no store or output");
	if ((rc = check_kind("store incr", kind, err)) != FA_OK ||
	    (rc = check_key("store incr", key, err)) != FA_OK ||
	    (rc = check_now("store incr", now, err)) != FA_OK)
		return rc;
	if (ttl_s <= 0)
		return fa_err_set(err, FA_EINVAL, "store incr: ttl must be positive");
	if (ttl_s > FA_STORE_MAX_TTL_S)
		return fa_err_set(err, FA_ETOOBIG, "store incr: ttl is over %lld seconds",
				  (long long)FA_STORE_MAX_TTL_S);
	t0 = fa_mono_us();
	rc = st->ops->incr(st->impl, kind, key, ttl_s, now, count, err);
	return health(st, FA_MS_INCR, t0, rc, err);
}

enum fa_rc fa_store_counter_get(struct fa_store *st, const char *kind, const char *key,
				int64_t now, int64_t *count, int64_t *reset_in, struct fa_err *err)
{
	struct fa_store_rec rec;
	uint64_t v = 0;
	enum fa_rc rc;

	*count = 0;
	*reset_in = 0;
	rc = fa_store_get(st, kind, key, now, &rec, err);
	if (rc == FA_ENOTFOUND) {
		fa_err_clear(err);
		return FA_OK;
	}
	if (rc != FA_OK)
		return rc;
	if (fa_parse_u64(rec.value, rec.len, INT64_MAX, &v) != FA_OK)
		v = (uint64_t)rec.version;
	*count = (int64_t)v;
	*reset_in = rec.expires_at - now;
	fa_store_rec_cleanup(&rec);
	return FA_OK;
}

enum fa_rc fa_store_purge(struct fa_store *st, int64_t now, size_t limit,
			  size_t *deleted, struct fa_err *err)
{
	struct fa_err own;
	int64_t t0;
	enum fa_rc rc;

	if (!err)
		err = &own;
	fa_err_clear(err);
	if (deleted)
		*deleted = 0;
	if (!st || !deleted)
		return fa_err_set(err, FA_EINVAL, "store purge: no store or output");
	if ((rc = check_now("store purge", now, err)) != FA_OK)
		return rc;
	if (limit == 0)
		return fa_err_set(err, FA_EINVAL, "store purge: limit must be positive");
	if (limit > FA_STORE_MAX_PURGE)
		return fa_err_set(err, FA_ETOOBIG, "store purge: limit is over %d",
				  FA_STORE_MAX_PURGE);
	t0 = fa_mono_us();
	rc = st->ops->purge(st->impl, now, limit, deleted, err);
	return health(st, FA_MS_PURGE, t0, rc, err);
}

enum fa_rc fa_store_purge_all(struct fa_store *st, int64_t now, size_t batch, size_t *deleted,
			      struct fa_err *err)
{
	size_t n = 0;
	enum fa_rc rc;

	if (deleted)
		*deleted = 0;
	if (!deleted)
		return fa_err_set(err, FA_EINVAL, "store purge: no output");
	/* Each batch is its own short transaction, so requests interleave
	 * with a long purge; it ends when a batch is not full. */
	do {
		rc = fa_store_purge(st, now, batch, &n, err);
		if (rc != FA_OK)
			return rc;
		*deleted += n;
	} while (n == batch);
	return FA_OK;
}

enum fa_rc fa_store_count(struct fa_store *st, const char *kind, int64_t now,
			  int64_t *n, struct fa_err *err)
{
	struct fa_err own;
	int64_t t0;
	enum fa_rc rc;

	if (!err)
		err = &own;
	fa_err_clear(err);
	if (n)
		*n = 0;
	if (!st || !n)
		return fa_err_set(err, FA_EINVAL, "store count: no store or output");
	if ((rc = check_kind("store count", kind, err)) != FA_OK ||
	    (rc = check_now("store count", now, err)) != FA_OK)
		return rc;
	t0 = fa_mono_us();
	rc = st->ops->count(st->impl, kind, now, n, err);
	return health(st, FA_MS_COUNT, t0, rc, err);
}

bool fa_store_unavailable(const struct fa_err *err)
{
	return err && err->rc == FA_ESTORE &&
	       (!err->oauth_error || strcmp(err->oauth_error, "temporarily_unavailable") == 0);
}

enum fa_rc fa_store_ping(struct fa_store *st, struct fa_err *err)
{
	struct fa_err own;
	int64_t t0;
	enum fa_rc rc;

	if (!err)
		err = &own;
	fa_err_clear(err);
	if (!st)
		return fa_err_set(err, FA_EINVAL, "store ping: no store");
	t0 = fa_mono_us();
	rc = st->ops->ping(st->impl, err);
	return health(st, FA_MS_PING, t0, rc, err);
}
