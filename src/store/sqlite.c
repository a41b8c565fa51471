/* sqlite.c -- the SQLite backend of the record store: one `records` table
 * in a WAL-mode database file, a small pool of connections with cached
 * prepared statements, and schema migrations versioned in code.
 *
 * It trusts the generic layer (store.c) to have validated every argument and
 * knows nothing of OAuth. Concurrency: readers never wait (WAL gives each
 * statement a snapshot); writers in this process take a mutex before
 * BEGIN IMMEDIATE, so they queue on a condition the kernel wakes rather than
 * on SQLite's sleeping busy handler, which only arbitrates against other
 * processes (a second server, the CLI) and is bounded by SQ_BUSY_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"

/* Connections: one per server thread (the HTTP pool has 2-8), so a request
 * never waits for a connection in normal operation. */
#define SQ_POOL 8
/* How long a write waits for another process holding the write lock before
 * failing with FA_ESTORE: long enough for any short transaction, short
 * enough that a stuck peer surfaces as an error, not a hung request. */
#define SQ_BUSY_MS 5000
/* A database path; PATH_MAX on Linux. */
#define SQ_MAX_PATH 4096

/* Schema steps, applied in order inside one transaction; PRAGMA
 * user_version records how many ran. Append only: a shipped step is never
 * edited, a change is a new step. STRICT keeps a bug from storing an integer
 * where text belongs; the expires_at index makes purge a range scan. */
static const char *const sq_migrations[] = {
	/* 1 */
	"CREATE TABLE records ("
	" kind TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" PRIMARY KEY (kind, key)) STRICT;"
	"CREATE INDEX records_expires_at ON records (expires_at);",
};

enum sq_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_GET,
	ST_INSERT,
	ST_UPDATE,
	ST_DELETE,
	ST_PROBE,
	ST_INCR,
	ST_PURGE,
	ST_COUNT,
	ST_PING,
	ST_N
};

/* Every statement the backend runs after open; prepared once per
 * connection. "Expired" is expires_at <= now everywhere (invariant 1). */
static const char *const sq_sql[ST_N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_GET] = "SELECT value, expires_at, version FROM records"
		   " WHERE kind = ?1 AND key = ?2 AND expires_at > ?3",
	/* An expired record under the same key is replaced; a live one is
	 * left alone and changes() == 0 reports FA_EEXIST. */
	[ST_INSERT] = "INSERT INTO records (kind, key, value, expires_at, version)"
		      " VALUES (?1, ?2, ?3, ?4, 1)"
		      " ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value,"
		      " expires_at = excluded.expires_at, version = 1"
		      " WHERE records.expires_at <= ?5",
	[ST_UPDATE] = "UPDATE records SET value = ?3, expires_at = ?4, version = version + 1"
		      " WHERE kind = ?1 AND key = ?2 AND expires_at > ?5"
		      " AND (?6 = 0 OR version = ?6)",
	[ST_DELETE] = "DELETE FROM records"
		      " WHERE kind = ?1 AND key = ?2 AND expires_at > ?3"
		      " AND (?4 = 0 OR version = ?4)",
	/* After an UPDATE/DELETE changed nothing: absent, or another version? */
	[ST_PROBE] = "SELECT version FROM records"
		     " WHERE kind = ?1 AND key = ?2 AND expires_at > ?3",
	/* One statement, so the count is exact under any concurrency. SET
	 * expressions see the row as it was before this update. */
	[ST_INCR] = "INSERT INTO records (kind, key, value, expires_at, version)"
		    " VALUES (?1, ?2, '1', ?3 + ?4, 1)"
		    " ON CONFLICT (kind, key) DO UPDATE SET"
		    " value = CASE WHEN expires_at > ?3 THEN CAST(version + 1 AS TEXT) ELSE '1' END,"
		    " expires_at = CASE WHEN expires_at > ?3 THEN expires_at"
		    " ELSE excluded.expires_at END,"
		    " version = CASE WHEN expires_at > ?3 THEN version + 1 ELSE 1 END"
		    " RETURNING version",
	[ST_PURGE] = "DELETE FROM records WHERE rowid IN (SELECT rowid FROM records"
		     " WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
	[ST_COUNT] = "SELECT count(*) FROM records WHERE kind = ?1 AND expires_at > ?2",
	/* Readiness: the file is open and its table readable. */
	[ST_PING] = "SELECT 1 FROM records LIMIT 1",
};

