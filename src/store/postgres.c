/* postgres.c -- the PostgreSQL backend of the record store: one
 * flyteauth_records table that every flyteauth instance shares, a pool of
 * libpq connections with statements prepared once per connection, schema
 * migrations under an advisory lock, and bounded retries of what the
 * database asks to be retried.
 *
 * It trusts the generic layer (store.c) to have validated every argument
 * and knows nothing of OAuth. Values are stored as bytea, so the database's
 * encoding never matters; every time is the caller's `now`, never the
 * database's clock, exactly as in sqlite.c. The tables are prefixed
 * (flyteauth_) because the database may be flyteadmin's own.
 *
 * Invariants: store.h's (1)-(7), kept this way.
 *  (1) Every statement compares expires_at with the caller's now as sqlite.c
 *      does. purge re-checks expiry on the row it deletes, so a row that an
 *      INSERT revived after purge picked it is kept.
 *  (2) Isolation: an apply is one transaction at SERIALIZABLE (BEGIN, the
 *      ops in order, COMMIT; any failure rolls it back). SERIALIZABLE makes
 *      batches behave as if they ran one at a time, which is what SQLite's
 *      single writer gives, so the OAuth logic above needs no second
 *      thought per backend. Where PostgreSQL cannot order two batches it
 *      aborts one with a serialization failure (40001) or deadlock (40P01);
 *      that batch was rolled back whole and is run again from BEGIN, at most
 *      PG_SERIAL_TRIES times in all, then it is FA_ESTORE.
 *  (3) A version-checked UPDATE/DELETE carries the expected version in its
 *      WHERE clause. Of two batches racing for one row the second waits on
 *      the row lock and, once the first commits, fails with 40001; run again
 *      on a new snapshot it sees the new version, changes nothing and
 *      reports FA_ECONFLICT (or FA_ENOTFOUND): exactly one wins.
 *  (4) INSERT (also over an expired row) sets version 1; UPDATE raises it by
 *      1 in the statement itself.
 *  (5) incr is one INSERT .. ON CONFLICT DO UPDATE .. RETURNING statement in
 *      its own transaction: the row lock orders concurrent increments at
 *      any isolation level. Once sent it is never retried after a lost
 *      connection (the increment may have happened), only after 40001 or
 *      40P01, which roll it back.
 *  (6) A value read back is checked against the cap and for NUL bytes:
 *      another program can write the table.
 *  (7) A connection dropped before COMMIT (the server restarted, a proxy
 *      closed it) aborts the transaction on the server: the call is run
 *      again on a new connection, once. A connection lost while COMMIT was
 *      in flight leaves the outcome unknown: FA_ESTORE, never a retry that
 *      could apply a batch twice.
 *
 * One pool slot:
 *    EMPTY -> USED   [conn_acquire: connect, unless the database is down and
 *                     its next try is not due: then FA_ESTORE at once]
 *    IDLE  -> USED   [conn_acquire: the socket is quiet; else reconnect]
 *    USED  -> IDLE   [conn_release: connected, no transaction open]
 *    USED  -> EMPTY  [conn_release: lost, or a transaction left open]
 * The database is "down" from a failed connect to the next good one. While
 * it is down one caller every PG_RETRY_MS tries to connect and the others
 * fail at once with the last error: a dead database costs no request a
 * connect timeout, and the first try after it is back recovers the store.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

/* A batch aborted by serialization failures or deadlocks is run this many
 * times in all: racing requests for one token need two; more means heavy
 * contention, and the request should fail rather than spin. */
#define PG_SERIAL_TRIES 10
/* Tries of a call whose connection was lost before it could commit: one
 * more on a new connection covers a restart of the server; a second loss
 * means the database is going away. */
#define PG_LOST_TRIES 2
/* While the database is down, how often a caller may try to connect. */
#define PG_RETRY_MS 1000
/* libpq settings we pass: our defaults, the keys, the options string. */
#define PG_MAX_KV 48
/* The advisory lock that serializes migrations of one database across
 * instances: "flyteaut" in ASCII, a fixed 64-bit key. */
#define PG_MIGRATE_LOCK "7380408406483579252"

/* Parameter types (pg_type OIDs, fixed in PostgreSQL's catalog). */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

/* Schema steps, applied in order inside one transaction; flyteauth_schema
 * records how many ran. Append only: a shipped step is never edited.
 * COLLATE "C": keys are ASCII, so bytewise order is right and skips the
 * locale's collation on every index probe. */
static const char *const pg_migrations[] = {
	/* 1 */
	"CREATE TABLE flyteauth_records ("
	" kind text COLLATE \"C\" NOT NULL,"
	" key text COLLATE \"C\" NOT NULL,"
	" value bytea NOT NULL,"
	" expires_at bigint NOT NULL,"
	" version bigint NOT NULL,"
	" PRIMARY KEY (kind, key));"
	"CREATE INDEX flyteauth_records_expires_at ON flyteauth_records (expires_at);",
};

enum pg_stmt {
	PS_GET,
	PS_INSERT,
	PS_UPDATE,
	PS_DELETE,
	PS_PROBE,
	PS_INCR,
	PS_PURGE,
	PS_COUNT,
	PS_PING,
	PS_N
};

struct pg_sql {
	const char *name;
	const char *sql;
	int n;
	Oid types[6];
};

/* Every statement run after open, prepared once per connection. "Expired"
 * is expires_at <= now everywhere (invariant 1). */
