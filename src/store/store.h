/* store.h -- the server's short-lived state as a small generic record store:
 * (kind, key) -> value with an expiry and a version, read one record at a
 * time and written in all-or-nothing batches.
 *
 * It holds authorization codes, refresh tokens and their families, device
 * codes, login sessions, revoked token ids and login-throttle counters, but
 * knows nothing of them: the OAuth rules live once above it (authz,
 * identity), and each backend (SQLite for one server, PostgreSQL for
 * several instances sharing one database) stays small.
 * It never sees a raw token (keys are normally hex SHA-256 of one), never
 * interprets a value, and never logs a key or a value.
 *
 * One struct fa_store may be used from many threads at once (each backend
 * keeps a pool of connections; a call waits when all are busy).
 *
 * FA_ESTORE from any call means the database failed or cannot be reached
 * (down, restarting, refusing us): an apply that returns it wrote nothing
 * (except when the answer to its COMMIT was lost, which no client of any
 * database can tell apart), and callers answer 503 temporarily_unavailable.
 * The store logs such failures itself, once when they start, at most once
 * a minute while they last, and once when the database works again, so
 * callers need not (and must not, per request) log them.
 *
 * Invariants
 *  (1) A record at or past its expires_at is absent for every operation:
 *      get and count skip it, INSERT replaces it, UPDATE and DELETE answer
 *      FA_ENOTFOUND. purge only reclaims space; nothing depends on it.
 *  (2) apply is atomic: every op of the batch takes effect, or none does.
 *      On failure err->msg names the index of the op that failed.
 *  (3) Of concurrent callers doing the same version-checked UPDATE or DELETE
 *      (same expect_version), exactly one gets FA_OK; the others get
 *      FA_ECONFLICT (or FA_ENOTFOUND once the winner deleted it). This is
 *      what makes codes single-use and refresh rotation race-free.
 *  (4) version is 1 when a record is inserted and grows by exactly 1 with
 *      every update, so (kind, key, version) names one state of a record
 *      within one lifetime. A record inserted again after it expired starts
 *      over at 1: keys must not be reused across lifetimes for version checks
 *      to mean anything (hashes of fresh 256-bit tokens never are).
 *  (5) incr is atomic: N concurrent incr calls on one live counter raise it
 *      by exactly N.
 *  (6) Nothing reaches a backend unvalidated: kind, key, value, times and op
 *      shapes are checked here (store.c), and bad input changes nothing.
 *  (7) Every backend keeps (1)-(6) with several processes on one database
 *      (the SQLite file's lock; PostgreSQL transactions), so a record
 *      written by one server instance is seen, versioned and raced exactly
 *      as by another.
 *
 * States of one record and the calls that move it:
 *    ABSENT   -> LIVE(1)    [fa_store_apply INSERT, fa_store_incr]
 *    EXPIRED  -> LIVE(1)    [fa_store_apply INSERT, fa_store_incr]
 *    LIVE(v)  -> LIVE(v+1)  [fa_store_apply UPDATE (expect_version 0 or v),
 *                            fa_store_incr]
 *    LIVE(v)  -> ABSENT     [fa_store_apply DELETE (expect_version 0 or v)]
 *    LIVE(v)  -> EXPIRED    [time: now >= expires_at]
 *    EXPIRED  -> ABSENT     [fa_store_purge]
 */
#ifndef FA_STORE_H
#define FA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Caps of the store (limits.h has FA_MAX_STORE_VALUE for values).
 * kind: a short name chosen by code ("code", "rt", "session"), never input. */
#define FA_STORE_MAX_KIND 32
/* key: a hex SHA-256 is 64 chars; 128 leaves room for a prefix such as
 * "ip:" or a client id, and keeps index entries small. */
#define FA_STORE_MAX_KEY 128
/* Ops in one apply: it is one short transaction. The largest OAuth step
 * (code redemption) needs a handful; a bigger batch is a design error that
 * would hold the write lock too long. */
#define FA_STORE_MAX_OPS 256
/* Records deleted by one purge call: a bounded batch (~tens of ms in SQLite)
 * so a large backlog is drained in steps and never stalls token requests. */
#define FA_STORE_MAX_PURGE 10000
/* Longest lifetime of a record or counter (limits.h says why). */
#define FA_STORE_MAX_TTL_S FA_MAX_LIFETIME_S
/* Largest `now` accepted (9999-12-31T23:59:59Z): keeps now + ttl far from
 * int64 overflow in every backend. */
