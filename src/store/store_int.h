/* store_int.h -- what the store's backends share (module-private; other
 * modules include store.h only): the argument records each operation hands
 * to a backend's transaction body, and the outcome of an op that changed
 * no row, with the exact messages store.h's callers and the conformance
 * suite see from either backend.
 */
#ifndef FA_STORE_INT_H
#define FA_STORE_INT_H

#include "store/store.h"

/* Arguments of one operation, passed through a backend's call wrapper to
 * its body (the body runs inside the wrapper's transaction and retries). */
struct fa_store_get_arg {
	const char *kind, *key;
	int64_t now;
	struct fa_store_rec *out;
};

struct fa_store_apply_arg {
	const struct fa_store_op *ops;
	size_t n;
	int64_t now;
};

struct fa_store_incr_arg {
	const char *kind, *key;
	int64_t ttl_s, now;
	int64_t *count;
};

struct fa_store_purge_arg {
	int64_t now;
	size_t limit;
	size_t *deleted;
};

struct fa_store_count_arg {
	const char *kind;
	int64_t now;
	int64_t *n;
};

/* "insert", "update" or "delete". */
const char *fa_store_op_name(enum fa_store_op_type t);

/* Op i changed no row. `live` says whether a live record is under its key
 * now (the backend's probe, asked in the op's own transaction; unused for
 * INSERT). Returns FA_EEXIST (insert), FA_ECONFLICT (another version),
 * FA_ENOTFOUND (absent), or FA_OK for a DELETE with if_exists of an
 * absent record. */
enum fa_rc fa_store_op_unchanged(const struct fa_store_op *op, size_t i, bool live,
				 struct fa_err *err);

/* Op i failed in the database: FA_ESTORE "store op <i> (<op> <kind>): why". */
enum fa_rc fa_store_op_failed(const struct fa_store_op *op, size_t i, const char *why,
			      struct fa_err *err);

#endif