static const struct pg_sql pg_sql[PS_N] = {
	[PS_GET] = { "fa_get",
		"SELECT value, expires_at, version FROM flyteauth_records"
		" WHERE kind = $1 AND key = $2 AND expires_at > $3",
		3, { OID_TEXT, OID_TEXT, OID_INT8 } },
	/* An expired row under the key is replaced; a live one is left alone
	 * and 0 rows reports FA_EEXIST. */
	[PS_INSERT] = { "fa_insert",
		"INSERT INTO flyteauth_records AS r (kind, key, value, expires_at, version)"
		" VALUES ($1, $2, $3, $4, 1)"
		" ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value,"
		" expires_at = excluded.expires_at, version = 1"
		" WHERE r.expires_at <= $5",
		5, { OID_TEXT, OID_TEXT, OID_BYTEA, OID_INT8, OID_INT8 } },
	[PS_UPDATE] = { "fa_update",
		"UPDATE flyteauth_records SET value = $3, expires_at = $4, version = version + 1"
		" WHERE kind = $1 AND key = $2 AND expires_at > $5"
		" AND ($6 = 0 OR version = $6)",
		6, { OID_TEXT, OID_TEXT, OID_BYTEA, OID_INT8, OID_INT8, OID_INT8 } },
	[PS_DELETE] = { "fa_delete",
		"DELETE FROM flyteauth_records"
		" WHERE kind = $1 AND key = $2 AND expires_at > $3"
		" AND ($4 = 0 OR version = $4)",
		4, { OID_TEXT, OID_TEXT, OID_INT8, OID_INT8 } },
	/* After an UPDATE/DELETE changed nothing: absent, or another version? */
	[PS_PROBE] = { "fa_probe",
		"SELECT version FROM flyteauth_records"
		" WHERE kind = $1 AND key = $2 AND expires_at > $3",
		3, { OID_TEXT, OID_TEXT, OID_INT8 } },
	/* SET expressions see the row as it was before this update. */
	[PS_INCR] = { "fa_incr",
		"INSERT INTO flyteauth_records AS r (kind, key, value, expires_at, version)"
		" VALUES ($1, $2, CAST('1' AS bytea), $3 + $4, 1)"
		" ON CONFLICT (kind, key) DO UPDATE SET"
		" value = CASE WHEN r.expires_at > $3"
		" THEN CAST(CAST(r.version + 1 AS text) AS bytea) ELSE CAST('1' AS bytea) END,"
		" expires_at = CASE WHEN r.expires_at > $3 THEN r.expires_at"
		" ELSE excluded.expires_at END,"
		" version = CASE WHEN r.expires_at > $3 THEN r.version + 1 ELSE 1 END"
		" RETURNING version",
		4, { OID_TEXT, OID_TEXT, OID_INT8, OID_INT8 } },
	/* SKIP LOCKED: instances purging at once take different rows instead
	 * of queueing on each other's. */
	[PS_PURGE] = { "fa_purge",
		"DELETE FROM flyteauth_records WHERE (kind, key) IN"
		" (SELECT kind, key FROM flyteauth_records WHERE expires_at <= $1"
		" ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
		" AND expires_at <= $1",
		2, { OID_INT8, OID_INT8 } },
	[PS_COUNT] = { "fa_count",
		"SELECT count(*) FROM flyteauth_records WHERE kind = $1 AND expires_at > $2",
		2, { OID_TEXT, OID_INT8 } },
	/* Readiness: connected, and our table is readable. */
	[PS_PING] = { "fa_ping", "SELECT 1 FROM flyteauth_records LIMIT 1", 0, { 0 } },
};

/* How a statement failed: decides whether the call may run again. */
enum pg_fail { PF_NONE = 0, PF_SERIAL, PF_LOST, PF_OTHER };

struct pg_conn {
	PGconn *pc;
	uint32_t prepared;      /* bit i: pg_sql[i] is prepared on pc */
	enum pg_fail fail;      /* of the last failed statement */
};

enum pg_slot { SLOT_EMPTY = 0, SLOT_IDLE, SLOT_USED };

struct pg_store {
	const struct fa_log *log;
	char where[160];        /* "host:port/dbname", for messages */
	/* libpq's keyword/value arrays, NULL-terminated, all strings ours
	 * (one value is the password: zeroed when freed). */
	char *keys[PG_MAX_KV + 1];
	char *vals[PG_MAX_KV + 1];
	size_t nkv;
	unsigned pool;
	int locks;              /* how many of the two below are initialized */
	pthread_mutex_t mu;     /* guards slot[], down, retry_at_ms, down_msg */
	pthread_cond_t cv;
	bool down;
	int64_t retry_at_ms;
	char down_msg[sizeof(((struct fa_err *)0)->msg)];
	enum pg_slot slot[FA_STORE_PG_MAX_POOL];
	struct pg_conn conn[FA_STORE_PG_MAX_POOL];
};

typedef enum fa_rc (*pg_body)(struct pg_store *s, struct pg_conn *c, void *arg,
			      struct fa_err *err);

/* ---- messages and results --------------------------------------------------- */

/* The first line of a libpq message, without trailing blanks. libpq and
 * the server name the host, user and database in their messages, never a
 * password, and our statements carry values only as parameters, which
 * primary messages do not quote. */
static void first_line(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	if (!in)
		in = "";
	while (in[n] && in[n] != '\n' && n + 1 < cap) {
		out[n] = in[n];
		n++;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
}

/* SQLSTATEs (never secret: checksrc's comparison rule does not apply). */
static bool sqlstate_is(const char *code, const char *want)
{
	return code && strncmp(code, want, strlen(want)) == 0;
}

static bool is_lost_state(const char *code)
{
	/* Class 08: connection exception; 57P01-57P03: the server is shutting
	 * down, crashed, or cannot accept connections yet. */
	return sqlstate_is(code, "08") || sqlstate_is(code, "57P01") ||
	       sqlstate_is(code, "57P02") || sqlstate_is(code, "57P03");
}

/* Judges a result: FA_OK for COMMAND_OK/TUPLES_OK, else FA_ESTORE with the
 * server's (or libpq's) message, and c->fail set to how it failed. */
static enum fa_rc pg_check(struct pg_store *s, struct pg_conn *c, const PGresult *res,
			   const char *what, struct fa_err *err)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state, *primary;   /* SQLSTATE and the server's message */
	char line[sizeof(err->msg)];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return FA_OK;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (PQstatus(c->pc) != CONNECTION_OK)
		c->fail = PF_LOST;
	else if (sqlstate_is(state, "40001") || sqlstate_is(state, "40P01"))
		c->fail = PF_SERIAL;
	else if (is_lost_state(state))
		c->fail = PF_LOST;
	else
		c->fail = PF_OTHER;
	first_line(primary ? primary : PQerrorMessage(c->pc), line, sizeof(line));
	if (!line[0])
		snprintf(line, sizeof(line), "%s", PQresStatus(st));
	return fa_err_set(err, FA_ESTORE, "postgres %s %s: %s", what, s->where, line);
}