#define FA_STORE_MAX_TIME 253402300799LL

struct fa_store;

/* One record as read by fa_store_get. `value` is malloc'd, NUL-terminated,
 * `len` bytes long (not counting the NUL); release with
 * fa_store_rec_cleanup. */
struct fa_store_rec {
	char *value;
	size_t len;
	int64_t expires_at;   /* unix seconds; > the `now` of the read */
	int64_t version;      /* >= 1 */
};

enum fa_store_op_type {
	FA_STORE_INSERT = 1,  /* FA_EEXIST if a live record exists */
	FA_STORE_UPDATE = 2,  /* FA_ENOTFOUND if absent, FA_ECONFLICT on version */
	FA_STORE_DELETE = 3,  /* FA_ENOTFOUND if absent (unless if_exists),
			       * FA_ECONFLICT on version */
};

/* One write of an apply batch. All pointers are borrowed for the call.
 *  kind           [a-z0-9_]{1,32}
 *  key            1..FA_STORE_MAX_KEY bytes of printable ASCII (0x21-0x7e);
 *                 hash or encode anything else first
 *  value          INSERT/UPDATE: NUL-terminated UTF-8 (no NUL inside, no
 *                 overlong forms or surrogates), at most FA_MAX_STORE_VALUE
 *                 bytes; "" is allowed. DELETE: must be NULL.
 *  expires_at     INSERT/UPDATE: unix seconds, now < expires_at <=
 *                 now + FA_STORE_MAX_TTL_S. DELETE: must be 0.
 *  expect_version UPDATE/DELETE: 0 = any version; > 0 = must equal the
 *                 current version. INSERT: must be 0.
 *  if_exists      DELETE only: a missing record is not an error. */
struct fa_store_op {
	enum fa_store_op_type type;
	const char *kind;
	const char *key;
	const char *value;
	int64_t expires_at;
	int64_t expect_version;
	bool if_exists;
};

/* ---- opening and closing ---------------------------------------------- */

/* Opens (creating it with mode 0600 if missing) the SQLite database at
 * `path` and brings its schema up to date in one transaction. `path` is a
 * plain file name (no "file:" URIs); ":memory:" and "" are refused because
 * every connection of the pool must see the same database -- tests use a
 * temp file. A database whose schema is newer than this build knows is
 * refused with FA_EUNSUPPORTED. `log` is borrowed and must outlive the store
 * (NULL: log to stderr). On success *out is a store to release with
 * fa_store_free; on failure *out is NULL.
 * A file at user_version 0 that already has tables is some other program's
 * database and is refused too; a refused file is left unchanged.
 * Errors: FA_EINVAL/FA_ETOOBIG (path), FA_EIO (file), FA_EUNSUPPORTED (newer
 * schema, foreign database), FA_ESTORE (SQLite, not a database), FA_ENOMEM. */
enum fa_rc fa_store_open_sqlite(const char *path, const struct fa_log *log,
				struct fa_store **out, struct fa_err *err) FA_WUR;

/* PostgreSQL connection settings: flyteadmin's database.postgres keys.
 * Strings are borrowed for the call; NULL or "" leaves a setting to libpq
 * (its environment variables and defaults). */
struct fa_store_pg_opts {
	const char *host;           /* name, address, or a unix socket directory */
	int port;                   /* 0: libpq's default; else 1..65535 */
	const char *dbname;
	const char *user;
	const char *password;       /* used when password_path is not set */
	/* A file holding the password (a mounted secret); read once at open,
	 * surrounding whitespace trimmed, at most FA_STORE_PG_MAX_PASSWORD
	 * bytes. It wins over `password`. */
	const char *password_path;
	/* More libpq keyword=value pairs or a postgresql:// URI, e.g.
	 * "sslmode=require". A keyword given here overrides the same setting
	 * above and flyteauth's defaults (connect_timeout=5, TCP keepalives,
	 * application_name=flyteauth), as flyteadmin appends it to its DSN. */
	const char *options;
	/* Connections: one per server thread, plus one for the purge loop.
	 * 0: FA_STORE_PG_DEFAULT_POOL; at most FA_STORE_PG_MAX_POOL. */
	unsigned pool_size;
};