struct sq_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_N];
	bool busy;              /* the last failure was SQLITE_BUSY/LOCKED */
};

enum sq_slot { SLOT_EMPTY = 0, SLOT_IDLE, SLOT_USED };

struct sq_store {
	char *path;
	const struct fa_log *log;
	int locks;              /* how many of the three below are initialized */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	pthread_mutex_t write_mu;
	enum sq_slot slot[SQ_POOL];
	struct sq_conn conn[SQ_POOL];
};

/* ---- helpers ---------------------------------------------------------------- */

static bool sq_is_busy(int src)
{
	return (src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED;
}

/* SQLite's messages name tables and constraints, never bound values, so
 * they are safe to pass on. */
static enum fa_rc sq_fail(struct sq_conn *c, int src, const char *what,
			  struct fa_err *err)
{
	c->busy = sq_is_busy(src);
	return fa_err_set(err, FA_ESTORE, "sqlite %s: %s", what,
			  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
}

static void sq_nap(void)
{
	struct timespec ts = { 0, 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static enum fa_rc sq_prepare(struct sq_conn *c, enum sq_stmt id, sqlite3_stmt **out,
			     struct fa_err *err)
{
	int src;

	if (!c->stmt[id]) {
		src = sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					 &c->stmt[id], NULL);
		if (src != SQLITE_OK)
			return sq_fail(c, src, "prepare", err);
	}
	*out = c->stmt[id];
	return FA_OK;
}

/* Runs a statement that returns no rows (BEGIN, COMMIT, ROLLBACK). */
static enum fa_rc sq_run(struct sq_conn *c, enum sq_stmt id, const char *what,
			 struct fa_err *err)
{
	sqlite3_stmt *st = NULL;
	enum fa_rc rc;
	int src;

	if ((rc = sq_prepare(c, id, &st, err)) != FA_OK)
		return rc;
	src = sqlite3_step(st);
	sqlite3_reset(st);
	if (src != SQLITE_DONE)
		return sq_fail(c, src, what, err);
	return FA_OK;
}

static void sq_rollback(struct sq_store *s, struct sq_conn *c)
{
	struct fa_err e;

	if (sqlite3_get_autocommit(c->db))
		return;
	if (sq_run(c, ST_ROLLBACK, "rollback", &e) != FA_OK)
		fa_log(s->log, FA_LOG_ERROR, "%s", e.msg);
}

static enum fa_rc sq_exec(struct sq_conn *c, const char *sql, const char *what,
			  struct fa_err *err)
{
	int src = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	if (src != SQLITE_OK)
		return sq_fail(c, src, what, err);
	return FA_OK;
}

/* Runs a one-row query (a PRAGMA, a count) and returns its first column. */
static enum fa_rc sq_query_int(struct sq_conn *c, const char *sql, int64_t *out,
				struct fa_err *err)
{
	sqlite3_stmt *st = NULL;
	enum fa_rc rc = FA_OK;
	int src;

	src = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = sq_fail(c, src, "open", err);
		goto out;
	}
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = sq_fail(c, src, "open", err);
		goto out;
	}
	*out = sqlite3_column_int64(st, 0);
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- connections -------------------------------------------------------------- */

static void conn_close(struct sq_store *s, struct sq_conn *c)
{
	size_t i;
	int src;

	for (i = 0; i < ST_N; i++) {
		sqlite3_finalize(c->stmt[i]);
		c->stmt[i] = NULL;
	}
	src = sqlite3_close(c->db);
	if (src != SQLITE_OK)
		fa_log(s->log, FA_LOG_ERROR, "sqlite close: %s", sqlite3_errstr(src));
	c->db = NULL;
}

/* The file itself already exists with mode 0600 (sq_create_file), so a
 * connection never creates one: SQLite would use 0644. */
static enum fa_rc conn_open(struct sq_store *s, struct sq_conn *c, struct fa_err *err)
{
	enum fa_rc rc = FA_OK;
	int src;

	memset(c, 0, sizeof(*c));
	src = sqlite3_open_v2(s->path, &c->db,
			      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
			      SQLITE_OPEN_EXRESCODE, NULL);
	if (src != SQLITE_OK) {
		rc = sq_fail(c, src, "open", err);
		goto out;
	}
	/* Hardening: no schema tricks from a tampered file, no writable
	 * sqlite_master, no extension loading. */
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
	sqlite3_busy_timeout(c->db, SQ_BUSY_MS);
	/* NORMAL in WAL mode: a commit survives a crash of this process; a
	 * power loss may drop the last commits, which costs users a re-login,
	 * while FULL would fsync on every token request. secure_delete=FAST
	 * zeroes deleted records in their pages at no extra I/O, so spent token
	 * hashes and sessions do not linger in free space. */
	rc = sq_exec(c, "PRAGMA synchronous = NORMAL; PRAGMA secure_delete = FAST;",
		     "pragma", err);
out:
	if (rc != FA_OK && c->db)
		conn_close(s, c);
	return rc;
}

/* Takes a connection for this thread: an idle one, else a new one while the
 * pool has room, else waits for one to come back. */
static enum fa_rc conn_acquire(struct sq_store *s, struct sq_conn **out, struct fa_err *err)
{
	enum fa_rc rc = FA_OK;
	bool fresh = false;
	int pick = -1, i;

	pthread_mutex_lock(&s->pool_mu);
	for (;;) {
		for (i = 0; i < SQ_POOL && pick < 0; i++)
			if (s->slot[i] == SLOT_IDLE)
				pick = i;
		for (i = 0; i < SQ_POOL && pick < 0; i++)
			if (s->slot[i] == SLOT_EMPTY) {
				pick = i;
				fresh = true;
			}
		if (pick >= 0)
			break;
		pthread_cond_wait(&s->pool_cv, &s->pool_mu);
	}
	s->slot[pick] = SLOT_USED;
	pthread_mutex_unlock(&s->pool_mu);

	/* Opened outside the lock: opening is slow and other threads may
	 * meanwhile use the idle connections. */
	if (fresh && (rc = conn_open(s, &s->conn[pick], err)) != FA_OK) {
		pthread_mutex_lock(&s->pool_mu);
		s->slot[pick] = SLOT_EMPTY;
		pthread_cond_signal(&s->pool_cv);
		pthread_mutex_unlock(&s->pool_mu);
		goto out;
	}
	*out = &s->conn[pick];
out:
	return rc;
}

static void conn_release(struct sq_store *s, struct sq_conn *c)
{
	if (!c)
		return;
	/* Never hand on an open transaction (it would hold the write lock or
	 * pin an old snapshot). */
	sq_rollback(s, c);
	pthread_mutex_lock(&s->pool_mu);
	s->slot[c - s->conn] = SLOT_IDLE;
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
}

/* ---- transactions ------------------------------------------------------------- */

typedef enum fa_rc (*sq_body)(struct sq_conn *c, void *arg, struct fa_err *err);

/* Runs body on one connection, retrying while SQLite reports BUSY/LOCKED
 * for up to SQ_BUSY_MS. A write body runs between BEGIN IMMEDIATE and
 * COMMIT, under write_mu; a read body is a single statement (its own
 * snapshot) and takes no lock. */
static enum fa_rc sq_call(struct sq_store *s, bool write, sq_body body, void *arg,
			  struct fa_err *err)
{
	struct sq_conn *c = NULL;
	int64_t deadline = fa_mono_ms() + SQ_BUSY_MS;
	enum fa_rc rc;

	if ((rc = conn_acquire(s, &c, err)) != FA_OK)
		return rc;
	if (write)
		pthread_mutex_lock(&s->write_mu);
	for (;;) {
		c->busy = false;
		rc = write ? sq_run(c, ST_BEGIN, "begin", err) : FA_OK;
		if (rc == FA_OK)
			rc = body(c, arg, err);
		if (rc == FA_OK && write)
			rc = sq_run(c, ST_COMMIT, "commit", err);
		if (rc != FA_OK)
			sq_rollback(s, c);
		if (rc != FA_ESTORE || !c->busy || fa_mono_ms() >= deadline)
			break;
		sq_nap();
	}
	if (write)
		pthread_mutex_unlock(&s->write_mu);
	conn_release(s, c);
	return rc;
}

/* ---- operations ----------------------------------------------------------------- */

static enum fa_rc body_get(struct sq_conn *c, void *arg, struct fa_err *err)
{
	struct fa_store_get_arg *a = arg;
	sqlite3_stmt *st = NULL;
	const unsigned char *text;
	enum fa_rc rc;
	int src, n;

	if ((rc = sq_prepare(c, ST_GET, &st, err)) != FA_OK)
		goto out;
	sqlite3_bind_text(st, 1, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, a->now);
	src = sqlite3_step(st);
	if (src == SQLITE_DONE) {
		rc = fa_err_set(err, FA_ENOTFOUND, "store get: no live %s record", a->kind);
		goto out;
	}
	if (src != SQLITE_ROW) {
		rc = sq_fail(c, src, "get", err);
		goto out;
	}
	text = sqlite3_column_text(st, 0);
	n = sqlite3_column_bytes(st, 0);
	/* Only we write this file, but a value past the cap would mean a
	 * tampered or foreign file: refuse it rather than hand it on. */
	if (n > FA_MAX_STORE_VALUE) {
		rc = fa_err_set(err, FA_ESTORE, "sqlite get: stored value is over %d bytes",
				FA_MAX_STORE_VALUE);
		goto out;
	}
	if (!text && sqlite3_errcode(c->db) == SQLITE_NOMEM) {
		rc = fa_err_set(err, FA_ENOMEM, "store get: out of memory");
		goto out;
	}
	a->out->value = fa_strndup(text ? (const char *)text : "", (size_t)n);
	if (!a->out->value) {
		rc = fa_err_set(err, FA_ENOMEM, "store get: out of memory");
		goto out;
	}
	a->out->len = (size_t)n;
	a->out->expires_at = sqlite3_column_int64(st, 1);
	a->out->version = sqlite3_column_int64(st, 2);
out:
	if (st)
		sqlite3_reset(st);   /* ends the read snapshot */
	return rc;
}

static enum fa_rc sq_get(void *impl, const char *kind, const char *key, int64_t now,
			 struct fa_store_rec *out, struct fa_err *err)
{
	struct fa_store_get_arg a = { kind, key, now, out };

	return sq_call(impl, false, body_get, &a, err);
}

/* Why did a version-checked UPDATE/DELETE change nothing? */
static enum fa_rc op_miss(struct sq_conn *c, const struct fa_store_op *op, size_t i,
			  int64_t now, struct fa_err *err)
{
	sqlite3_stmt *st = NULL;
	enum fa_rc rc;
	int src;

	if ((rc = sq_prepare(c, ST_PROBE, &st, err)) != FA_OK)
		goto out;
	sqlite3_bind_text(st, 1, op->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, op->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	src = sqlite3_step(st);
	if (src == SQLITE_ROW || src == SQLITE_DONE)
		rc = fa_store_op_unchanged(op, i, src == SQLITE_ROW, err);
	else
		rc = sq_fail(c, src, "probe", err);
out:
	if (st)
		sqlite3_reset(st);
	return rc;
}

static enum fa_rc apply_one(struct sq_conn *c, const struct fa_store_op *op, size_t i,
			    int64_t now, struct fa_err *err)
{
	static const enum sq_stmt ids[] = {
		[FA_STORE_INSERT] = ST_INSERT,
		[FA_STORE_UPDATE] = ST_UPDATE,
		[FA_STORE_DELETE] = ST_DELETE,
	};
	sqlite3_stmt *st = NULL;
	enum fa_rc rc;
	int src, changed;

	if ((rc = sq_prepare(c, ids[op->type], &st, err)) != FA_OK)
		goto out;
	sqlite3_bind_text(st, 1, op->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, op->key, -1, SQLITE_STATIC);
	if (op->type == FA_STORE_DELETE) {
		sqlite3_bind_int64(st, 3, now);
		sqlite3_bind_int64(st, 4, op->expect_version);
	} else {
		sqlite3_bind_text(st, 3, op->value, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, op->expires_at);
		sqlite3_bind_int64(st, 5, now);
		if (op->type == FA_STORE_UPDATE)
			sqlite3_bind_int64(st, 6, op->expect_version);
	}
	src = sqlite3_step(st);
	sqlite3_reset(st);
	if (src != SQLITE_DONE) {
		char why[sizeof(err->msg)];

		c->busy = sq_is_busy(src);
		snprintf(why, sizeof(why), "sqlite: %s", sqlite3_errmsg(c->db));
		rc = fa_store_op_failed(op, i, why, err);
		goto out;
	}
	changed = sqlite3_changes(c->db);
	if (changed == 1)
		goto out;
	if (op->type == FA_STORE_INSERT)
		rc = fa_store_op_unchanged(op, i, true, err);
	else
		rc = op_miss(c, op, i, now, err);
out:
	return rc;
}

static enum fa_rc body_apply(struct sq_conn *c, void *arg, struct fa_err *err)
{
	struct fa_store_apply_arg *a = arg;
	enum fa_rc rc = FA_OK;
	size_t i;

	for (i = 0; i < a->n && rc == FA_OK; i++)
		rc = apply_one(c, &a->ops[i], i, a->now, err);
	return rc;
}

static enum fa_rc sq_apply(void *impl, const struct fa_store_op *ops, size_t n,
			   int64_t now, struct fa_err *err)
{
	struct fa_store_apply_arg a = { ops, n, now };

	return sq_call(impl, true, body_apply, &a, err);
}

static enum fa_rc body_incr(struct sq_conn *c, void *arg, struct fa_err *err)
{
	struct fa_store_incr_arg *a = arg;
	sqlite3_stmt *st = NULL;
	enum fa_rc rc;
	int src;

	if ((rc = sq_prepare(c, ST_INCR, &st, err)) != FA_OK)
		goto out;
	sqlite3_bind_text(st, 1, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, a->now);
	sqlite3_bind_int64(st, 4, a->ttl_s);
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = sq_fail(c, src, "incr", err);
		goto out;
	}
	*a->count = sqlite3_column_int64(st, 0);
	src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = sq_fail(c, src, "incr", err);
out:
	if (st)
		sqlite3_reset(st);
	return rc;
}

static enum fa_rc sq_incr(void *impl, const char *kind, const char *key, int64_t ttl_s,
			  int64_t now, int64_t *count, struct fa_err *err)
{
	struct fa_store_incr_arg a = { kind, key, ttl_s, now, count };

	return sq_call(impl, true, body_incr, &a, err);
}

static enum fa_rc body_purge(struct sq_conn *c, void *arg, struct fa_err *err)
{
	struct fa_store_purge_arg *a = arg;
	sqlite3_stmt *st = NULL;
	enum fa_rc rc;
	int src;

	if ((rc = sq_prepare(c, ST_PURGE, &st, err)) != FA_OK)
		goto out;
	sqlite3_bind_int64(st, 1, a->now);
	sqlite3_bind_int64(st, 2, (int64_t)a->limit);
	src = sqlite3_step(st);
	sqlite3_reset(st);
	if (src != SQLITE_DONE) {
		rc = sq_fail(c, src, "purge", err);
		goto out;
	}
	*a->deleted = (size_t)sqlite3_changes(c->db);
out:
	return rc;
}

static enum fa_rc sq_purge(void *impl, int64_t now, size_t limit, size_t *deleted,
			   struct fa_err *err)
{
	struct fa_store_purge_arg a = { now, limit, deleted };

	return sq_call(impl, true, body_purge, &a, err);
}

static enum fa_rc body_count(struct sq_conn *c, void *arg, struct fa_err *err)
{
	struct fa_store_count_arg *a = arg;
	sqlite3_stmt *st = NULL;
	enum fa_rc rc;
	int src;

	if ((rc = sq_prepare(c, ST_COUNT, &st, err)) != FA_OK)
		goto out;
	sqlite3_bind_text(st, 1, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, a->now);
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = sq_fail(c, src, "count", err);
		goto out;
	}
	*a->n = sqlite3_column_int64(st, 0);
out:
	if (st)
		sqlite3_reset(st);
	return rc;
}

static enum fa_rc sq_count(void *impl, const char *kind, int64_t now, int64_t *n,
			   struct fa_err *err)
{
	struct fa_store_count_arg a = { kind, now, n };

	return sq_call(impl, false, body_count, &a, err);
}

static enum fa_rc body_ping(struct sq_conn *c, void *arg, struct fa_err *err)
{
	sqlite3_stmt *st = NULL;
	enum fa_rc rc;
	int src;

	(void)arg;
	if ((rc = sq_prepare(c, ST_PING, &st, err)) != FA_OK)
		goto out;
	src = sqlite3_step(st);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		rc = sq_fail(c, src, "ping", err);
out:
	if (st)
		sqlite3_reset(st);
	return rc;
}

static enum fa_rc sq_ping(void *impl, struct fa_err *err)
{
	return sq_call(impl, false, body_ping, NULL, err);
}

static void sq_free(void *impl)
{
	struct sq_store *s = impl;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < SQ_POOL; i++)
		if (s->slot[i] != SLOT_EMPTY)
			conn_close(s, &s->conn[i]);
	if (s->locks > 2)
		pthread_mutex_destroy(&s->write_mu);
	if (s->locks > 1)
		pthread_cond_destroy(&s->pool_cv);
	if (s->locks > 0)
		pthread_mutex_destroy(&s->pool_mu);
	free(s->path);
	free(s);
}