/* Runs a prepared statement (preparing it on first use on this connection)
 * with text parameters, except where fmts says binary, and binary results.
 * On FA_OK *out is the result, for the caller to PQclear. */
static enum fa_rc pg_exec(struct pg_store *s, struct pg_conn *c, enum pg_stmt id,
			  const char *const *vals, const int *lens, const int *fmts,
			  PGresult **out, const char *what, struct fa_err *err)
{
	const struct pg_sql *q = &pg_sql[id];
	PGresult *res;
	enum fa_rc rc;

	*out = NULL;
	if (!(c->prepared & (1u << id))) {
		res = PQprepare(c->pc, q->name, q->sql, q->n, q->n ? q->types : NULL);
		rc = pg_check(s, c, res, what, err);
		PQclear(res);
		if (rc != FA_OK)
			return rc;
		c->prepared |= 1u << id;
	}
	res = PQexecPrepared(c->pc, q->name, q->n, vals, lens, fmts, 1);
	rc = pg_check(s, c, res, what, err);
	if (rc != FA_OK) {
		PQclear(res);
		return rc;
	}
	*out = res;
	return FA_OK;
}

/* Runs a statement of no parameters and checks its command tag: COMMIT of
 * a transaction the server had already aborted answers "ROLLBACK". */
static enum fa_rc pg_simple(struct pg_store *s, struct pg_conn *c, const char *sql,
			    const char *tag, struct fa_err *err)
{
	PGresult *res = PQexec(c->pc, sql);
	enum fa_rc rc = pg_check(s, c, res, tag, err);

	if (rc == FA_OK && strcmp(PQcmdStatus(res), tag) != 0) {
		c->fail = PF_OTHER;
		rc = fa_err_set(err, FA_ESTORE, "postgres %s %s: answered %s", tag, s->where,
				PQcmdStatus(res));
	}
	PQclear(res);
	return rc;
}

static void pg_rollback(struct pg_store *s, struct pg_conn *c)
{
	struct fa_err e;

	if (!c->pc || PQstatus(c->pc) != CONNECTION_OK ||
	    PQtransactionStatus(c->pc) == PQTRANS_IDLE)
		return;
	if (pg_simple(s, c, "ROLLBACK", "ROLLBACK", &e) != FA_OK) {
		/* Never hand on a connection in an unknown transaction state. */
		c->fail = PF_LOST;
		fa_log(s->log, FA_LOG_DEBUG, "%s", e.msg);
	}
}

/* A binary int8 column. */
static bool col_i64(const PGresult *res, int row, int col, int64_t *out)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(res, row, col);
	uint64_t v = 0;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return false;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	*out = (int64_t)v;
	return true;
}

static enum fa_rc bad_row(struct pg_store *s, struct pg_conn *c, const char *what,
			  struct fa_err *err)
{
	c->fail = PF_OTHER;
	return fa_err_set(err, FA_ESTORE, "postgres %s %s: unexpected result shape", what,
			  s->where);
}

/* Rows a write changed, from its command tag ("UPDATE 1"). */
static int64_t changed_rows(PGresult *res)
{
	const char *t = PQcmdTuples(res);
	uint64_t n = 0;

	if (fa_parse_u64(t, strlen(t), INT64_MAX, &n) != FA_OK)
		return -1;
	return (int64_t)n;
}

/* ---- connections --------------------------------------------------------------- */

/* Server notices (e.g. "relation already exists, skipping") are not ours
 * to print on stderr. */
static void pg_notice(void *arg, const char *message)
{
	struct pg_store *s = arg;
	char line[160];

	first_line(message, line, sizeof(line));
	fa_log(s->log, FA_LOG_DEBUG, "postgres %s: %s", s->where, line);
}

static void conn_close(struct pg_conn *c)
{
	if (c->pc)
		PQfinish(c->pc);
	c->pc = NULL;
	c->prepared = 0;
	c->fail = PF_NONE;
}

static enum fa_rc conn_open(struct pg_store *s, struct pg_conn *c, struct fa_err *err)
{
	char line[sizeof(err->msg)];

	memset(c, 0, sizeof(*c));
	c->pc = PQconnectdbParams((const char *const *)s->keys,
				  (const char *const *)s->vals, 0);
	if (!c->pc)
		return fa_err_set(err, FA_ENOMEM, "postgres: out of memory");
	if (PQstatus(c->pc) != CONNECTION_OK) {
		first_line(PQerrorMessage(c->pc), line, sizeof(line));
		conn_close(c);
		return fa_err_set(err, FA_ESTORE, "postgres %s: %s", s->where, line);
	}
	PQsetNoticeProcessor(c->pc, pg_notice, s);
	return FA_OK;
}

/* An idle connection has nothing to say: a readable socket means the
 * server closed it (restart, admin command) or sent an error. Input that
 * libpq consumes without complaint (a TLS session ticket) is fine. */
static bool conn_quiet(struct pg_conn *c)
{
	for (int i = 0; i < 2; i++) {
		struct pollfd p = { .fd = PQsocket(c->pc), .events = POLLIN };

		if (PQstatus(c->pc) != CONNECTION_OK || p.fd < 0 ||
		    PQtransactionStatus(c->pc) != PQTRANS_IDLE)
			return false;
		if (poll(&p, 1, 0) == 0)
			return true;
		if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) || !PQconsumeInput(c->pc) ||
		    PQisBusy(c->pc))
			return false;
	}
	return false;
}