/* A password file's size cap: generated passwords are tens of bytes. */
#define FA_STORE_PG_MAX_PASSWORD 1024
/* Any other setting (host, dbname, user, password): libpq has no limit, and
 * a kilobyte is far beyond any real one. */
#define FA_STORE_PG_MAX_SETTING 1024
/* The options string (several keyword=value pairs). */
#define FA_STORE_PG_MAX_OPTIONS 4096
/* Connections of one store: the HTTP layer's most threads (64) plus the
 * purge loop. */
#define FA_STORE_PG_MAX_POOL 65
#define FA_STORE_PG_DEFAULT_POOL 8

/* Connects to PostgreSQL and brings flyteauth's two tables
 * (flyteauth_records, flyteauth_schema) up to date in one transaction under
 * an advisory lock, so that several instances starting at once migrate
 * once; the others wait for it and find the schema current. The database
 * may hold other programs' tables (flyteadmin's): flyteauth's are
 * prefixed. Nothing is ever logged of the password. `log` as for SQLite.
 * On success *out is a store to release with fa_store_free.
 * Errors: FA_EINVAL/FA_ETOOBIG (a setting; the options string is not
 * libpq's syntax), FA_ENOTFOUND/FA_EIO (the password file), FA_EUNSUPPORTED
 * (a newer schema), FA_ESTORE (cannot connect, not allowed to create the
 * tables), FA_ENOMEM. */
enum fa_rc fa_store_open_postgres(const struct fa_store_pg_opts *opts,
				  const struct fa_log *log, struct fa_store **out,
				  struct fa_err *err) FA_WUR;

/* Closes every connection and frees the store. NULL is a no-op. No call on
 * the store may be running or follow. */
void fa_store_free(struct fa_store *st);
/* Times every store call from now on into m's latency histograms
 * (borrowed; must outlive the store; NULL stops). Before the store is
 * shared between threads. */
void fa_store_set_metrics(struct fa_store *st, struct fa_metrics *m);

/* Static name of the backend ("sqlite", "postgres"), for logs and
 * metrics; never NULL. */
const char *fa_store_backend_name(const struct fa_store *st);

/* ---- records ------------------------------------------------------------ */

/* Reads the live record (kind, key) at time `now` into *out (zeroed first,
 * so fa_store_rec_cleanup is always safe). FA_ENOTFOUND if it is absent or
 * expired. Errors: FA_EINVAL/FA_ETOOBIG (arguments), FA_ENOTFOUND,
 * FA_ESTORE, FA_ENOMEM. */
enum fa_rc fa_store_get(struct fa_store *st, const char *kind, const char *key,
			int64_t now, struct fa_store_rec *out,
			struct fa_err *err) FA_WUR;

/* Zeroes and frees out->value and zeroes *out. NULL is a no-op. */
void fa_store_rec_cleanup(struct fa_store_rec *rec);

/* Applies ops[0..n) in order, in one transaction, at time `now`: all or
 * nothing (invariant 2). Later ops see the effect of earlier ones (INSERT
 * then UPDATE of the same key works). n == 0 is a no-op. Every op is
 * validated before anything is written. When an op fails (validation,
 * version, database), err->msg starts with "store op <index>". Errors: FA_EINVAL/FA_ETOOBIG (an op), FA_EEXIST,
 * FA_ENOTFOUND, FA_ECONFLICT, FA_ESTORE, FA_ENOMEM. */
enum fa_rc fa_store_apply(struct fa_store *st, const struct fa_store_op *ops,
			  size_t n, int64_t now, struct fa_err *err) FA_WUR;

/* Atomic counter (for throttling): if (kind, key) is absent or expired it
 * becomes a counter at 1 expiring at now + ttl_s; a live one is raised by 1
 * and keeps its expiry, so a window is fixed from its first hit. *count gets
 * the new value. A counter's value is its decimal count and its version
 * equals the count; incr on a live non-counter record overwrites its value.
 * ttl_s in 1..FA_STORE_MAX_TTL_S. Errors: FA_EINVAL/FA_ETOOBIG, FA_ESTORE. */
enum fa_rc fa_store_incr(struct fa_store *st, const char *kind, const char *key,
			 int64_t ttl_s, int64_t now, int64_t *count,
			 struct fa_err *err) FA_WUR;