static const struct fa_store_ops sq_ops = {
	.name = "sqlite",
	.get = sq_get,
	.apply = sq_apply,
	.incr = sq_incr,
	.purge = sq_purge,
	.count = sq_count,
	.ping = sq_ping,
	.free = sq_free,
};

/* ---- open and migrate --------------------------------------------------------- */

/* Creates the file ourselves so that it is 0600 from its first byte: it
 * holds token hashes and sessions. SQLite gives its -wal and -shm files the
 * mode of the database file. An existing file keeps its mode (an operator
 * may have chosen it) but a loose one is reported. */
static enum fa_rc sq_create_file(const char *path, const struct fa_log *log,
				 struct fa_err *err)
{
	enum fa_rc rc = FA_OK;
	struct stat sb;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = fa_err_set(err, FA_EIO, "sqlite: cannot open %s: %s", path,
				strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) != 0) {
		rc = fa_err_set(err, FA_EIO, "sqlite: cannot stat %s: %s", path,
				strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = fa_err_set(err, FA_EIO, "sqlite: %s is not a regular file", path);
		goto out;
	}
	if (sb.st_mode & 077)
		fa_log_warnx(log, "sqlite: %s has mode %04o; it holds token hashes and "
			     "sessions, so 0600 is advised", path,
			     (unsigned)(sb.st_mode & 07777));
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Brings the schema to ARRAY_LEN(sq_migrations) in one IMMEDIATE
 * transaction, so two processes opening a fresh file at once cannot both
 * run a step, and a failed step leaves the file as it was. */
static enum fa_rc sq_migrate(struct sq_store *s, struct sq_conn *c, struct fa_err *err)
{
	const int64_t known = (int64_t)ARRAY_LEN(sq_migrations);
	char sql[64];
	int64_t v = 0, i;
	enum fa_rc rc;

	if ((rc = sq_exec(c, "BEGIN IMMEDIATE", "begin", err)) != FA_OK ||
	    (rc = sq_query_int(c, "PRAGMA user_version", &v, err)) != FA_OK)
		goto out;
	if (v > known) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"sqlite: schema version %lld is newer than this flyteauth "
				"knows (%lld); upgrade flyteauth: %s",
				(long long)v, (long long)known, s->path);
		goto out;
	}
	if (v < 0) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"sqlite: schema version %lld was not written by flyteauth: %s",
				(long long)v, s->path);
		goto out;
	}
	/* Version 0 with tables in it is some other program's database (a
	 * mistyped path): adding ours to it would be a surprise for both. */
	if (v == 0) {
		int64_t tables = 0;

		if ((rc = sq_query_int(c, "SELECT count(*) FROM sqlite_schema", &tables,
					err)) != FA_OK)
			goto out;
		if (tables > 0) {
			rc = fa_err_set(err, FA_EUNSUPPORTED,
					"sqlite: not a flyteauth database (it has other "
					"tables): %s", s->path);
			goto out;
		}
	}
	for (i = v; i < known; i++) {
		char what[48];

		snprintf(what, sizeof(what), "schema step %lld", (long long)(i + 1));
		if ((rc = sq_exec(c, sq_migrations[i], what, err)) != FA_OK)
			goto out;
	}
	if (v == known) {
		rc = sq_exec(c, "COMMIT", "commit", err);
		goto out;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)known);
	if ((rc = sq_exec(c, sql, "schema version", err)) != FA_OK ||
	    (rc = sq_exec(c, "COMMIT", "commit", err)) != FA_OK)
		goto out;
	fa_log(s->log, FA_LOG_INFO, "sqlite: %s schema upgraded from version %lld to %lld",
	       s->path, (long long)v, (long long)known);