/* Marks the outcome of a connect: a failure makes the database "down"
 * with its message; a success makes it up. Under s->mu. */
static void note_connect(struct pg_store *s, enum fa_rc rc, const struct fa_err *err)
{
	if (rc == FA_ESTORE) {
		s->down = true;
		s->retry_at_ms = fa_mono_ms() + PG_RETRY_MS;
		snprintf(s->down_msg, sizeof(s->down_msg), "%s", err->msg);
	} else if (rc == FA_OK) {
		s->down = false;
	}
}

/* Takes a connection for this thread: an idle one, else a free slot, else
 * waits for one to come back. See the slot table at the top. */
static enum fa_rc conn_acquire(struct pg_store *s, struct pg_conn **out, struct fa_err *err)
{
	struct pg_conn *c;
	enum fa_rc rc = FA_OK;
	bool fresh = false;
	int pick = -1;
	unsigned i;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		for (i = 0; i < s->pool && pick < 0; i++)
			if (s->slot[i] == SLOT_IDLE)
				pick = (int)i;
		for (i = 0; i < s->pool && pick < 0; i++)
			if (s->slot[i] == SLOT_EMPTY) {
				pick = (int)i;
				fresh = true;
			}
		if (pick >= 0)
			break;
		pthread_cond_wait(&s->cv, &s->mu);
	}
	s->slot[pick] = SLOT_USED;
	pthread_mutex_unlock(&s->mu);
	c = &s->conn[pick];

	if (!fresh && !conn_quiet(c)) {
		conn_close(c);
		fresh = true;
	}
	if (fresh) {
		pthread_mutex_lock(&s->mu);
		if (s->down && fa_mono_ms() < s->retry_at_ms) {
			rc = fa_err_set(err, FA_ESTORE, "%s", s->down_msg);
		} else if (s->down) {
			/* This caller makes the try; others keep failing fast. */
			s->retry_at_ms = fa_mono_ms() + PG_RETRY_MS;
		}
		pthread_mutex_unlock(&s->mu);
		if (rc == FA_OK) {
			rc = conn_open(s, c, err);
			pthread_mutex_lock(&s->mu);
			note_connect(s, rc, err);
			pthread_mutex_unlock(&s->mu);
		}
		pthread_mutex_lock(&s->mu);
		if (rc != FA_OK) {
			s->slot[pick] = SLOT_EMPTY;
			pthread_cond_signal(&s->cv);
		}
		pthread_mutex_unlock(&s->mu);
		if (rc != FA_OK)
			return rc;
	}
	*out = c;
	return FA_OK;
}

static void conn_release(struct pg_store *s, struct pg_conn *c)
{
	bool keep = c->pc && c->fail != PF_LOST && PQstatus(c->pc) == CONNECTION_OK &&
		    PQtransactionStatus(c->pc) == PQTRANS_IDLE;

	if (!keep)
		conn_close(c);
	pthread_mutex_lock(&s->mu);
	s->slot[c - s->conn] = keep ? SLOT_IDLE : SLOT_EMPTY;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- calls and retries ------------------------------------------------------------ */

enum pg_mode {
	PM_READ,        /* one statement that changes nothing (or only expired rows) */
	PM_ONCE,        /* one statement that must not run twice (incr) */
	PM_TXN,         /* BEGIN SERIALIZABLE, body, COMMIT (apply) */
};

/* A random pause of up to 2^tries ms (capped at 128 ms: "full jitter"),
 * so that batches aborted together spread out instead of colliding again;
 * ten tries wait at most about a second in all. */
static void pg_backoff(int tries)
{
	unsigned short r = 0;
	long ms;
	struct timespec ts;

	if (fa_rand_bytes(&r, sizeof(r)) != FA_OK)
		r = 0x5555;
	ms = (long)(r % (1u << (tries < 7 ? tries : 7))) + 1;
	ts.tv_sec = 0;
	ts.tv_nsec = ms * 1000 * 1000;
	nanosleep(&ts, NULL);
}

/* Runs body on one connection, again while the database asks for it
 * (invariants 2, 5 and 7). */
static enum fa_rc pg_call(struct pg_store *s, enum pg_mode mode, pg_body body, void *arg,
			  struct fa_err *err)
{
	int serial = 0, lost = 0;

	for (;;) {
		struct pg_conn *c = NULL;
		bool committing = false;
		enum pg_fail fail;
		enum fa_rc rc;

		if ((rc = conn_acquire(s, &c, err)) != FA_OK)
			return rc;
		c->fail = PF_NONE;
		if (mode == PM_TXN) {
			rc = pg_simple(s, c, "BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN", err);
			if (rc == FA_OK)
				rc = body(s, c, arg, err);
			if (rc == FA_OK) {
				committing = true;
				rc = pg_simple(s, c, "COMMIT", "COMMIT", err);
			}
			if (rc != FA_OK)
				pg_rollback(s, c);
		} else {
			rc = body(s, c, arg, err);
		}
		fail = c->fail;
		conn_release(s, c);
		if (rc == FA_OK)
			return rc;
		if (fail == PF_SERIAL && ++serial < PG_SERIAL_TRIES) {
			pg_backoff(serial);
			continue;
		}
		if (fail == PF_LOST && mode != PM_ONCE && !committing && ++lost < PG_LOST_TRIES)
			continue;
		return rc;
	}
}

/* ---- operations --------------------------------------------------------------------- */

static enum fa_rc body_get(struct pg_store *s, struct pg_conn *c, void *arg,
			   struct fa_err *err)
{
	struct fa_store_get_arg *a = arg;
	char now_s[24];
	const char *v[3] = { a->kind, a->key, now_s };
	PGresult *res = NULL;
	const char *val;
	enum fa_rc rc;
	int n;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)a->now);
	if ((rc = pg_exec(s, c, PS_GET, v, NULL, NULL, &res, "get", err)) != FA_OK)
		goto out;
	if (PQntuples(res) == 0) {
		rc = fa_err_set(err, FA_ENOTFOUND, "store get: no live %s record", a->kind);
		goto out;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 3 ||
	    !col_i64(res, 0, 1, &a->out->expires_at) || !col_i64(res, 0, 2, &a->out->version)) {
		rc = bad_row(s, c, "get", err);
		goto out;
	}
	val = PQgetvalue(res, 0, 0);
	n = PQgetlength(res, 0, 0);
	/* Only flyteauth writes this table, but a value past the cap or with a
	 * NUL inside would come from someone else: refuse it. */
	if (n > FA_MAX_STORE_VALUE || memchr(val, '\0', (size_t)n)) {
		c->fail = PF_OTHER;
		rc = fa_err_set(err, FA_ESTORE, "postgres get: stored value is over %d bytes "
				"or holds a NUL", FA_MAX_STORE_VALUE);
		goto out;
	}
	a->out->value = fa_strndup(val, (size_t)n);
	if (!a->out->value) {
		rc = fa_err_set(err, FA_ENOMEM, "store get: out of memory");
		goto out;
	}
	a->out->len = (size_t)n;