/* Reads a counter made by fa_store_incr: *count its value and *reset_in
 * the seconds until its window ends; both 0 when it is absent or expired.
 * A record whose value is not a decimal count is read by its version (the
 * two are equal for a counter). Errors as fa_store_get, but never
 * FA_ENOTFOUND. */
enum fa_rc fa_store_counter_get(struct fa_store *st, const char *kind, const char *key,
				int64_t now, int64_t *count, int64_t *reset_in,
				struct fa_err *err) FA_WUR;

/* Deletes at most `limit` (1..FA_STORE_MAX_PURGE) records expired at `now`,
 * oldest expiry first; *deleted gets how many. Call it periodically and again
 * while *deleted == limit. Errors: FA_EINVAL/FA_ETOOBIG, FA_ESTORE. */
enum fa_rc fa_store_purge(struct fa_store *st, int64_t now, size_t limit,
			  size_t *deleted, struct fa_err *err) FA_WUR;

/* fa_store_purge in batches of `batch` until a batch is not full: every
 * record expired at `now` is gone, however large the backlog (records
 * expiring meanwhile wait for the next call). *deleted: the total. Errors
 * as fa_store_purge (what earlier batches deleted stays deleted). */
enum fa_rc fa_store_purge_all(struct fa_store *st, int64_t now, size_t batch, size_t *deleted,
			      struct fa_err *err) FA_WUR;

/* Number of live records of `kind` at `now` (tests, metrics, the pending
 * caps of authz). */
enum fa_rc fa_store_count(struct fa_store *st, const char *kind, int64_t now,
			  int64_t *n, struct fa_err *err) FA_WUR;

/* true when err holds the store's own failure: FA_ESTORE with no OAuth
 * error, or the temporarily_unavailable a layer above already mapped it
 * to. Layers that find a stored record damaged say FA_ESTORE with
 * server_error instead, so that an outage (retry later) and corrupt data
 * (a bug) stay apart. */
bool fa_store_unavailable(const struct fa_err *err);

/* Readiness: one round trip to the database (a trivial query on a pooled
 * connection). FA_OK when the store can serve requests now; FA_ESTORE
 * otherwise. While the database is down this answers at once (the backend
 * tries to reconnect at most about once a second), so a load balancer may
 * call it as often as it likes; the call after the database is back
 * reconnects: no restart is needed. */
enum fa_rc fa_store_ping(struct fa_store *st, struct fa_err *err) FA_WUR;

/* ---- backend interface ------------------------------------------------- */

/* What a backend implements. The generic layer (store.c) has validated every
 * argument before a function is called: kind/key/value/times are within the
 * rules above, out-pointers are non-NULL, 1 <= n <= FA_STORE_MAX_OPS. Each
 * call must be one short transaction (or one atomic statement), must be safe
 * to call from several threads at once, and must fill err on failure
 * (FA_ESTORE for the database itself, with no key or value in the message).
 * Test doubles (fault injection in authz tests) implement it too. */
struct fa_store_ops {
	const char *name;
	enum fa_rc (*get)(void *impl, const char *kind, const char *key,
			  int64_t now, struct fa_store_rec *out,
			  struct fa_err *err);
	enum fa_rc (*apply)(void *impl, const struct fa_store_op *ops, size_t n,
			    int64_t now, struct fa_err *err);
	enum fa_rc (*incr)(void *impl, const char *kind, const char *key,
			   int64_t ttl_s, int64_t now, int64_t *count,
			   struct fa_err *err);
	enum fa_rc (*purge)(void *impl, int64_t now, size_t limit,
			    size_t *deleted, struct fa_err *err);
	enum fa_rc (*count)(void *impl, const char *kind, int64_t now,
			    int64_t *n, struct fa_err *err);
	enum fa_rc (*ping)(void *impl, struct fa_err *err);
	void (*free)(void *impl);   /* must accept what the opener made */
};

/* Wraps a backend in a store. `ops` is borrowed (a static table with every
 * function set); `impl` moves to the store, which releases it with
 * ops->free -- also when this call fails. `log` (borrowed, must outlive the
 * store; NULL: stderr) gets the store's failure and recovery lines.
 * Errors: FA_EINVAL, FA_ENOMEM. */
enum fa_rc fa_store_new(const struct fa_store_ops *ops, void *impl,
			const struct fa_log *log, struct fa_store **out,
			struct fa_err *err) FA_WUR;

#endif