out:
	if (rc != FA_OK)
		sq_rollback(s, c);
	return rc;
}

/* WAL lets readers run beside the writer; a file system without shared
 * memory (NFS) cannot do it, and silently falling back would make every
 * request queue behind every write. */
static enum fa_rc sq_enable_wal(struct sq_store *s, struct sq_conn *c, struct fa_err *err)
{
	sqlite3_stmt *st = NULL;
	enum fa_rc rc = FA_OK;
	const unsigned char *mode;
	int src;

	src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = sq_fail(c, src, "journal_mode", err);
		goto out;
	}
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = sq_fail(c, src, "journal_mode", err);
		goto out;
	}
	mode = sqlite3_column_text(st, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0)
		rc = fa_err_set(err, FA_ESTORE, "sqlite: cannot use WAL mode (got %s): %s",
				mode ? (const char *)mode : "?", s->path);
out:
	sqlite3_finalize(st);
	return rc;
}

static bool sq_init_locks(struct sq_store *s)
{
	if (pthread_mutex_init(&s->pool_mu, NULL) != 0)
		return false;
	s->locks = 1;
	if (pthread_cond_init(&s->pool_cv, NULL) != 0)
		return false;
	s->locks = 2;
	if (pthread_mutex_init(&s->write_mu, NULL) != 0)
		return false;
	s->locks = 3;
	return true;
}