out:
	PQclear(res);
	return rc;
}

static enum fa_rc pg_get(void *impl, const char *kind, const char *key, int64_t now,
			 struct fa_store_rec *out, struct fa_err *err)
{
	struct fa_store_get_arg a = { kind, key, now, out };

	return pg_call(impl, PM_READ, body_get, &a, err);
}

/* Why did a version-checked UPDATE/DELETE change nothing? Asked inside the
 * batch's snapshot, so the answer agrees with what the write saw. */
static enum fa_rc op_miss(struct pg_store *s, struct pg_conn *c, const struct fa_store_op *op,
			  size_t i, const char *now_s, struct fa_err *err)
{
	const char *v[3] = { op->kind, op->key, now_s };
	PGresult *res = NULL;
	enum fa_rc rc;

	if ((rc = pg_exec(s, c, PS_PROBE, v, NULL, NULL, &res, "probe", err)) != FA_OK)
		return rc;
	rc = fa_store_op_unchanged(op, i, PQntuples(res) > 0, err);
	PQclear(res);
	return rc;
}

static enum fa_rc apply_one(struct pg_store *s, struct pg_conn *c, const struct fa_store_op *op,
			    size_t i, int64_t now, struct fa_err *err)
{
	char now_s[24], exp_s[24], ver_s[24], msg[sizeof(err->msg)];
	const char *v[6] = { op->kind, op->key };
	int lens[6] = { 0 }, fmts[6] = { 0 };
	PGresult *res = NULL;
	enum pg_stmt id;
	enum fa_rc rc;
	int64_t rows;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)now);
	snprintf(exp_s, sizeof(exp_s), "%lld", (long long)op->expires_at);
	snprintf(ver_s, sizeof(ver_s), "%lld", (long long)op->expect_version);
	if (op->type == FA_STORE_DELETE) {
		id = PS_DELETE;
		v[2] = now_s;
		v[3] = ver_s;
	} else {
		id = op->type == FA_STORE_INSERT ? PS_INSERT : PS_UPDATE;
		/* The value goes as binary bytea: no encoding, no escaping. */
		v[2] = op->value;
		lens[2] = (int)strlen(op->value);
		fmts[2] = 1;
		v[3] = exp_s;
		v[4] = now_s;
		v[5] = ver_s;
	}
	rc = pg_exec(s, c, id, v, lens, fmts, &res, fa_store_op_name(op->type), err);
	if (rc != FA_OK) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return fa_store_op_failed(op, i, msg, err);
	}
	rows = changed_rows(res);
	PQclear(res);
	if (rows == 1)
		return FA_OK;
	if (rows != 0)
		return bad_row(s, c, fa_store_op_name(op->type), err);
	if (op->type == FA_STORE_INSERT)
		return fa_store_op_unchanged(op, i, true, err);
	return op_miss(s, c, op, i, now_s, err);
}

static enum fa_rc body_apply(struct pg_store *s, struct pg_conn *c, void *arg,
			     struct fa_err *err)
{
	struct fa_store_apply_arg *a = arg;
	enum fa_rc rc = FA_OK;

	for (size_t i = 0; i < a->n && rc == FA_OK; i++)
		rc = apply_one(s, c, &a->ops[i], i, a->now, err);
	return rc;
}

static enum fa_rc pg_apply(void *impl, const struct fa_store_op *ops, size_t n,
			   int64_t now, struct fa_err *err)
{
	struct fa_store_apply_arg a = { ops, n, now };

	return pg_call(impl, PM_TXN, body_apply, &a, err);
}

static enum fa_rc body_incr(struct pg_store *s, struct pg_conn *c, void *arg,
			    struct fa_err *err)
{
	struct fa_store_incr_arg *a = arg;
	char now_s[24], ttl_s[24];
	const char *v[4] = { a->kind, a->key, now_s, ttl_s };
	PGresult *res = NULL;
	enum fa_rc rc;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)a->now);
	snprintf(ttl_s, sizeof(ttl_s), "%lld", (long long)a->ttl_s);
	if ((rc = pg_exec(s, c, PS_INCR, v, NULL, NULL, &res, "incr", err)) != FA_OK)
		return rc;
	if (PQntuples(res) != 1 || !col_i64(res, 0, 0, a->count))
		rc = bad_row(s, c, "incr", err);
	PQclear(res);
	return rc;
}

static enum fa_rc pg_incr(void *impl, const char *kind, const char *key, int64_t ttl_s,
			  int64_t now, int64_t *count, struct fa_err *err)
{
	struct fa_store_incr_arg a = { kind, key, ttl_s, now, count };

	return pg_call(impl, PM_ONCE, body_incr, &a, err);
}