static enum fa_rc sq_check_path(const char *path, struct fa_err *err)
{
	if (!path || !path[0])
		return fa_err_set(err, FA_EINVAL, "sqlite: database path is empty");
	if (strnlen(path, SQ_MAX_PATH) >= SQ_MAX_PATH)
		return fa_err_set(err, FA_ETOOBIG, "sqlite: database path is over %d bytes",
				  SQ_MAX_PATH - 1);
	/* Each pooled connection to ":memory:" would be its own empty database. */
	if (strcmp(path, ":memory:") == 0)
		return fa_err_set(err, FA_EINVAL,
				  "sqlite: :memory: cannot be shared by the connection "
				  "pool; use a file");
	/* A URI could carry options (mode, vfs, immutable) that undo ours. */
	if (strncmp(path, "file:", 5) == 0)
		return fa_err_set(err, FA_EINVAL,
				  "sqlite: URIs are not accepted; give a plain file path");
	return FA_OK;
}

enum fa_rc fa_store_open_sqlite(const char *path, const struct fa_log *log,
				struct fa_store **out, struct fa_err *err)
{
	struct sq_store *s = NULL;
	enum fa_rc rc;

	fa_err_clear(err);
	if (out)
		*out = NULL;
	if (!out) {
		rc = fa_err_set(err, FA_EINVAL, "sqlite: no output");
		goto out;
	}
	if ((rc = sq_check_path(path, err)) != FA_OK)
		goto out;
	if (!sqlite3_threadsafe()) {
		rc = fa_err_set(err, FA_ESTORE, "sqlite: library built without thread support");
		goto out;
	}
	if ((rc = sq_create_file(path, log, err)) != FA_OK)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		rc = fa_err_set(err, FA_ENOMEM, "sqlite: out of memory");
		goto out;
	}
	s->log = log;
	if (!sq_init_locks(s)) {
		rc = fa_err_set(err, FA_ENOMEM, "sqlite: cannot create locks");
		goto out;
	}
	/* Connection 0 sets the file up before anyone else can use it. The
	 * schema is checked before WAL is switched on, so a refused file is
	 * left exactly as it was. */
	s->slot[0] = SLOT_USED;
	if ((rc = conn_open(s, &s->conn[0], err)) != FA_OK) {
		s->slot[0] = SLOT_EMPTY;
		goto out;
	}
	if ((rc = sq_migrate(s, &s->conn[0], err)) != FA_OK ||
	    (rc = sq_enable_wal(s, &s->conn[0], err)) != FA_OK)
		goto out;
	s->slot[0] = SLOT_IDLE;
	rc = fa_store_new(&sq_ops, s, log, out, err);
	s = NULL;   /* fa_store_new owns it now, even on failure */
out:
	sq_free(s);
	return rc;
}