static enum fa_rc body_purge(struct pg_store *s, struct pg_conn *c, void *arg,
			     struct fa_err *err)
{
	struct fa_store_purge_arg *a = arg;
	char now_s[24], lim_s[24];
	const char *v[2] = { now_s, lim_s };
	PGresult *res = NULL;
	enum fa_rc rc;
	int64_t rows;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)a->now);
	snprintf(lim_s, sizeof(lim_s), "%zu", a->limit);
	if ((rc = pg_exec(s, c, PS_PURGE, v, NULL, NULL, &res, "purge", err)) != FA_OK)
		return rc;
	rows = changed_rows(res);
	PQclear(res);
	if (rows < 0)
		return bad_row(s, c, "purge", err);
	*a->deleted = (size_t)rows;
	return FA_OK;
}

/* Purge only deletes rows no call can see (invariant 1): running it again
 * after a lost connection is harmless, hence PM_READ. */
static enum fa_rc pg_purge(void *impl, int64_t now, size_t limit, size_t *deleted,
			   struct fa_err *err)
{
	struct fa_store_purge_arg a = { now, limit, deleted };

	return pg_call(impl, PM_READ, body_purge, &a, err);
}

static enum fa_rc body_count(struct pg_store *s, struct pg_conn *c, void *arg,
			     struct fa_err *err)
{
	struct fa_store_count_arg *a = arg;
	char now_s[24];
	const char *v[2] = { a->kind, now_s };
	PGresult *res = NULL;
	enum fa_rc rc;

	snprintf(now_s, sizeof(now_s), "%lld", (long long)a->now);
	if ((rc = pg_exec(s, c, PS_COUNT, v, NULL, NULL, &res, "count", err)) != FA_OK)
		return rc;
	if (PQntuples(res) != 1 || !col_i64(res, 0, 0, a->n))
		rc = bad_row(s, c, "count", err);
	PQclear(res);
	return rc;
}

static enum fa_rc pg_count(void *impl, const char *kind, int64_t now, int64_t *n,
			   struct fa_err *err)
{
	struct fa_store_count_arg a = { kind, now, n };

	return pg_call(impl, PM_READ, body_count, &a, err);
}

static enum fa_rc body_ping(struct pg_store *s, struct pg_conn *c, void *arg,
			    struct fa_err *err)
{
	PGresult *res = NULL;
	enum fa_rc rc;

	(void)arg;
	rc = pg_exec(s, c, PS_PING, NULL, NULL, NULL, &res, "ping", err);
	PQclear(res);
	return rc;
}

static enum fa_rc pg_ping(void *impl, struct fa_err *err)
{
	return pg_call(impl, PM_READ, body_ping, NULL, err);
}

static void pg_free(void *impl)
{
	struct pg_store *s = impl;

	if (!s)
		return;
	for (unsigned i = 0; i < FA_STORE_PG_MAX_POOL; i++)
		conn_close(&s->conn[i]);
	if (s->locks > 1)
		pthread_cond_destroy(&s->cv);
	if (s->locks > 0)
		pthread_mutex_destroy(&s->mu);
	for (size_t i = 0; i < s->nkv; i++) {
		free(s->keys[i]);
		fa_free_secret(s->vals[i]);
	}
	free(s);
}

static const struct fa_store_ops pg_ops = {
	.name = "postgres",
	.get = pg_get,
	.apply = pg_apply,
	.incr = pg_incr,
	.purge = pg_purge,
	.count = pg_count,
	.ping = pg_ping,
	.free = pg_free,
};

/* ---- open and migrate ----------------------------------------------------------------- */

/* Runs a one-value query of the migration (text results). */
static enum fa_rc mig_query(struct pg_store *s, struct pg_conn *c, const char *sql,
			    const char *what, PGresult **out, struct fa_err *err)
{
	PGresult *res = PQexec(c->pc, sql);
	enum fa_rc rc = pg_check(s, c, res, what, err);

	if (rc != FA_OK) {
		PQclear(res);
		res = NULL;
	}
	*out = res;
	return rc;
}

static enum fa_rc mig_exec(struct pg_store *s, struct pg_conn *c, const char *sql,
			   const char *what, struct fa_err *err)
{
	PGresult *res = NULL;
	enum fa_rc rc = mig_query(s, c, sql, what, &res, err);

	PQclear(res);
	return rc;
}

/* The schema version, 0 when flyteauth_schema is empty. */
static enum fa_rc mig_version(struct pg_store *s, struct pg_conn *c, int64_t *v,
			      struct fa_err *err)
{
	PGresult *res = NULL;
	enum fa_rc rc;
	uint64_t u = 0;
	const char *t;

	*v = 0;
	rc = mig_query(s, c, "SELECT version FROM flyteauth_schema", "schema version", &res, err);
	if (rc != FA_OK)
		return rc;
	if (PQntuples(res) > 1) {
		rc = fa_err_set(err, FA_EUNSUPPORTED, "postgres %s: flyteauth_schema has %d rows; "
				"it was not written by flyteauth", s->where, PQntuples(res));
	} else if (PQntuples(res) == 1) {
		t = PQgetvalue(res, 0, 0);
		if (fa_parse_u64(t, strlen(t), INT32_MAX, &u) != FA_OK)
			rc = fa_err_set(err, FA_EUNSUPPORTED, "postgres %s: schema version %.16s "
					"was not written by flyteauth", s->where, t);
		*v = (int64_t)u;
	}
	PQclear(res);
	return rc;
}

/* Brings the schema to ARRAY_LEN(pg_migrations) in one transaction. The
 * advisory lock makes instances starting together take turns: the first
 * migrates, the others then find the version current. READ COMMITTED, so
 * that a turn taken after the lock sees what the previous turn committed. */
static enum fa_rc pg_migrate(struct pg_store *s, struct pg_conn *c, struct fa_err *err)
{
	const int64_t known = (int64_t)ARRAY_LEN(pg_migrations);
	char sql[96];
	int64_t v = 0;
	enum fa_rc rc;

	/* client_min_messages: "already exists, skipping" is the normal case
	 * of every start but the first, not news. */
	if ((rc = pg_simple(s, c, "BEGIN ISOLATION LEVEL READ COMMITTED", "BEGIN", err)) != FA_OK ||
	    (rc = mig_exec(s, c, "SET LOCAL client_min_messages = warning", "settings",
			   err)) != FA_OK ||
	    (rc = mig_exec(s, c, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")",
			   "migration lock", err)) != FA_OK ||
	    (rc = mig_exec(s, c, "CREATE TABLE IF NOT EXISTS flyteauth_schema"
			   " (version integer NOT NULL)", "schema table", err)) != FA_OK ||
	    (rc = mig_version(s, c, &v, err)) != FA_OK)
		goto out;
	if (v > known) {
		rc = fa_err_set(err, FA_EUNSUPPORTED,
				"postgres: schema version %lld is newer than this flyteauth knows "
				"(%lld); upgrade flyteauth: %s", (long long)v, (long long)known,
				s->where);
		goto out;
	}
	for (int64_t i = v; i < known; i++) {
		char what[48];

		snprintf(what, sizeof(what), "schema step %lld", (long long)(i + 1));
		if ((rc = mig_exec(s, c, pg_migrations[i], what, err)) != FA_OK)
			goto out;
	}
	if (v == known) {
		rc = pg_simple(s, c, "COMMIT", "COMMIT", err);
		goto out;
	}
	if (v == 0)
		snprintf(sql, sizeof(sql), "INSERT INTO flyteauth_schema VALUES (%lld)",
			 (long long)known);
	else
		snprintf(sql, sizeof(sql), "UPDATE flyteauth_schema SET version = %lld",
			 (long long)known);
	if ((rc = mig_exec(s, c, sql, "schema version", err)) != FA_OK ||
	    (rc = pg_simple(s, c, "COMMIT", "COMMIT", err)) != FA_OK)
		goto out;
	fa_log(s->log, FA_LOG_INFO, "postgres %s: schema upgraded from version %lld to %lld",
	       s->where, (long long)v, (long long)known);
out:
	if (rc != FA_OK)
		pg_rollback(s, c);
	return rc;
}

/* Sets keyword k to a copy of v, replacing an earlier value of it. */
static enum fa_rc kv_set(struct pg_store *s, const char *k, const char *v, struct fa_err *err)
{
	char *copy;
	size_t i;

	for (i = 0; i < s->nkv; i++)
		if (strcmp(s->keys[i], k) == 0)
			break;
	if (i == s->nkv && s->nkv == PG_MAX_KV)
		return fa_err_set(err, FA_ETOOBIG, "postgres: more than %d connection settings",
				  PG_MAX_KV);
	copy = strdup(v);
	if (!copy)
		return fa_err_set(err, FA_ENOMEM, "postgres: out of memory");
	if (i < s->nkv) {
		fa_free_secret(s->vals[i]);
		s->vals[i] = copy;
		return FA_OK;
	}
	s->keys[i] = strdup(k);
	if (!s->keys[i]) {
		fa_free_secret(copy);
		return fa_err_set(err, FA_ENOMEM, "postgres: out of memory");
	}
	s->vals[i] = copy;
	s->nkv++;
	return FA_OK;
}

static const char *kv_get(const struct pg_store *s, const char *k)
{
	for (size_t i = 0; i < s->nkv; i++)
		if (strcmp(s->keys[i], k) == 0)
			return s->vals[i];
	return NULL;
}

/* Reads the password file: trimmed, bounded, never echoed. */
static enum fa_rc read_password(const char *path, char **out, struct fa_err *err)
{
	char *data = NULL;
	size_t len = 0, start = 0;
	int e = 0;
	enum fa_rc rc;

	*out = NULL;
	rc = fa_file_read(path, FA_STORE_PG_MAX_PASSWORD, &data, &len, &e);
	if (rc == FA_ETOOBIG)
		return fa_err_set(err, rc, "postgres: password file %s is over %d bytes", path,
				  FA_STORE_PG_MAX_PASSWORD);
	if (rc == FA_ENOTFOUND || rc == FA_EIO)
		return fa_err_set(err, rc, "postgres: cannot read the password file %s: %s", path,
				  strerror(e));
	if (rc != FA_OK)
		return fa_err_set(err, rc, "postgres: cannot read the password file %s", path);
	while (len > 0 && strchr(" \t\r\n", data[len - 1]))
		data[--len] = '\0';
	while (start < len && strchr(" \t\r\n", data[start]))
		start++;
	if (start == len || memchr(data + start, '\0', len - start)) {
		fa_free_secret(data);
		return fa_err_set(err, FA_EINVAL, "postgres: the password file %s is empty or "
				  "not text", path);
	}
	memmove(data, data + start, len - start + 1);
	*out = data;
	return FA_OK;
}

/* Our defaults, then the keys, then the options string (see store.h). */
static enum fa_rc build_conninfo(struct pg_store *s, const struct fa_store_pg_opts *o,
				 struct fa_err *err)
{
	/* connect_timeout: the longest a request waits for a database that
	 * does not answer. TCP keepalives and tcp_user_timeout: a peer that
	 * vanished (no RST) breaks a connection in ~15 s, not the kernel's
	 * ~15 minutes. */
	static const char *const defaults[][2] = {
		{ "connect_timeout", "5" },
		{ "application_name", "flyteauth" },
		{ "keepalives", "1" },
		{ "keepalives_idle", "30" },
		{ "keepalives_interval", "10" },
		{ "keepalives_count", "3" },
		{ "tcp_user_timeout", "15000" },
	};
	static const char *const named[] = { "host", "port", "dbname", "user", "password" };
	PQconninfoOption *parsed = NULL;
	const char *vals[ARRAY_LEN(named)];
	char *password = NULL, port[8];
	enum fa_rc rc = FA_OK;
	size_t i;

	if (o->password_path && *o->password_path &&
	    (rc = read_password(o->password_path, &password, err)) != FA_OK)
		goto out;
	snprintf(port, sizeof(port), "%d", o->port);
	vals[0] = o->host;
	vals[1] = o->port ? port : NULL;
	vals[2] = o->dbname;
	vals[3] = o->user;
	vals[4] = password ? password : o->password;
	for (i = 0; i < ARRAY_LEN(defaults) && rc == FA_OK; i++)
		rc = kv_set(s, defaults[i][0], defaults[i][1], err);
	for (i = 0; i < ARRAY_LEN(named) && rc == FA_OK; i++)
		if (vals[i] && *vals[i])
			rc = kv_set(s, named[i], vals[i], err);
	if (rc != FA_OK || !o->options || !*o->options)
		goto out;
	/* libpq's own parser: the syntax psql takes, and only keywords libpq
	 * knows. Its message is not passed on: it quotes the text near the
	 * mistake, which may be a password. */
	parsed = PQconninfoParse(o->options, NULL);
	if (!parsed) {
		rc = fa_err_set(err, FA_EINVAL, "postgres: options is not a libpq connection "
				"string (keyword=value pairs, or a postgresql:// URI)");
		goto out;
	}
	for (PQconninfoOption *p = parsed; p->keyword && rc == FA_OK; p++)
		if (p->val)
			rc = kv_set(s, p->keyword, p->val, err);
out:
	if (parsed) {
		/* The parsed copy may hold a password too. */
		for (PQconninfoOption *p = parsed; p->keyword; p++)
			if (p->val)
				fa_memzero(p->val, strlen(p->val));
		PQconninfoFree(parsed);
	}
	fa_free_secret(password);
	return rc;
}

/* "host:port/dbname" as libpq will use them, for messages (never the
 * user or password). */
static void describe(struct pg_store *s)
{
	const char *host = kv_get(s, "host"), *port = kv_get(s, "port");
	const char *db = kv_get(s, "dbname");

	snprintf(s->where, sizeof(s->where), "%.64s%s%.8s/%.48s",
		 host ? host : "(default host)", port ? ":" : "", port ? port : "",
		 db ? db : "(default database)");
}

static enum fa_rc check_opts(const struct fa_store_pg_opts *o, struct fa_err *err)
{
	static const struct { const char *name; size_t off; size_t max; } strs[] = {
		{ "host", offsetof(struct fa_store_pg_opts, host), FA_STORE_PG_MAX_SETTING },
		{ "dbname", offsetof(struct fa_store_pg_opts, dbname), FA_STORE_PG_MAX_SETTING },
		{ "username", offsetof(struct fa_store_pg_opts, user), FA_STORE_PG_MAX_SETTING },
		{ "password", offsetof(struct fa_store_pg_opts, password), FA_STORE_PG_MAX_SETTING },
		{ "passwordPath", offsetof(struct fa_store_pg_opts, password_path),
		  FA_STORE_PG_MAX_SETTING },
		{ "options", offsetof(struct fa_store_pg_opts, options), FA_STORE_PG_MAX_OPTIONS },
	};

	if (o->port < 0 || o->port > 65535)
		return fa_err_set(err, FA_EINVAL, "postgres: port %d is not in 1..65535", o->port);
	if (o->pool_size > FA_STORE_PG_MAX_POOL)
		return fa_err_set(err, FA_ETOOBIG, "postgres: pool of %u connections is over %d",
				  o->pool_size, FA_STORE_PG_MAX_POOL);
	for (size_t i = 0; i < ARRAY_LEN(strs); i++) {
		const char *v = *(const char *const *)((const char *)o + strs[i].off);

		if (v && strnlen(v, strs[i].max + 1) > strs[i].max)
			return fa_err_set(err, FA_ETOOBIG, "postgres: %s is over %zu bytes",
					  strs[i].name, strs[i].max);
	}
	return FA_OK;
}

enum fa_rc fa_store_open_postgres(const struct fa_store_pg_opts *opts,
				  const struct fa_log *log, struct fa_store **out,
				  struct fa_err *err)
{
	struct pg_store *s = NULL;
	enum fa_rc rc;

	fa_err_clear(err);
	if (out)
		*out = NULL;
	if (!opts || !out) {
		rc = fa_err_set(err, FA_EINVAL, "postgres: no settings or output");
		goto out;
	}
	if ((rc = check_opts(opts, err)) != FA_OK)
		goto out;
	if (!PQisthreadsafe()) {
		rc = fa_err_set(err, FA_ESTORE, "postgres: libpq built without thread support");
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = fa_err_set(err, FA_ENOMEM, "postgres: out of memory");
		goto out;
	}
	s->log = log;
	s->pool = opts->pool_size ? opts->pool_size : FA_STORE_PG_DEFAULT_POOL;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		rc = fa_err_set(err, FA_ENOMEM, "postgres: cannot create locks");
		goto out;
	}
	s->locks = 1;
	if (pthread_cond_init(&s->cv, NULL) != 0) {
		rc = fa_err_set(err, FA_ENOMEM, "postgres: cannot create locks");
		goto out;
	}
	s->locks = 2;
	if ((rc = build_conninfo(s, opts, err)) != FA_OK)
		goto out;
	describe(s);
	/* Connection 0 migrates before anyone else can use the store; a
	 * database that cannot be reached now fails the start, loudly. */
	if ((rc = conn_open(s, &s->conn[0], err)) != FA_OK ||
	    (rc = pg_migrate(s, &s->conn[0], err)) != FA_OK)
		goto out;
	s->slot[0] = SLOT_IDLE;
	rc = fa_store_new(&pg_ops, s, log, out, err);
	s = NULL;   /* fa_store_new owns it now, even on failure */
out:
	pg_free(s);
	return rc;
}
